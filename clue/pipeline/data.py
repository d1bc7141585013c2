"""Finding each task's data file: explicit paths, a data folder, or the task's bundled demo file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from clue.core.errors import UsageError
from clue.tasks.base import Task
from clue.tasks.registry import get_task


def candidates(task: Task, data_dir: Path) -> list[Path]:
    """Where a data folder may hold a task's file: its expected name or another it declares, in DIR or DIR/<task>."""
    files = task.declaration.files
    names = (files.expected, *files.alternatives)
    return [folder / name for folder in (data_dir, data_dir / task.name) for name in names]


def locate(task: Task, explicit: Mapping[str, Path], data_dir: Path | None) -> tuple[Path, str]:
    """The file to read for ``task`` and where it came from ("explicit", "task-file", "data-dir", "demo")."""
    name = task.name
    if name in explicit:
        return Path(explicit[name]), "explicit"
    own = task.own_data_file()
    if own is not None:
        return own, "task-file"
    if data_dir is not None:
        for path in candidates(task, data_dir):
            if path.is_file():
                return path, "data-dir"
        raise UsageError(
            f"{name}: no data file in {data_dir} (looked for {task.expected_file} there and in {data_dir / name}); "
            f"give it with --data {name}=PATH"
        )
    demo = task.demo_path()
    if demo is None:
        raise UsageError(f"{name}: no demo file is bundled with this task; give its data with --data {name}=PATH")
    return demo, "demo"


def locate_all(
    tasks: list[Task], explicit: Mapping[str, Path], data_dir: Path | None
) -> dict[str, tuple[Path, str]]:
    """``locate`` for every task; when files are missing, one error that names all of them."""
    found: dict[str, tuple[Path, str]] = {}
    missing: list[str] = []
    for task in tasks:
        try:
            found[task.name] = locate(task, explicit, data_dir)
        except UsageError as exc:
            missing.append(f"  {task.name}: {task.expected_file}" if data_dir is not None and task.name not in explicit else f"  {exc}")
    if missing:
        where = f" in {data_dir} (or its <task>/ subfolders)" if data_dir is not None else ""
        raise UsageError(
            f"no data file for {len(missing)} task(s){where}:\n" + "\n".join(missing)
            + "\nput them there under these names, or give each with --data TASK=PATH"
        )
    return found


def parse_data_args(values: list[str] | None) -> dict[str, Path]:
    """``--data TASK=PATH`` options into a mapping."""
    mapping: dict[str, Path] = {}
    for value in values or []:
        task, sep, path = value.partition("=")
        if not sep or not task or not path:
            raise UsageError(f"--data takes TASK=PATH, got {value!r}")
        get_task(task.strip())
        mapping[task.strip()] = Path(path).expanduser()
    return mapping

"""The task registry: the built-in tasks, tasks from installed packages, and tasks users register.

Adding a built-in task is one line in ``BUILTIN`` (and its folder). A package
adds tasks through the entry-point group ``clue.tasks``: each entry point
names a ``Task`` subclass, a ``Task`` instance, or a callable returning one or
a list of them.

A user's own task is a task file (TOML or YAML, ``clue.tasks.userfile``):
``clue.tasks.suite.resolve_tasks`` takes its path wherever it takes a task name and registers
it under the name the file declares.

Installed packages are searched for tasks only when a name is not built in,
or when every task is wanted (listing them, ``all``, a level): reading every
installed package's metadata costs more than the rest of ``clue run``'s start
(bench/bench_startup.py), and a run of built-in tasks does not need it.

Levels are not the registry's: a level score exists only because a suite
names it (``clue.tasks.suite``; CLUE's levels are the ``CLUE`` suite's). A
task's declared ``level`` describes it; it puts no task into a CLUE level.
``--tasks`` (``all``, ``level1``, suites, names, task files) is resolved by
``clue.tasks.suite.resolve_tasks``.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clue.core.errors import UsageError
from clue.core.files import sha256_file
from clue.core.suggest import did_you_mean
from clue.tasks.base import Task
from clue.tasks.userfile import TASK_FILE_SUFFIXES, FileTask
from clue.tasks.userfile import is_task_file as is_task_file

# In the study's order: level 1, then level 2 (which tasks are in CLUE's levels: clue.tasks.suite.CLUE).
BUILTIN: tuple[str, ...] = (
    "clue.tasks.mednli.task:MedNLI",
    "clue.tasks.meqsum.task:MeQSum",
    "clue.tasks.problem_summary.task:ProblemSummary",
    "clue.tasks.medisumqa.task:MeDiSumQA",
    "clue.tasks.medisumcode.task:MeDiSumCode",
    "clue.tasks.longhealth.task:LongHealth",
)
ENTRY_POINT_GROUP = "clue.tasks"

_tasks: dict[str, Task] = {}
_sources: dict[str, str] = {}
_loaded = False  # the built-in tasks
_plugins_loaded = False  # the entry points of installed packages
_plugin_errors: list[str] = []


def _load_object(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _as_tasks(obj: Any, where: str) -> list[Task]:
    """A Task subclass, a Task, or a callable returning Task(s), as a list of Task objects."""
    if isinstance(obj, type) and issubclass(obj, Task):
        return [obj()]
    if isinstance(obj, Task):
        return [obj]
    if callable(obj):
        made = obj()
        found = list(made) if isinstance(made, (list, tuple)) else [made]
        if all(isinstance(t, Task) for t in found):
            return found
    raise UsageError(f"{where}: is not a clue Task, a Task class or a function returning tasks")


def _ensure_builtin() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for path in BUILTIN:
        _add(_as_tasks(_load_object(path), path)[0], "builtin")


def _ensure_loaded() -> None:
    """Every task: the built-in ones, then those of installed packages (read once)."""
    global _plugins_loaded
    _ensure_builtin()
    if _plugins_loaded:
        return
    _plugins_loaded = True
    import importlib.metadata as md

    for ep in md.entry_points(group=ENTRY_POINT_GROUP):
        where = f"entry point {ep.name!r} ({ep.value})"
        try:
            for task in _as_tasks(ep.load(), where):
                _add(task, f"package {ep.dist.name if ep.dist else ep.value}")
        except Exception as exc:  # a broken plugin must not stop clue for every other task
            message = f"{where} could not be loaded: {type(exc).__name__}: {exc}"
            _plugin_errors.append(message)
            warnings.warn(message, stacklevel=2)


def _add(task: Task, source: str) -> None:
    name = task.name
    if name in _tasks and _sources[name] != source:
        raise UsageError(f"task {name!r} from {source} clashes with the one from {_sources[name]}")
    _tasks[name] = task
    _sources[name] = source


def register(task: Task | type[Task], source: str = "registered") -> Task:
    """Add a task (or Task class) to the registry; returns the task object."""
    _ensure_loaded()
    obj = task() if isinstance(task, type) else task
    _add(obj, source)
    return obj


def unregister(name: str) -> None:
    """Remove a task added with ``register`` (tests use it to clean up)."""
    _tasks.pop(name, None)
    _sources.pop(name, None)


def all_tasks() -> dict[str, Task]:
    _ensure_loaded()
    return dict(_tasks)


def source_of(name: str) -> str:
    _ensure_loaded()
    return _sources.get(name, "unknown")


def origin_of(name: str) -> str:
    """Where a task that is already loaded came from: "builtin", "registered", "file PATH", "package DIST".

    Unlike ``source_of`` it reads no installed package's metadata (a run of built-in tasks need not).
    """
    _ensure_builtin()
    return _sources.get(name, "unknown")


def all_builtin_tasks() -> list[Task]:
    """clue's own tasks (no installed package is read)."""
    _ensure_builtin()
    return [_tasks[n] for n, source in _sources.items() if source == "builtin"]


def plugin_errors() -> list[str]:
    _ensure_loaded()
    return list(_plugin_errors)


def get_task(name: str) -> Task:
    task = find_task(name)
    if task is not None:
        return task
    tasks = all_tasks()
    hint = did_you_mean(name, [*tasks, "all"])
    raise UsageError(f"unknown task {name!r}{hint} Known tasks: {', '.join(tasks)}")


def find_task(name: str) -> Task | None:
    """The task of that name, or None; installed packages are read only when no built-in or registered task has it."""
    _ensure_builtin()
    return _tasks.get(name) or all_tasks().get(name)


def load_task_file(path: str | Path) -> Task:
    """Read a task file and register its task (again, if it is already registered from the same file)."""
    resolved = Path(path).expanduser().resolve()
    task = FileTask.from_file(resolved)
    _ensure_loaded()
    _add(task, f"file {resolved}")
    return task


def task_files_in(path: str | Path) -> list[Path]:
    """A task file, or the task files directly in a folder (sorted by name)."""
    path = Path(path).expanduser()
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in TASK_FILE_SUFFIXES)
        if not found:
            raise UsageError(f"{path}: no task files ({', '.join(TASK_FILE_SUFFIXES)}) in this folder")
        return found
    if not path.is_file():
        raise UsageError(f"{path}: no such task file or folder")
    return [path]


def restore_recorded(name: str, declaration: Mapping[str, Any], where: str) -> None:
    """Register a run's task from the task file its manifest recorded, if it is not registered.

    The file must be the one the run used (same sha256), so the same requests are rebuilt.
    """
    task_file = declaration.get("task_file")
    if not task_file or find_task(name) is not None:
        return
    path = Path(str(task_file))
    if not path.is_file():
        raise UsageError(f"{where}: the task file of {name!r}, {path}, is gone")
    if sha256_file(path) != declaration.get("task_file_sha256"):
        raise UsageError(f"{where}: the task file {path} has changed since the run (sha256 differs)")
    task = load_task_file(path)
    if task.name != name:
        raise UsageError(f"{where}: {path} now declares the task {task.name!r}, not {name!r}")


def _reset_for_tests() -> None:  # pragma: no cover - used by tests only
    global _loaded, _plugins_loaded
    _tasks.clear()
    _sources.clear()
    _plugin_errors.clear()
    _loaded = _plugins_loaded = False

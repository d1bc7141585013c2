"""Finding each task's data file: explicit paths, a data folder, or the bundled demo data."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Mapping

from ..errors import UsageError

# Bundled synthetic demo files (clue/datasets/demo), in the real formats.
DEMO_FILES: dict[str, str] = {
    "mednli": "mli_test_v1.jsonl",
    "meqsum": "MeQSum_demo.xlsx",
    "problem_summary": "BioNLP2023-1A-Test.csv",
    "medisumqa": "medisumqa_demo.json",
    "medisumcode": "medisumcode_demo.json",
    "longhealth": "benchmark_v5.json",
}

# Names a data folder may hold for a task, besides the task's expected file.
ALTERNATIVE_NAMES: dict[str, tuple[str, ...]] = {
    "medisumqa": ("medisumqa.jsonl", "MeDiSumQA.json", "MeDiSumQA.jsonl"),
    "medisumcode": ("medisumcode.jsonl", "MeDiSumCode.json", "MeDiSumCode.jsonl"),
}


def demo_path(task: str) -> Path:
    return Path(str(resources.files("clue.datasets").joinpath("demo", DEMO_FILES[task])))


def candidates(task: str, expected_file: str, data_dir: Path) -> list[Path]:
    names = (expected_file, *ALTERNATIVE_NAMES.get(task, ()))
    return [folder / name for folder in (data_dir, data_dir / task) for name in names]


def locate(
    task: str, expected_file: str, explicit: Mapping[str, Path], data_dir: Path | None
) -> tuple[Path, str]:
    """The file to read for ``task`` and where it came from ("explicit", "data-dir", "demo")."""
    if task in explicit:
        return Path(explicit[task]), "explicit"
    if data_dir is not None:
        for path in candidates(task, expected_file, data_dir):
            if path.is_file():
                return path, "data-dir"
        raise UsageError(
            f"{task}: no data file in {data_dir} (looked for {expected_file} there and in {data_dir / task}); "
            f"give it with --data {task}=PATH"
        )
    return demo_path(task), "demo"


def parse_data_args(values: list[str] | None) -> dict[str, Path]:
    """``--data TASK=PATH`` options into a mapping."""
    from ..tasks import get_task

    mapping: dict[str, Path] = {}
    for value in values or []:
        task, sep, path = value.partition("=")
        if not sep or not task or not path:
            raise UsageError(f"--data takes TASK=PATH, got {value!r}")
        get_task(task.strip())
        mapping[task.strip()] = Path(path).expanduser()
    return mapping

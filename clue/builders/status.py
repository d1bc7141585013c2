"""``clue data status``: for each task, what file is expected, whether it is there, and what to do next."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from clue.builders.releases import TaskRelease, known_hash, releases
from clue.core.files import sha256_file
from clue.pipeline.data import candidates
from clue.tasks.registry import all_tasks, get_task

# Datasets clue can build from MIMIC-IV itself (``clue data build``).
BUILDABLE = ("medisumqa", "medisumcode")


@dataclass
class TaskStatus:
    task: str
    access: str  # the task's access class: public / credentialed
    source: str
    expected_file: str
    present: bool
    path: str | None
    sha256: str | None
    release_match: str  # "matches", "differs", "no known hash", "-"
    next_step: str

    def to_dict(self) -> dict:
        return asdict(self)


def task_status(task: str, data_dir: Path, with_hash: bool = True) -> TaskStatus:
    declared = get_task(task)
    release = releases().get(declared.name)
    found = next((p for p in candidates(declared, data_dir) if p.is_file()), None)
    digest = sha256_file(found) if found is not None and with_hash else None
    if found is None:
        match = "-"
    else:
        verdict = known_hash(task, digest) if digest else None
        match = {True: "matches", False: "differs", None: "no known hash"}[verdict]
    return TaskStatus(
        task=task,
        access=declared.access,
        source=release.source if release else "your own file (the task declares no release)",
        expected_file=declared.expected_file,
        present=found is not None,
        path=str(found) if found else None,
        sha256=digest,
        release_match=match,
        next_step=next_step(task, data_dir, found, match, release),
    )


def next_step(task: str, data_dir: Path, found: Path | None, match: str, release: TaskRelease | None) -> str:
    folder = str(data_dir)
    if found is not None:
        if match == "differs":
            return f"the file differs from the known release: `clue data fetch {task} --data-dir {folder} --force`"
        return f"ready: clue run --tasks {task} --data-dir {folder}"
    if release is None:
        return f"put your file in {folder} (or {Path(folder) / task}) as {get_task(task).expected_file}"
    if release.access == "public":
        return f"clue data fetch {task} --data-dir {folder}"
    if release.access == "physionet":
        extra = f" (or build it: clue data build {task} --help)" if task in BUILDABLE else ""
        return (
            f"sign the data use agreement at {release.page}, then "
            f"clue data fetch {task} --data-dir {folder} --username YOU (or --print-steps){extra}"
        )
    return (
        f"build it from MIMIC-IV ({release.page}): clue data build {task} --notes discharge.csv.gz "
        f"--diagnoses diagnoses_icd.csv.gz --out {Path(folder) / release.file}"
    )


def status(data_dir: Path, with_hash: bool = True) -> list[TaskStatus]:
    return [task_status(task, data_dir, with_hash) for task in all_tasks()]

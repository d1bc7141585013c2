"""Where each task's data file comes from, read from the tasks' declarations.

A sha256 is listed only where it was verified against the real file (in the
task's ``Release``). Where it is not known, fetched files are checked by the
task's own loader instead (structure, fields, record count) and the hash seen
is reported, never invented.
"""

from __future__ import annotations

from dataclasses import dataclass

from clue.core.errors import UsageError
from clue.tasks.declaration import Release
from clue.tasks.registry import all_tasks, get_task

# Raw file hosts (not the HTML pages the public download script fetched).
GITHUB_RAW = "https://raw.githubusercontent.com"
PHYSIONET_FILES = "https://physionet.org/files"


@dataclass(frozen=True)
class TaskRelease:
    """A task's release with the task's name and the file name it is saved under."""

    task: str
    file: str  # the task's expected file
    release: Release

    @property
    def access(self) -> str:
        """"public", "physionet" (credentialed download) or "build" (made locally from MIMIC-IV)."""
        return self.release.kind

    @property
    def source(self) -> str:
        return self.release.source

    @property
    def url_path(self) -> str | None:
        return self.release.url_path

    @property
    def sha256(self) -> str | None:
        return self.release.sha256

    @property
    def page(self) -> str:
        return self.release.page

    @property
    def physionet_project(self) -> str | None:
        return self.release.physionet_project


def releases() -> dict[str, TaskRelease]:
    """Every registered task that declares a release."""
    return {
        name: TaskRelease(name, task.expected_file, task.declaration.release)
        for name, task in all_tasks().items()
        if task.declaration.release is not None
    }


def release_of(task: str) -> TaskRelease:
    found = releases().get(get_task(task).name)
    if found is None:
        raise UsageError(f"{task}: the task declares no release to fetch; bring its file yourself (--data {task}=PATH)")
    return found


def fetchable(kind: str) -> tuple[str, ...]:
    """Tasks whose release is of this kind ("public" or "physionet")."""
    return tuple(name for name, r in releases().items() if r.access == kind)


def known_hash(task: str, sha256: str) -> bool | None:
    """True/False against a verified release hash; None where no hash is known."""
    release = releases().get(task)
    if release is None or release.sha256 is None:
        return None
    return release.sha256 == sha256

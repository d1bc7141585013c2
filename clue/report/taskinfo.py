"""What the report needs to know about a task, read from its declaration.

A run may hold a task this installation does not know (a task file the user
ran, a plugin not installed here): its manifest records the declaration the
run used, which is read instead. Nothing here names a task.
"""

from __future__ import annotations

from typing import Any

from clue.core.access import CREDENTIALED
from clue.core.results import Manifest, RunResults
from clue.tasks.registry import all_tasks, find_task
from clue.tasks.suite import CLUE, run_suite

LEVEL_TITLES = {"level1": "Level 1", "level2": "Level 2", "overall": "Overall"}


def task_info(task: str, manifest: Manifest | None = None) -> dict[str, Any]:
    """The task's declaration (``Declaration.describe``): registered, else as the run recorded it."""
    known = find_task(task)
    if known is not None:
        return known.describe()
    recorded = manifest.declaration(task) if manifest is not None else {}
    if recorded:
        return recorded
    return {"task": task, "title": task, "level": None, "access": CREDENTIALED, "metrics": [],
            "paired_binary": [], "resampling_unit": "item"}


UNDECLARED_KIND = "undeclared"


def task_kind(task: str, manifest: Manifest | None = None) -> str:
    """The task's kind (classification, multiple choice, free text, coding) from its declaration.

    Read from the registered declaration's ``kind`` (not from ``describe()``,
    so manifests keep their bytes); a run's recorded declaration may carry a
    ``kind`` too; otherwise ``"undeclared"``, a group of its own in the split.
    """
    known = find_task(task)
    kind = getattr(getattr(known, "declaration", None), "kind", "") if known is not None else ""
    if not kind and manifest is not None:
        kind = str(manifest.declaration(task).get("kind") or "")
    return kind or UNDECLARED_KIND


def task_title(task: str, *manifests: Manifest | None) -> str:
    """The task's title: registered, else as the first of these runs' manifests recorded it."""
    for manifest in manifests or (None,):
        title = task_info(task, manifest).get("title")
        if title and title != task:
            return str(title)
    return task


def task_order() -> tuple[str, ...]:
    """Registered tasks in registry order (the CLUE tasks in the study's order first)."""
    return tuple(all_tasks())


def level_order(*results: RunResults) -> tuple[str, ...]:
    """The level columns: the levels of these runs' suites (a run records none: CLUE), CLUE's when no run is given."""
    suites = [run_suite(r) for r in results] or [CLUE]
    return tuple(dict.fromkeys(level.name for suite in suites for level in suite.levels))


def level_title(level: str, *results: RunResults) -> str:
    """A level column's title: CLUE's ("Level 1", "Overall"), else the title the run's suite gives it."""
    if level in LEVEL_TITLES:
        return LEVEL_TITLES[level]
    for r in results:
        found = run_suite(r).level(level)
        if found is not None:
            return found.title[:1].upper() + found.title[1:]
    return level.replace("level", "Level ")

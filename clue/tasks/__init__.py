"""Tasks: one folder each (``clue/tasks/<name>/``), declared once, read through the registry; suites group them."""

from __future__ import annotations

from clue.tasks.base import BuildContext, Task
from clue.tasks.declaration import Declaration
from clue.tasks.registry import all_tasks, find_task, get_task, register
from clue.tasks.suite import CLUE, Level, Suite, builtin_suites, get_suite, resolve_tasks, suite_levels
from clue.tasks.templates import Templates

__all__ = [
    "CLUE",
    "BuildContext",
    "Declaration",
    "Level",
    "Suite",
    "Task",
    "Templates",
    "all_tasks",
    "builtin_suites",
    "find_task",
    "get_suite",
    "get_task",
    "register",
    "resolve_tasks",
    "suite_levels",
]

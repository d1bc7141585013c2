"""Tasks: one folder each (``clue/tasks/<name>/``), declared once, read through the registry."""

from __future__ import annotations

from clue.tasks.base import BuildContext, Declaration, Task, Templates
from clue.tasks.registry import all_tasks, find_task, get_task, levels, register, resolve_tasks

__all__ = [
    "BuildContext",
    "Declaration",
    "Task",
    "Templates",
    "all_tasks",
    "find_task",
    "get_task",
    "levels",
    "register",
    "resolve_tasks",
]

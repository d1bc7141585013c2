"""Tasks: one folder each (``clue/tasks/<name>/``), declared once, read through the registry."""

from __future__ import annotations

from clue.tasks.base import BuildContext, Task
from clue.tasks.declaration import Declaration
from clue.tasks.registry import all_tasks, find_task, get_task, levels, register, resolve_tasks
from clue.tasks.templates import Templates

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

"""The six CLUE tasks and their registry."""

from __future__ import annotations

from ..errors import UsageError
from .base import CREDENTIALED, PUBLIC, BuildContext, Task, Templates
from .longhealth import LongHealth
from .medisumcode import MeDiSumCode
from .medisumqa import MeDiSumQA
from .mednli import MedNLI
from .meqsum import MeQSum
from .problem_summary import ProblemSummary

# In the study's order: level 1, then level 2.
TASKS: dict[str, type[Task]] = {
    cls.name: cls for cls in (MedNLI, MeQSum, ProblemSummary, MeDiSumQA, MeDiSumCode, LongHealth)
}


def get_task(name: str) -> Task:
    try:
        return TASKS[name]()
    except KeyError:
        raise UsageError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}") from None


def resolve_tasks(spec: str) -> list[str]:
    """'all', 'level1', 'level2' or a comma-separated list of task names."""
    from ..metrics.aggregate import LEVELS

    spec = spec.strip()
    if spec == "all":
        return list(TASKS)
    if spec in LEVELS:
        return list(LEVELS[spec])
    names = [part.strip() for part in spec.split(",") if part.strip()]
    for name in names:
        get_task(name)
    if not names:
        raise UsageError("no tasks given")
    return list(dict.fromkeys(names))


__all__ = ["TASKS", "get_task", "resolve_tasks", "Task", "BuildContext", "Templates", "PUBLIC", "CREDENTIALED"]

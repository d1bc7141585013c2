"""The parameterless baseline: deterministic per-task heuristics, no language model.

It is the leaderboard's floor and the default model on a fresh machine. It
reads no prompt: each task declares its own heuristic (``baseline.py`` in the
task's folder) over the request's structured inputs, and the pipeline hands
the backend one solver per request before generation (``attach_solvers``).
The backend itself knows nothing about tasks, and never sees a gold answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from clue.core.records import Completion, Request
from clue.models.base import Backend

Solver = Callable[[], str]


class InputsBackend(Backend):
    """A backend that answers from each request's structured inputs, through a solver per request."""

    def __init__(self, target: str, options: Mapping[str, Any] | None = None):
        super().__init__(target, options)
        self._solvers: dict[str, Solver] = {}

    def attach_solvers(self, solvers: Mapping[str, Solver]) -> None:
        self._solvers.update(solvers)

    def generate(self, requests: Sequence[Request]) -> Iterator[Completion]:
        for request in requests:
            solver = self._solvers.get(request.id)
            if solver is None:
                yield Completion(request.id, None, error=f"{self.kind} has no answer for this request")
            else:
                yield Completion(request.id, solver())


class BaselineBackend(InputsBackend):
    kind = "baseline"

    def __init__(self, target: str = "baseline", options: Mapping[str, Any] | None = None):
        super().__init__(target, options)

    @classmethod
    def model_id_for(cls, target: str) -> str:
        return "baseline"

    def details(self) -> dict[str, Any]:
        info = super().details()
        info["description"] = "parameterless per-task heuristics (baseline.py in each task's folder)"
        return info

"""``baseline``: the parameterless per-task heuristics, answered like a model but with no model.

Each task declares its heuristic (``baseline.py`` in its folder, ``Task.baseline``);
before generation the pipeline offers every backend each task's answer function
and each request's structured inputs (``Backend.attach``). Models ignore them;
this backend answers with them. It never sees a gold answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any

from clue.core.errors import UsageError
from clue.core.records import Completion, Request
from clue.models.base import Backend, InputsAnswer

DESCRIPTION = "parameterless per-task heuristics (baseline.py in each task's folder)"


class BaselineBackend(Backend):
    kind = "baseline"

    def __init__(self, target: str = "baseline", options: Mapping[str, Any] | None = None):
        super().__init__(target, options)
        self._answers: dict[str, Callable[[], str]] = {}

    @classmethod
    def model_id_for(cls, target: str) -> str:
        return "baseline"

    def attach(self, task: str, answer: InputsAnswer | None, inputs: Mapping[str, Mapping[str, Any]]) -> None:
        if answer is None:
            raise UsageError(f"task {task!r} has no parameterless baseline; run it with a model (--model)")
        self._answers.update({request_id: partial(answer, given) for request_id, given in inputs.items()})

    def generate(self, requests: Sequence[Request]) -> Iterator[Completion]:
        for request in requests:
            answer = self._answers.get(request.id)
            if answer is None:
                yield Completion(request.id, None, error=f"{self.kind} has no answer for this request")
            else:
                yield Completion(request.id, answer())

    def details(self) -> dict[str, Any]:
        return {"description": DESCRIPTION}

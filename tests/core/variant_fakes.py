"""Scripted models for the variant tests: one that answers right under one wording only, one that
spoils every other answer of the parameterless baseline."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

from clue.core.chat import ChatLayout
from clue.core.records import Completion, Request
from clue.models.base import Backend
from clue.models.baseline import BaselineBackend
from clue.tasks import get_task

# The system prompt of MedNLI's second alternative wording begins so.
MARKED_WORDING = "Task: clinical natural language inference"


class WordingSensitive(Backend):
    """A scripted model that knows every MedNLI answer but gives it only under one wording.

    Under any other wording it names a wrong label. It reads only what it is
    sent: the gold label is looked up from the pair of sentences in the last turn.
    """

    kind = "scripted"

    def __init__(self, gold_by_premise: dict[str, str], marker: str = MARKED_WORDING, stop_after: int | None = None):
        super().__init__("wording-sensitive", {})
        self.gold = gold_by_premise
        self.marker = marker
        self.stop_after = stop_after
        self.asked: list[str] = []

    @property
    def layout(self) -> ChatLayout:
        return ChatLayout.SYSTEM

    def generate(self, requests: Sequence[Request]) -> Iterator[Completion]:
        for r in requests:
            if self.stop_after is not None and len(self.asked) >= self.stop_after:
                raise KeyboardInterrupt("killed")
            self.asked.append(r.id)
            last = r.messages[-1].content
            gold = next(g for premise, g in self.gold.items() if premise in last)
            if self.marker in r.messages[0].content:
                yield Completion(r.id, gold.upper())
            else:
                wrong = "NEUTRAL" if gold.upper() != "NEUTRAL" else "ENTAILMENT"
                yield Completion(r.id, wrong)


def mednli_gold() -> dict[str, str]:
    task = get_task("mednli")
    return {it.inputs["sentence1"]: it.gold for it in task.load(task.demo_path())}


class Spoiled(BaselineBackend):
    """The baseline, with every other answer cut to its first half: a worse model on every task."""

    def generate(self, requests: Sequence[Request]) -> Iterator[Completion]:
        for n, completion in enumerate(super().generate(requests)):
            text = completion.text or ""
            yield replace(completion, text=text[: len(text) // 2]) if n % 2 else completion

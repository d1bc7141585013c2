"""The scripted backends: deterministic models that read what they are sent and answer by rule.

- ``FakeBackend``: the generating model of the MeDiSumQA builder (tests/datasets).
- ``WordingSensitive`` and ``Spoiled``: models for the prompt-variant tests (tests/core).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace

from clue.core.chat import ChatLayout
from clue.core.records import Completion, Request
from clue.models.base import Backend
from clue.models.baseline import BaselineBackend
from clue.tasks import get_task

# -- the MeDiSumQA builder's generating model ---------------------------------------------
# A deterministic stand-in for the generating model of the MeDiSumQA builder.
#
# It reads the builder's prompts as a model would: for "statements" it lists
# every non-empty line of the instructions (between the prompt's <<< >>>
# markers) as a bullet; for "questions" (the "- " lines after "Facts:") it writes, for fact k, a question that shares its
# first k words with the fact (so overlap grows with k), and for the last fact
# an answer that is *not* the fact (the builder must reject it). Each answered
# request id is appended to a log file (flushed) so tests can see which calls
# were made; an optional delay lets a test kill the process mid-way.

def fake_question(statement: str, k: int) -> str:
    shared = " ".join(statement.split()[:k])
    return f"{shared} zq{k} what happened then?".strip()


class FakeBackend(Backend):
    kind = "fake"

    def __init__(self, target: str = "fake-model", options=None):
        super().__init__(target, options)
        self.log = self.options.get("log")
        self.delay = float(self.options.get("delay", 0.0))

    def identity(self) -> dict:
        # The log file and delay do not change answers: keep them out of the run store's model key.
        return {"kind": self.kind, "model": self.target}

    def generate(self, requests: Sequence[Request]) -> Iterator[Completion]:
        for request in requests:
            if self.delay:
                time.sleep(self.delay)
            text = self.answer(request)
            if self.log:
                with open(self.log, "a", encoding="utf-8") as fh:
                    fh.write(request.id + "\n")
                    fh.flush()
                    os.fsync(fh.fileno())
            yield Completion(request.id, text)

    @staticmethod
    def answer(request: Request) -> str:
        prompt = request.messages[-1].content
        if request.id.startswith("statements/"):
            instructions = prompt.split("<<<", 1)[1].rsplit(">>>", 1)[0]
            lines = [line.strip() for line in instructions.splitlines() if line.strip()]
            return "Here are the facts:\n" + "\n".join(f"- {line}" for line in lines)
        facts = prompt.split("Facts:", 1)[1]
        statements = [line[2:] for line in facts.splitlines() if line.startswith("- ")]
        out = []
        for k, statement in enumerate(statements):
            answer = statement if k < len(statements) - 1 else statement + " Also something else."
            out.append(f"Question: {fake_question(statement, k)}\nAnswer: {answer}")
        return "\n\n".join(out)


# -- the prompt-variant tests' models --------------------------------------------------------
# Scripted models for the variant tests: one that answers right under one wording only, one that
# spoils every other answer of the parameterless baseline.

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

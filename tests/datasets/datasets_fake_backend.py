"""A deterministic stand-in for the generating model of the MeDiSumQA builder.

It reads the builder's prompts as a model would: for "statements" it lists
every non-empty line of the instructions (between the prompt's <<< >>>
markers) as a bullet; for "questions" (the "- " lines after "Facts:") it writes, for fact k, a question that shares its
first k words with the fact (so overlap grows with k), and for the last fact
an answer that is *not* the fact (the builder must reject it). Each answered
request id is appended to a log file (flushed) so tests can see which calls
were made; an optional delay lets a test kill the process mid-way.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence

from clue.core.records import Completion, Request
from clue.models.base import Backend


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

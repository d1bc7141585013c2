"""LongHealth multiple-choice answers.

Reference parse: the first match of ``The correct answer is (\\w):`` in the
output; no match is wrong. The lenient parse below also accepts common
variations ("answer is B.", "Answer: (C)", an output that starts with a
letter, or that quotes exactly one option's text); it separates format
failures from wrong knowledge and is reported only as a diagnostic.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from clue.metrics.metric import CHOICE, Metric

_REFERENCE = re.compile(r"The correct answer is (\w):")
_LENIENT = (
    re.compile(r"correct answer is:?\s*\(?([A-F])\b", re.IGNORECASE),
    re.compile(r"\banswer\s*(?:is)?\s*[:\-]?\s*\(?([A-F])\)?(?:[:.)\s]|$)", re.IGNORECASE),
    re.compile(r"^\s*\(?([A-F])\)?(?:[:.)]|\s|$)"),
)


def reference_letter(output: str) -> str | None:
    match = _REFERENCE.search(output)
    return match.group(1) if match else None


def lenient_letter(output: str, options: Mapping[str, str]) -> str | None:
    for pattern in _LENIENT:
        match = pattern.search(output)
        if match:
            return match.group(1).upper()
    lowered = output.lower()
    quoted = [letter for letter, text in options.items() if text and text.lower() in lowered]
    return quoted[0] if len(quoted) == 1 else None


class ChoiceAccuracy(Metric):
    """Multiple choice: the letter of the reference parse equals the gold letter."""

    name = "choice_accuracy"
    title = "accuracy"
    answer = CHOICE
    binary = True

    def __init__(self, name: str = "choice_accuracy", answer: str = CHOICE, title: str = "accuracy"):
        self.name, self.answer, self.title = name, answer, title

    def score(self, parsed: Any, gold: Any, output: str) -> float:
        return float(parsed == gold)

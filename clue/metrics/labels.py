"""Label answers: MedNLI's, and any label set a task file declares.

Reference rule: an answer is correct iff the gold label occurs exactly once in
the upper-cased output. It can be gamed (an output naming all three labels
once each is correct whatever the gold), so the first label that occurs in the
output is reported beside it as a stricter diagnostic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from clue.metrics.metric import LABELS, Metric

NLI_LABELS = ("ENTAILMENT", "NEUTRAL", "CONTRADICTION")
_ANY_LABEL = re.compile("|".join(NLI_LABELS))


def reference_correct(output: str, gold: str) -> bool:
    return output.upper().count(gold.upper()) == 1


@lru_cache(maxsize=64)
def _label_pattern(labels: tuple[str, ...]) -> re.Pattern[str]:
    if labels == NLI_LABELS:
        return _ANY_LABEL
    # Longer labels first, so that at one position the longest label wins.
    return re.compile("|".join(re.escape(lab.upper()) for lab in sorted(labels, key=len, reverse=True)))


def first_label(output: str, labels: Sequence[str] = NLI_LABELS) -> str | None:
    """The first of ``labels`` (upper-cased) that occurs in the upper-cased output."""
    match = _label_pattern(tuple(labels)).search(output.upper())
    return match.group(0) if match else None


def labels_named(output: str, labels: Sequence[str] = NLI_LABELS) -> int:
    """How many of ``labels`` occur in the upper-cased output."""
    upper = output.upper()
    return sum(1 for lab in labels if lab.upper() in upper)


class LabelAccuracy(Metric):
    """Accuracy by the reference rule: the gold label occurs exactly once in the upper-cased output."""

    name = "accuracy"
    title = "accuracy"
    answer = LABELS
    binary = True

    def score(self, parsed: Any, gold: Any, output: str) -> float:
        return float(reference_correct(output, str(gold)))

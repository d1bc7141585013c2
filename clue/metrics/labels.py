"""MedNLI answer scoring.

Reference rule: an answer is correct iff the gold label occurs exactly once in
the upper-cased output. It can be gamed (an output naming all three labels
once each is correct whatever the gold), so the first label that occurs in the
output is reported beside it as a stricter diagnostic.
"""

from __future__ import annotations

import re

NLI_LABELS = ("ENTAILMENT", "NEUTRAL", "CONTRADICTION")
_ANY_LABEL = re.compile("|".join(NLI_LABELS))


def reference_correct(output: str, gold: str) -> bool:
    return output.upper().count(gold.upper()) == 1


def first_label(output: str) -> str | None:
    match = _ANY_LABEL.search(output.upper())
    return match.group(0) if match else None

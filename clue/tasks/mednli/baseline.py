"""MedNLI baseline: a negation mismatch between the sentences -> CONTRADICTION; most of the
hypothesis' content words found in the premise -> ENTAILMENT; otherwise NEUTRAL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from clue.tasks.heuristics import content_words

NEGATION = re.compile(r"\b(no|not|denies|denied|without|negative|absent|never|none|normal|unremarkable)\b|n't\b")


def nli(premise: str, hypothesis: str) -> str:
    if bool(NEGATION.search(premise.lower())) != bool(NEGATION.search(hypothesis.lower())):
        return "CONTRADICTION"
    hyp = set(content_words(hypothesis))
    prem = set(content_words(premise))
    overlap = len(hyp & prem) / len(hyp) if hyp else 0.0
    return "ENTAILMENT" if overlap >= 0.5 else "NEUTRAL"


def answer(inputs: Mapping[str, Any]) -> str:
    return nli(inputs["sentence1"], inputs["sentence2"])

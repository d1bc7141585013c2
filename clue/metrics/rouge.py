"""ROUGE-1/2/L F-measure per item, with the ``rouge-score`` package's defaults.

Defaults as in the reference: its own tokenizer (lower-cases, splits on
non-alphanumerics), no stemming. ``rouge-score`` is used directly because the
``evaluate`` wrapper fetches its metric script from a hub at run time.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from clue.metrics.metric import TEXT, Metric

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


@lru_cache(maxsize=1)
def _scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=False)


def rouge(prediction: str, reference: str) -> dict[str, float]:
    """F-measures in [0, 1] keyed ``rouge1``, ``rouge2``, ``rougeL``."""
    scores = _scorer().score(reference, prediction)  # rouge-score takes (target, prediction)
    return {name: scores[name].fmeasure for name in ROUGE_TYPES}


def settings() -> dict[str, object]:
    import importlib.metadata as md

    return {"package": "rouge-score", "version": md.version("rouge-score"), "use_stemmer": False}


@lru_cache(maxsize=256)
def _rouge_cached(prediction: str, reference: str) -> tuple[tuple[str, float], ...]:
    return tuple(rouge(prediction, reference).items())


class Rouge(Metric):
    """One ROUGE F-measure (``rouge1``, ``rouge2`` or ``rougeL``) of the stripped output against the reference."""

    answer = TEXT

    def __init__(self, variant: str):
        if variant not in ROUGE_TYPES:
            raise ValueError(f"ROUGE variant {variant!r}: one of {', '.join(ROUGE_TYPES)}")
        self.name, self.title = variant, f"ROUGE-{variant.removeprefix('rouge')}"

    def score(self, parsed: Any, gold: Any, output: str) -> float:
        # the three variants come from one rouge-score call per pair
        return dict(_rouge_cached(str(parsed), str(gold)))[self.name]

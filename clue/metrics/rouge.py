"""ROUGE-1/2/L F-measure per item, with the ``rouge-score`` package's defaults.

Defaults as in the reference: its own tokenizer (lower-cases, splits on
non-alphanumerics), no stemming. ``rouge-score`` is used directly because the
``evaluate`` wrapper fetches its metric script from a hub at run time.
"""

from __future__ import annotations

from functools import lru_cache

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

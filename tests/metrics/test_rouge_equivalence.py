"""ROUGE through clue equals the rouge-score package exactly, over many generated pairs."""

from __future__ import annotations

import random

from rouge_score import rouge_scorer

from clue.metrics.rouge import ROUGE_TYPES, rouge

WORDS = ["pain", "Chest", "chest", "SOB", "x-ray", "3.5", "mg/dL", "fever,", "(COPD)", "the", "of", "café",
         "naïve", "pt.", "—", "", "b12", "ICD-10", "E11.9", "it's", "and/or", "days;", "HbA1c"]


def test_equal_to_rouge_score_on_generated_text():
    gen = random.Random(0)
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=False)
    for _ in range(300):
        pred = " ".join(gen.choice(WORDS) for _ in range(gen.randint(0, 25)))
        ref = " ".join(gen.choice(WORDS) for _ in range(gen.randint(0, 25)))
        expected = scorer.score(ref, pred)  # rouge-score's order: (target, prediction)
        got = rouge(pred, ref)
        for name in ROUGE_TYPES:
            assert got[name] == expected[name].fmeasure, (pred, ref, name)

"""MeDiSumQA baseline: the letter's sentence that shares the most content words with the
question (ties: the earlier sentence).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from clue.tasks.heuristics import content_words, sentences


def closest_sentence(letter: str, question: str) -> str:
    wanted = Counter(content_words(question))
    best, best_score = "", 0.0
    for sentence in sentences(letter):
        if "___" in sentence and len(sentence) < 30:
            continue
        words = set(content_words(sentence))
        score = sum(count for word, count in wanted.items() if word in words)
        if score > best_score:
            best, best_score = sentence, score
    return best or (sentences(letter) or [""])[0]


def answer(inputs: Mapping[str, Any]) -> str:
    return closest_sentence(inputs["letter"], inputs["question"])

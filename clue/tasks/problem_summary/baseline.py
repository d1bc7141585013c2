"""Problem Summary baseline: the diagnoses the Assessment names (ICD-10-CM descriptions and
common abbreviations, as for MeDiSumCode); else its first clauses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from clue.tasks.heuristics import find_diagnoses, sentences


def problems(assessment: str) -> str:
    """Diagnoses named in the assessment; without any, its first clauses."""
    named = [name for _, name in find_diagnoses(assessment)]
    if named:
        return ", ".join(named)
    picked: list[str] = []
    for sentence in sentences(assessment)[:3]:
        clause = re.split(r",|;|\bwho\b|\bwith\b|\bs/p\b", sentence, maxsplit=1)[0]
        clause = re.sub(r"^\s*(\d+[.)]|[-*•])\s*", "", clause).strip(" .")
        if clause and clause not in picked:
            picked.append(clause)
    return ", ".join(picked) if picked else " ".join(assessment.split()[:30])


def answer(inputs: Mapping[str, Any]) -> str:
    return problems(inputs["assessment"])

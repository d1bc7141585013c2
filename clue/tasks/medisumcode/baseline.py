"""MeDiSumCode baseline: ICD-10-CM codes whose description (or a common clinical abbreviation
of it) occurs in the letter, preferring the discharge-diagnosis section when the letter has one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from clue.tasks.heuristics import find_diagnoses

_SECTION = re.compile(r"discharge diagnos[ie]s\s*:?(.*?)(?:\n\s*\n[A-Z][A-Za-z ]+:|discharge condition|$)", re.I | re.S)


def code_letter(text: str) -> list[str]:
    section = _SECTION.search(text)
    scope = section.group(1) if section and section.group(1).strip() else text
    return [code for code, _ in find_diagnoses(scope)][:12]


def answer(inputs: Mapping[str, Any]) -> str:
    return "ICD-10 Codes: " + ", ".join(code_letter(inputs["text"]))

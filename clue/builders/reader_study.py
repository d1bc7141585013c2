"""The clin-summ reader study (Van Veen et al. 2024) as RATINGS for ``clue agreement``.

``result.xlsx`` has one row per physician and a column ``{sample}_{q}`` per sample
and question (1 completeness, 2 correctness, 3 conciseness; -2..2). Where
``blind_order.json`` says a sample's two summaries were shown swapped, its scores
are multiplied by -1 (the study's own instruction), so that a positive score
always means the model's summary was preferred to the reference.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from clue.core.errors import UsageError
from clue.formats.ratings import Rating

CRITERIA = {"1": "completeness", "2": "correctness", "3": "conciseness"}
_COLUMN = re.compile(r"^(\d+)_([123])$")


def convert(xlsx: Path, blind_order: Path | None = None) -> list[Rating]:
    """One rating per physician, sample and criterion (empty cells are left out); raters are reader1..readerN."""
    import pandas as pd

    if not xlsx.is_file():
        raise UsageError(f"{xlsx}: no such file")
    order_path = blind_order or xlsx.with_name("blind_order.json")
    swapped: dict[str, int] = {}
    if order_path.is_file():
        swapped = {str(k): int(v) for k, v in json.loads(order_path.read_text(encoding="utf-8")).items()}
    elif blind_order is not None:
        raise UsageError(f"{blind_order}: no such file")
    sheet = pd.read_excel(xlsx)
    columns = [(c, _COLUMN.match(str(c))) for c in sheet.columns]
    rated = [(c, m.group(1), CRITERIA[m.group(2)]) for c, m in columns if m]
    if not rated:
        raise UsageError(f"{xlsx}: no {{sample}}_{{question}} columns: not the reader study's result sheet")
    ratings: list[Rating] = []
    for n, (_, row) in enumerate(sheet.iterrows(), 1):
        for column, sample, criterion in rated:
            value = row[column]
            if pd.isna(value):
                continue
            sign = -1 if swapped.get(sample) == 1 else 1
            ratings.append(Rating(sample, f"reader{n}", sign * float(value) + 0.0, criterion))  # + 0.0: no -0
    return ratings

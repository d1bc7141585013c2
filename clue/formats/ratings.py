"""RATINGS files: one rating per row, ``item, rater, score`` and an optional ``criterion`` (CSV or JSONL).

``clue agreement`` reads them; the reader-study converter and ``clue data reader-study`` write them.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clue.core.errors import UsageError

ALL = "all"  # the criterion of ratings files without a criterion column


@dataclass
class Rating:
    item: str
    rater: str
    score: float
    criterion: str = ALL


def read_ratings(path: Path) -> list[Rating]:
    """The ratings of a CSV or JSONL file; a bad row is an error naming its line."""
    if not path.is_file():
        raise UsageError(f"{path}: no such ratings file")
    rows: list[tuple[int, dict[str, Any]]] = []
    if path.suffix.lower() in (".jsonl", ".json"):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    rows.append((n, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise UsageError(f"{path}:{n}: not JSON: {exc}") from exc
    else:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = [(n, row) for n, row in enumerate(csv.DictReader(fh), 2)]
    ratings: list[Rating] = []
    seen: set[tuple[str, str, str]] = set()
    for n, row in rows:
        if not isinstance(row, dict) or any(k not in row for k in ("item", "rater", "score")):
            raise UsageError(f"{path}:{n}: a rating needs item, rater and score")
        if row["score"] in (None, ""):
            continue  # an empty cell: that rater did not rate the item
        try:
            score = float(row["score"])
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{path}:{n}: score {row['score']!r} is not a number") from exc
        rating = Rating(str(row["item"]), str(row["rater"]), score, str(row.get("criterion") or ALL))
        key = (rating.criterion, rating.item, rating.rater)
        if key in seen:
            raise UsageError(f"{path}:{n}: rater {rating.rater!r} rated item {rating.item!r} twice ({rating.criterion})")
        seen.add(key)
        ratings.append(rating)
    if not ratings:
        raise UsageError(f"{path}: no ratings")
    return ratings


def write_ratings(path: Path, ratings: Sequence[Rating]) -> None:
    """RATINGS as CSV (``.csv``) or JSONL (any other suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["item", "rater", "score", "criterion"])
            for r in ratings:
                writer.writerow([r.item, r.rater, f"{r.score:g}", r.criterion])
    else:
        path.write_text("".join(json.dumps({"item": r.item, "rater": r.rater, "score": r.score,
                                            "criterion": r.criterion}) + "\n" for r in ratings), encoding="utf-8")

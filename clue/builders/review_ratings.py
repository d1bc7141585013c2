"""Clinicians' review sheets (``clue data review export``) as RATINGS for ``clue agreement``.

Each sheet is one reviewer's (the rater is the file's stem unless named). A verdict
becomes an ordinal score under the criterion ``review``: keep 2, edit 1, drop 0, so
several clinicians' sheets of the same pairs say how far they agree on which pairs
are fit to keep (read nominal and ordinal alpha).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from clue.builders.review import read_review
from clue.core.errors import UsageError
from clue.formats.ratings import Rating

SCORES = {"keep": 2.0, "edit": 1.0, "drop": 0.0}
CRITERION = "review"


def sheets_to_ratings(sheets: Sequence[Path], raters: Sequence[str] = ()) -> list[Rating]:
    if raters and len(raters) != len(sheets):
        raise UsageError(f"--rater given {len(raters)} time(s) for {len(sheets)} sheet(s): name every sheet's rater or none")
    names = list(raters) or [p.stem for p in sheets]
    if len(set(names)) != len(names):
        raise UsageError(f"two sheets have the same rater ({', '.join(names)}); name them with --rater")
    ratings: list[Rating] = []
    for sheet, rater in zip(sheets, names):
        for item, verdict in read_review(sheet).items():
            ratings.append(Rating(item, rater, SCORES[verdict.verdict], CRITERION))
    return ratings

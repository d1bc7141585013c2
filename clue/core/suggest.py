""""Did you mean ...?" for a mistyped name: case first (``MedNLI`` is ``mednli``), then spelling."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The choice ``word`` most likely meant: the same name in another case, else the closest spelling."""
    options = list(dict.fromkeys(choices))
    folded = {c.casefold(): c for c in options}
    if word.casefold() in folded:
        return folded[word.casefold()]
    close = difflib.get_close_matches(word.casefold(), list(folded), n=1, cutoff=cutoff)
    return folded[close[0]] if close else None


def did_you_mean(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """``"; did you mean 'x'?"``, or ``""`` when nothing is close."""
    match = closest(word, choices, cutoff)
    return f"; did you mean {match!r}?" if match is not None else ""

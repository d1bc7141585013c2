"""Cells and files every report table shares: CSV that round-trips and resists formula injection,
Markdown that shows names literally, score cells, atomic text files."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from clue.core.files import atomic_writer


def csv_text(header: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """CSV of the ``header`` columns of each row; floats written to round-trip exactly."""
    lines = [csv_row([csv_value(col) for col in header])]
    lines += [csv_row([csv_value(row.get(col)) for col in header]) for row in rows]
    return "".join(lines)


# A cell holding one of these is quoted. The csv module quotes only the characters of its line
# terminator ("\n" here), not a carriage return, which spreadsheets and csv readers also end a row at.
_QUOTE = (",", '"', "\n", "\r")


def csv_row(cells: Sequence[str]) -> str:
    """One CSV line (the csv module's minimal quoting, plus any cell with a carriage return)."""
    if len(cells) == 1 and cells[0] == "":
        return '""\n'  # as csv writes it: an empty line would be no row
    return ",".join('"' + c.replace('"', '""') + '"' if any(q in c for q in _QUOTE) else c for c in cells) + "\n"


# A spreadsheet reads a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_value(value: Any) -> str:
    """A CSV cell: numbers written to round-trip exactly; text that a spreadsheet would run as a formula
    (a run folder named ``=HYPERLINK(...)``) is prefixed with ``'``, the OWASP rule, and so is each line of
    it that starts like one."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # round-trips exactly
    if isinstance(value, int):
        return str(value)
    text = str(value)
    text = "'" + text if text.startswith(FORMULA_STARTS) else text
    # The same for each line of the cell: a reader that ends rows at a line break inside quotes would start one there.
    return _LINE_FORMULA.sub(lambda m: m[1] + "'" + m[2], text)


_LINE_FORMULA = re.compile(r"(\r\n|\r|\n)([=+\-@\t])")


def fmt_score(score: float | None, complete: bool | None = True, ci: Sequence[float] | None = None) -> str:
    if score is None:
        return "–"
    text = f"{score:.2f}" + ("" if complete or complete is None else "*")
    if ci:
        text += f" [{ci[0]:.1f}, {ci[1]:.1f}]"
    return text


MD_SPECIALS = "\\`*_[]|~"


def md_text(text: str) -> str:
    """A name as literal Markdown table text: HTML escaped, Markdown specials backslashed, one line."""
    text = " ".join(str(text).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "".join("\\" + ch if ch in MD_SPECIALS else ch for ch in text)


def write_text(path: Path, text: str) -> Path:
    with atomic_writer(path) as fh:
        fh.write(text)
    return path

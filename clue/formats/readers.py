"""Readers for the distribution formats (CSV, xlsx, JSON array, JSONL).

Each reader validates as it goes and raises ``DataError`` naming the file,
the record (line, row or index) and the field, so that a bad record stops the
run instead of silently becoming a zero score.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from clue.core.errors import DataError
from clue.core.files import BOM, decode_utf8, json_loads, read_jsonl


def _check_file(path: Path) -> None:
    if not path.exists():
        raise DataError(path, "file not found")
    if path.is_dir():
        raise DataError(path, "is a directory, expected a file")
    if path.stat().st_size == 0:
        raise DataError(path, "file is empty")


def read_table(
    path: str | Path,
    columns: Mapping[str, Sequence[str]],
) -> list[tuple[str, dict[str, str]]]:
    """Read a CSV or xlsx table.

    ``columns`` maps each wanted name to the header names accepted for it
    (e.g. ``{"subjective": ["Subjectives", "Subjective Sections"]}``). Returns
    (row label, {wanted name: text}) pairs; row labels count the header as
    row 1, as a spreadsheet does. Empty cells become "".
    """
    import pandas as pd

    path = Path(path)
    _check_file(path)
    try:
        if path.suffix.lower() in {".xlsx", ".xlsm", ".xls"}:
            frame = pd.read_excel(path, dtype=str, keep_default_na=False)
        else:
            decode_utf8(path, path.read_bytes())  # names the line of a bad byte; a BOM is accepted below
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except DataError:
        raise
    except Exception as exc:  # pandas/openpyxl raise many types for unreadable files
        kind = "an xlsx workbook" if path.suffix.lower().startswith(".xls") else "a CSV file"
        raise DataError(path, f"cannot read as {kind} ({type(exc).__name__}: {exc})") from None
    header = [str(c).strip() for c in frame.columns]
    frame.columns = header
    chosen: dict[str, str] = {}
    for wanted, accepted in columns.items():
        found = next((name for name in accepted if name in header), None)
        if found is None:
            raise DataError(
                path,
                f"missing column; expected one of {list(accepted)}, found {header}",
                field=accepted[0],
            )
        chosen[wanted] = found
    if frame.empty:
        raise DataError(path, "table has a header but no rows")
    rows = []
    for index, record in enumerate(frame.to_dict(orient="records")):
        label = f"row {index + 2}"
        cells = {}
        for wanted, column in chosen.items():
            value = record[column]
            if value is None or (isinstance(value, float) and math.isnan(value)):
                value = ""  # an empty cell (a reader may give NaN for it), never the text "nan"
            cells[wanted] = check_unicode(path, label, column, str(value))
        rows.append((label, cells))
    return rows


# The cell texts pandas reads as missing by default (``read_excel``/``read_csv`` without
# ``keep_default_na=False``: pandas' STR_NA_VALUES); formatted into a prompt, such a cell is "nan".
PANDAS_NA_TEXTS = frozenset({
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>",
    "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
})


def as_pandas_default(value: str) -> str:
    """``value`` as a table read with pandas' default NA parsing puts it in a ``str.format``: NA cells give "nan"."""
    return "nan" if value in PANDAS_NA_TEXTS else value


def check_unicode(path: Path | str, label: str, field: str, value: str) -> str:
    """``value`` if it is valid Unicode text; a lone surrogate (JSON ``"\\ud800"``) cannot be encoded."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise DataError(
            path, f"invalid Unicode: a lone surrogate \\u{ord(value[exc.start]):04x} at character {exc.start + 1}",
            record=label, field=field,
        ) from None
    return value


def _nonfinite(value: float) -> str:
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def check_values(path: Path | str, label: str, value: Any, field: str | None = None) -> None:
    """Every string in a record is valid Unicode and every number finite; names the field that is not."""
    if isinstance(value, str):
        check_unicode(path, label, field or "(record)", value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise DataError(path, f"{_nonfinite(value)} is not a value (JSON has no NaN or Infinity)", record=label, field=field)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_unicode(path, label, f"{field}.{key}" if field else str(key), str(key))
            check_values(path, label, item, f"{field}.{key}" if field else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_values(path, label, item, f"{field}[{i}]" if field else f"[{i}]")


def read_records(path: str | Path) -> list[tuple[str, Any]]:
    """Read a JSON array or JSONL file; returns (record label, object) pairs."""
    path = Path(path)
    _check_file(path)
    text = _read_text(path)
    stripped = text.lstrip()
    if not stripped:
        raise DataError(path, "file is empty")
    if stripped.startswith("["):
        try:
            data = json_loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(path, f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
        records = [(f"record {i}", obj) for i, obj in enumerate(data)]
    else:
        whole = _one_object(text)
        if whole is not None and (path.suffix.lower() == ".json" or len(stripped.rstrip().splitlines()) > 1):
            raise DataError(
                path, f"is one JSON object (keys: {', '.join(list(whole)[:5])}), expected a JSON array of "
                "records ([{...}, {...}]) or JSONL (one record per line)",
            )
        records = [(f"line {n}", obj) for n, obj in read_jsonl(path)]
    if not records:
        raise DataError(path, "no records")
    for label, obj in records:
        try:
            check_values(path, label, obj)
        except RecursionError:
            raise DataError(path, "nested too deeply to read", record=label) from None
    return records


def _read_text(path: Path) -> str:
    """The file as UTF-8 text (a byte order mark accepted); a bad byte names its line."""
    data = path.read_bytes()
    return decode_utf8(path, data[len(BOM):] if data.startswith(BOM) else data)


def _one_object(text: str) -> dict[str, Any] | None:
    """The whole text as one JSON object, or None when it is not one."""
    if not text.lstrip().startswith("{"):
        return None
    try:
        data = json_loads(text)
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def read_json_object(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    _check_file(path)
    try:
        data = json_loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise DataError(path, f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise DataError(path, f"expected a JSON object at the top level, found {type(data).__name__}")
    if not data:
        raise DataError(path, "JSON object is empty")
    for key, value in data.items():
        check_values(path, f"key {key!r}", value)
    return data


def need_object(path: Path | str, label: str, record: Any) -> Mapping[str, Any]:
    if not isinstance(record, Mapping):
        raise DataError(path, f"expected a JSON object, found {type(record).__name__}", record=label)
    return record


def need_text(path: Path | str, label: str, record: Mapping[str, Any], *fields: str, allow_empty: bool = False) -> str:
    """The first of ``fields`` present in ``record``, as a non-empty string."""
    for name in fields:
        if name in record:
            value = record[name]
            if isinstance(value, float) and not math.isfinite(value):
                raise DataError(path, f"expected text, found {_nonfinite(value)}", record=label, field=name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = str(value)
            if not isinstance(value, str):
                raise DataError(path, f"expected text, found {type(value).__name__}", record=label, field=name)
            if not allow_empty and not value.strip():
                raise DataError(path, "is empty", record=label, field=name)
            return check_unicode(path, label, name, value)
    shown = " or ".join(repr(f) for f in fields)
    raise DataError(path, f"missing field {shown}", record=label, field=fields[0])


def need_nonempty(path: Path | str, label: str, field: str, value: str) -> str:
    if not value.strip():
        raise DataError(path, "is empty", record=label, field=field)
    return value


class UniqueIds:
    """Stops on the first id seen twice, naming both records."""

    def __init__(self, path: Path | str, field: str):
        self.path, self.field = path, field
        self.seen: dict[str, str] = {}

    def check(self, label: str, item_id: str) -> str:
        if item_id in self.seen:
            raise DataError(
                self.path, f"duplicate id {item_id!r} (also in {self.seen[item_id]})", record=label, field=self.field
            )
        self.seen[item_id] = label
        return item_id

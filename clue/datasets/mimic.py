"""Streaming readers for the MIMIC-IV tables the builders need, and the seeded note selection.

``discharge.csv(.gz)`` (MIMIC-IV-Note) is ~330k notes, ~1.3 GB compressed:
it is read row by row and never held whole. Every field is read as text; ICD
codes keep their leading zeros (ICD-9 "0389" is not "389").

The selection rule (used by both builders) is a seeded shuffle that does not
depend on file order or chunking: each admission gets the key
``clue.seeding.derive(seed, purpose, hadm_id)`` (a SHA-256 of the seed, the
purpose and the id), admissions are ordered by key (ties by id), and the
first N are taken. One pass with a bounded heap of N entries gives exactly
that order.
"""

from __future__ import annotations

import csv
import gzip
import heapq
import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from ..errors import DataError
from ..seeding import derive

NOTE_COLUMNS = ("note_id", "hadm_id", "note_seq", "text")
DIAGNOSIS_COLUMNS = ("hadm_id", "seq_num", "icd_code", "icd_version")

# Discharge notes exceed the csv module's default 128 KiB field limit.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass(frozen=True)
class Note:
    note_id: str
    hadm_id: str
    note_seq: int
    text: str
    row: int  # CSV record number (header = 1); notes span many lines, so not a line number


@dataclass(frozen=True)
class Diagnosis:
    hadm_id: str
    seq_num: int
    icd_code: str
    icd_version: str
    row: int


def open_text(path: str | Path) -> io.TextIOBase:
    """Open a CSV or gzipped CSV as text, deciding by content rather than by name."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "file not found")
    if path.is_dir():
        raise DataError(path, "is a directory, expected a CSV file")
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if not magic:
        raise DataError(path, "file is empty")
    if magic == b"\x1f\x8b":
        raw: io.BufferedIOBase = gzip.open(path, "rb")  # type: ignore[assignment]
    elif path.suffix == ".gz":
        raise DataError(path, "named .gz but is not gzip-compressed")
    else:
        raw = open(path, "rb")
    # A large read buffer matters: the notes file is gigabytes of text.
    return io.TextIOWrapper(io.BufferedReader(raw, 1 << 20), encoding="utf-8", newline="")


def iter_table(path: str | Path, required: Sequence[str], what: str) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (record number, {column: text}) for each data row, validating the header.

    Record numbers count the header as record 1, as a spreadsheet does.
    """
    path = Path(path)
    fh = open_text(path)
    with fh:
        reader = csv.reader(fh)
        try:
            header = next(reader, None)
        except (UnicodeDecodeError, gzip.BadGzipFile, EOFError, OSError) as exc:
            raise DataError(path, f"not a readable CSV file ({type(exc).__name__}: {exc})") from None
        except csv.Error as exc:
            raise DataError(path, f"not a CSV file ({exc})") from None
        if not header:
            raise DataError(path, f"no header row; expected the {what} table")
        header = [h.strip().lower() for h in header]
        missing = [c for c in required if c not in header]
        if missing:
            raise DataError(
                path,
                f"missing column(s) {missing}; the {what} table has {list(required)}, found {header[:12]}",
                field=missing[0],
            )
        index = [header.index(c) for c in required]
        width = len(header)
        count = 0
        try:
            for number, fields in enumerate(reader, start=2):
                if not fields:
                    continue
                if len(fields) != width:
                    raise DataError(path, f"has {len(fields)} fields, the header has {width}", record=f"record {number}")
                count += 1
                yield number, {name: fields[i] for name, i in zip(required, index)}
        except (UnicodeDecodeError, gzip.BadGzipFile, EOFError, OSError) as exc:
            raise DataError(path, f"unreadable after {count} rows ({type(exc).__name__}: {exc})") from None
        except csv.Error as exc:
            raise DataError(path, f"malformed CSV after {count} rows ({exc})") from None
        if count == 0:
            raise DataError(path, f"the {what} table has a header but no rows")


def _int(path: Path, number: int, field: str, value: str) -> int:
    try:
        return int(value.strip() or "0")
    except ValueError:
        raise DataError(path, f"expected a whole number, found {value[:20]!r}", record=f"record {number}", field=field) from None


def iter_notes(path: str | Path) -> Iterator[Note]:
    """Discharge notes; rows without an admission id are skipped (they cannot be linked)."""
    path = Path(path)
    for number, row in iter_table(path, NOTE_COLUMNS, "MIMIC-IV-Note discharge"):
        hadm_id = row["hadm_id"].strip()
        if not hadm_id:
            continue
        yield Note(row["note_id"].strip(), hadm_id, _int(path, number, "note_seq", row["note_seq"]), row["text"], number)


def iter_diagnoses(path: str | Path, hadm_ids: set[str] | None = None) -> Iterator[Diagnosis]:
    """Diagnosis rows, optionally only those of ``hadm_ids``; codes stay text (leading zeros kept)."""
    path = Path(path)
    for number, row in iter_table(path, DIAGNOSIS_COLUMNS, "MIMIC-IV hosp diagnoses_icd"):
        hadm_id = row["hadm_id"].strip()
        if hadm_ids is not None and hadm_id not in hadm_ids:
            continue
        code = row["icd_code"].strip().replace(".", "").upper()
        version = row["icd_version"].strip()
        if version not in ("9", "10"):
            raise DataError(path, f"expected 9 or 10, found {version!r}", record=f"record {number}", field="icd_version")
        yield Diagnosis(hadm_id, _int(path, number, "seq_num", row["seq_num"]), code, version, number)


def selection_key(seed: int, purpose: str, hadm_id: str) -> tuple[int, str]:
    return derive(seed, purpose, hadm_id), hadm_id


def select_notes(
    notes: Iterable[Note], n: int, seed: int, purpose: str, keep: Callable[[Note], bool] | None = None
) -> tuple[list[Note], dict[str, int]]:
    """The first ``n`` admissions in seeded-shuffle order, one note each, in that order.

    An admission with several discharge notes is represented by its latest
    (highest ``note_seq``, then the later row). Memory holds at most ``n``
    notes. Returns the notes and counts (notes read, kept by ``keep``).
    """
    # Max-heap on key (negated) of the n smallest keys seen so far.
    heap: list[tuple[int, _Desc]] = []
    chosen: dict[str, tuple[tuple[int, str], Note]] = {}
    read = kept = 0
    for note in notes:
        read += 1
        if keep is not None and not keep(note):
            continue
        kept += 1
        key = selection_key(seed, purpose, note.hadm_id)
        held = chosen.get(note.hadm_id)
        if held is not None:
            if (note.note_seq, note.row) > (held[1].note_seq, held[1].row):
                chosen[note.hadm_id] = (key, note)
            continue
        if len(chosen) < n:
            chosen[note.hadm_id] = (key, note)
            heapq.heappush(heap, _neg(key))
        elif n and key < _unneg(heap[0]):
            evicted = _unneg(heapq.heappushpop(heap, _neg(key)))
            del chosen[evicted[1]]
            chosen[note.hadm_id] = (key, note)
    ordered = sorted(chosen.values(), key=lambda pair: pair[0])
    return [note for _, note in ordered], {"notes_read": read, "notes_eligible": kept}


class _Desc(str):
    """A string whose ordering is reversed, so a min-heap of it acts as a max-heap."""

    def __lt__(self, other: str) -> bool:  # type: ignore[override]
        return str.__gt__(self, other)


def _neg(key: tuple[int, str]) -> tuple[int, _Desc]:
    return -key[0], _Desc(key[1])


def _unneg(item: tuple[int, _Desc]) -> tuple[int, str]:
    return -item[0], str(item[1])

"""Clinician review of built MeDiSumQA pairs: export a sheet, import the verdicts.

Export writes one row per pair (xlsx or CSV by the file's suffix): id, an
excerpt of the letter, question, answer, and empty columns for the verdict
(keep / edit / drop), an edited question, an edited answer and a comment.
Import applies the verdicts: ``drop`` removes the pair, ``edit`` replaces the
question and/or answer with the edited text, ``keep`` keeps it. It refuses,
naming the rows, unknown verdicts, unknown or repeated ids, edits without
edited text, and pairs left without a verdict; it records who reviewed, when,
and every verdict in a manifest beside the output.
"""

from __future__ import annotations

import csv
import datetime as _dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clue.core.errors import DataError, UsageError
from clue.core.files import atomic_writer, sha256_file, write_json
from clue.formats.readers import read_records, read_table

COLUMNS = ("id", "letter_excerpt", "question", "answer", "verdict", "edited_question", "edited_answer", "comment")
VERDICTS = ("keep", "edit", "drop")
EXCERPT_CHARS = 1500
INSTRUCTIONS = (
    "For each row write keep, edit or drop in 'verdict'. For edit, write the corrected question and/or answer "
    "in 'edited_question' / 'edited_answer' (an empty cell keeps the original). Comments are optional."
)


def _item_id(label: str, record: Any, path: Path) -> str:
    if not isinstance(record, dict) or record.get("id") in (None, ""):
        raise DataError(path, "has no 'id'; review works on files written by `clue data build medisumqa`", record=label, field="id")
    return str(record["id"])


def load_pairs(path: Path) -> list[dict[str, Any]]:
    records = []
    seen: set[str] = set()
    for label, record in read_records(path):
        item_id = _item_id(label, record, path)
        if item_id in seen:
            raise DataError(path, f"duplicate id {item_id!r}", record=label, field="id")
        seen.add(item_id)
        for name in ("Question", "Answer"):
            if not isinstance(record.get(name), str):
                raise DataError(path, "missing or not text", record=label, field=name)
        records.append(record)
    return records


def excerpt(letter: str, limit: int = EXCERPT_CHARS) -> str:
    letter = letter.strip()
    return letter if len(letter) <= limit else letter[:limit].rstrip() + " [...]"


def export(data: Path, out: Path) -> int:
    """Write the review sheet; returns the number of rows."""
    rows = [
        {
            "id": str(r["id"]),
            "letter_excerpt": excerpt(str(r.get("discharge_summary") or r.get("without_discharge_summary") or "")),
            "question": r["Question"],
            "answer": r["Answer"],
            "verdict": "",
            "edited_question": "",
            "edited_answer": "",
            "comment": "",
        }
        for r in load_pairs(data)
    ]
    suffix = out.suffix.lower()
    if suffix == ".csv":
        with atomic_writer(out) as fh:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    elif suffix == ".xlsx":
        _write_xlsx(out, rows)
    else:
        raise UsageError(f"review sheet must end in .xlsx or .csv, got {out.name!r}")
    return len(rows)


def _write_xlsx(out: Path, rows: list[dict[str, str]]) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook()
    sheet = book.active
    sheet.title = "review"
    sheet.append(list(COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([row[c] for c in COLUMNS])
    widths = {"A": 18, "B": 80, "C": 45, "D": 45, "E": 10, "F": 45, "G": 45, "H": 40}
    for column, width in widths.items():
        sheet.column_dimensions[column].width = width
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    # A drop-down keeps verdicts to the three accepted words.
    choice = DataValidation(type="list", formula1='"keep,edit,drop"', allow_blank=True)
    sheet.add_data_validation(choice)
    if rows:
        choice.add(f"E2:E{len(rows) + 1}")
    sheet.freeze_panes = "A2"
    notes = book.create_sheet("how to review")
    notes.append([INSTRUCTIONS])
    with atomic_writer(out, "wb") as fh:
        book.save(fh)


@dataclass
class Verdict:
    row: str
    verdict: str
    question: str
    answer: str
    comment: str


def read_review(path: Path) -> dict[str, Verdict]:
    table = read_table(path, {c: [c] for c in COLUMNS if c != "letter_excerpt"})
    verdicts: dict[str, Verdict] = {}
    problems: list[str] = []
    for label, row in table:
        item_id = row["id"].strip()
        verdict = row["verdict"].strip().lower()
        if not item_id:
            problems.append(f"{label}: no id")
            continue
        if item_id in verdicts:
            problems.append(f"{label}: id {item_id!r} repeats {verdicts[item_id].row}")
            continue
        if verdict not in VERDICTS:
            shown = repr(row["verdict"]) if row["verdict"].strip() else "no verdict"
            problems.append(f"{label}: {shown} (id {item_id}); expected one of {', '.join(VERDICTS)}")
            continue
        if verdict == "edit" and not (row["edited_question"].strip() or row["edited_answer"].strip()):
            problems.append(f"{label}: verdict edit but no edited question or answer (id {item_id})")
            continue
        verdicts[item_id] = Verdict(
            label, verdict, row["edited_question"].strip(), row["edited_answer"].strip(), row["comment"].strip()
        )
    if problems:
        raise DataError(path, f"{len(problems)} row(s) cannot be applied: " + "; ".join(problems[:20]))
    return verdicts


def apply(data: Path, review: Path, reviewer: str, out: Path) -> dict[str, Any]:
    """Write the reviewed dataset and its manifest; returns the manifest."""
    if not reviewer.strip():
        raise UsageError("--reviewer must name the person who reviewed")
    pairs = load_pairs(data)
    verdicts = read_review(review)
    ids = {str(p["id"]) for p in pairs}
    unknown = [f"{v.row} ({i})" for i, v in verdicts.items() if i not in ids]
    if unknown:
        raise DataError(review, f"{len(unknown)} id(s) not in {data}: {', '.join(unknown[:20])}")
    missing = [i for i in ids if i not in verdicts]
    if missing:
        raise DataError(review, f"{len(missing)} pair(s) of {data} have no row in the review, e.g. {sorted(missing)[:5]}")
    kept = []
    record = []
    for pair in pairs:
        v = verdicts[str(pair["id"])]
        record.append({"id": str(pair["id"]), "row": v.row, "verdict": v.verdict, "comment": v.comment})
        if v.verdict == "drop":
            continue
        pair = dict(pair)
        if v.verdict == "edit":
            if v.question:
                pair["Question"] = v.question
            if v.answer:
                pair["Answer"] = v.answer
            pair["edited"] = True
        kept.append(pair)
    if not kept:
        raise DataError(review, "every pair was dropped; nothing to write")
    counts = {name: sum(1 for r in record if r["verdict"] == name) for name in VERDICTS}
    manifest = {
        "dataset": "medisumqa",
        "reviewed": True,
        "reviewer": reviewer.strip(),
        "reviewed_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "input": {"path": str(data), "sha256": sha256_file(data)},
        "review": {"path": str(review), "sha256": sha256_file(review)},
        "counts": {**counts, "written": len(kept)},
        "verdicts": record,
    }
    write_json(out, kept)
    manifest["output"] = {"path": str(out), "sha256": sha256_file(out)}
    write_json(out.with_name(out.name + ".manifest.json"), manifest)
    return manifest

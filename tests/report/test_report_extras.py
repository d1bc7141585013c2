"""`clue report` without the report extra, and the item browser's scores."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from clue.report.html import ReportOptions, build_report, fmt_item_metrics
from tests.helpers.fake_runs import write_run

MEQSUM = {"meqsum": {"rouge1": [0.25000000000000006, 0.5], "rouge2": [0.1, 0.0], "rougeL": [0.2, 0.5], "bertscore": [0.5, 0.5]}}


def test_item_scores_show_as_the_tables_do(tmp_path):
    assert fmt_item_metrics({"rouge1": 0.25000000000000006, "accuracy": 1.0, "bertscore": None}) == "rouge1 25.0, accuracy 100.0, bertscore –"
    run = write_run(tmp_path / "run", "m", MEQSUM)
    build_report([run], ReportOptions(out=tmp_path / "r", show_items=True))
    html = (tmp_path / "r" / "report.html").read_text()
    block = html.split('id="items-data">', 1)[1].split("</script>", 1)[0]
    rows = json.loads(block)["runs"]["run"]["meqsum"]
    assert rows[0][-1].startswith("rouge1 25.0, rouge2 10.0, rougeL 20.0")
    assert "0.25000000000000006" not in html


@pytest.fixture
def no_plotting(monkeypatch):
    """As if the report extra were not installed: importing matplotlib or jinja2 fails."""
    for name in ("matplotlib", "jinja2"):
        monkeypatch.setitem(sys.modules, name, None)


def test_report_without_the_extra_writes_the_tables_and_names_what_is_missing(tmp_path, no_plotting):
    run = write_run(tmp_path / "run", "m", MEQSUM)
    report = build_report([run], ReportOptions(out=tmp_path / "r"))
    assert "leaderboard.md" in report.files and (tmp_path / "r" / "leaderboard.csv").is_file()
    assert "report.html" not in report.files and not (tmp_path / "r" / "report.html").exists()
    assert set(report.skipped) == {"figures", "report.html"}
    assert all("pip install 'clue-eval[report]'" in why for why in report.skipped.values())


def test_report_command_without_the_extra_exits_0_and_says_which_extra(tmp_path):
    run = write_run(tmp_path / "run", "m", MEQSUM)
    # A site hook that hides matplotlib and jinja2 from this one process.
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['matplotlib'] = None\nsys.modules['jinja2'] = None\n")
    env = {**os.environ, "PYTHONPATH": str(hide), "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-m", "clue.cli", "report", str(run), "--out", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "Report written to" in proc.stdout and "leaderboard.md" in proc.stdout
    assert "not written: figures" in proc.stderr and "not written: report.html" in proc.stderr
    assert "pip install 'clue-eval[report]'" in proc.stderr

"""The commands: clue compare, clue metrics status."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.metrics.metric_runs import full_run, write_run


@pytest.fixture(scope="module")
def app():
    from clue.cli import app

    return app


def test_compare_prints_a_table_and_verdicts_and_writes_json(app, tmp_path):
    a = write_run(tmp_path / "a", "base-model", full_run(11))
    b = write_run(tmp_path / "b", "tuned-model", full_run(12, shift=0.1))
    out = tmp_path / "cmp.json"
    result = CliRunner().invoke(app, ["compare", str(a), str(b), "--out", str(out), "--resamples", "300", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "tuned-model scores" in result.output and "on MedNLI" in result.output
    written = json.loads(out.read_text())
    assert written["schema"] == "clue.compare/1"
    assert written["n_resamples"] == 300 and written["seed"] == 3
    assert written["tasks"]["mednli"]["delta"] > 0


def test_compare_on_a_folder_that_is_not_a_run_fails_cleanly(app, tmp_path):
    from clue.core.errors import DataError

    result = CliRunner().invoke(app, ["compare", str(tmp_path), str(tmp_path)])
    assert result.exit_code != 0
    assert isinstance(result.exception, DataError)


def test_metrics_status_reports_each_metric(app, tmp_path):
    result = CliRunner().invoke(app, ["metrics", "status", "--json", "--metric", f"bertscore_model={tmp_path}/none"])
    assert result.exit_code == 0, result.output
    rows = {r["metric"]: r for r in json.loads(result.output)}
    assert set(rows) == {"bertscore", "umls_f1"}
    assert rows["bertscore"]["ready"] is False


def test_metrics_status_ready_with_a_local_model(app, minilm_path):
    result = CliRunner().invoke(
        app, ["metrics", "status", "--json", "--metric", f"bertscore_model={minilm_path}", "--metric", "bertscore_layer=6"]
    )
    rows = {r["metric"]: r for r in json.loads(result.output)}
    assert rows["bertscore"]["ready"] is True
    assert str(minilm_path) in rows["bertscore"]["detail"]


def test_misspelt_metric_setting_is_refused(app):
    from clue.core.errors import UsageError

    result = CliRunner().invoke(app, ["metrics", "status", "--metric", "bertscore_layers=6"])
    assert isinstance(result.exception, UsageError)

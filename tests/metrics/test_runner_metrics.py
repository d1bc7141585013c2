"""Model metrics inside a real run: the runner passes --metric settings and the cache path."""

from __future__ import annotations

import json

import pytest

from clue.models import load_backend
from clue.pipeline.config import RunSpec
from clue.pipeline.run import evaluate


def run(tmp_path, metric_config):
    config = RunSpec(model="baseline", tasks=["meqsum", "problem_summary", "medisumqa"], output=tmp_path,
                     metric_settings=metric_config, command=["test"])
    backend = load_backend("baseline", {})
    try:
        return evaluate(config, backend)
    finally:
        backend.close()


def test_a_run_with_both_model_metrics_is_complete_and_cached(minilm_path, tiny_umls, tmp_path, monkeypatch):
    metric_config = {"bertscore_model": str(minilm_path), "bertscore_layer": 6, **tiny_umls}
    results = run(tmp_path, metric_config)
    for task in ("meqsum", "problem_summary", "medisumqa"):
        summary = results.tasks[task]
        assert summary.missing_metrics == [], summary.missing_reasons
        assert summary.complete is True
        assert 0.0 < summary.metrics["bertscore"] <= 100.0
    assert "umls_f1" in results.tasks["problem_summary"].metrics
    assert results.metric_settings["bertscore"]["layer"] == 6
    assert (tmp_path / "metric_cache.sqlite").is_file()
    rows = [json.loads(line) for line in (tmp_path / "predictions" / "medisumqa.jsonl").read_text().splitlines()]
    assert all("bertscore" in r["metrics"] and "umls_f1" in r["metrics"] for r in rows)

    # Re-scoring the same outputs loads no model: every value comes from the cache.
    from clue.metrics import bertscore, umls

    monkeypatch.setattr(bertscore, "load_scorer", lambda *a: pytest.fail("BERTScore model loaded on a re-run"))
    monkeypatch.setattr(umls, "load_extractor", lambda *a: pytest.fail("spaCy pipeline loaded on a re-run"))
    again = run(tmp_path, metric_config)
    assert again.tasks == results.tasks


def test_a_run_without_metric_models_marks_tasks_incomplete_with_reasons(tmp_path, monkeypatch):
    from clue.metrics import bertscore

    monkeypatch.setattr(bertscore, "missing_packages", lambda: ["torch"])
    results = run(tmp_path, {"umls_pipeline": "no_such_pipeline_xyz"})
    summary = results.tasks["medisumqa"]
    assert summary.complete is False
    assert set(summary.missing_metrics) == {"bertscore", "umls_f1"}
    assert "pip install" in summary.missing_reasons["bertscore"]

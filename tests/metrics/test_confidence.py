"""Confidence intervals added to a runner-shaped results dict."""

from __future__ import annotations

import copy

import pytest

from clue.core.results import PredictionRow, RunResults
from clue.stats.confidence import add_confidence_intervals as add_to_record
from clue.tasks.suite import CLUE
from tests.metrics.metric_runs import full_run, rows, run_results

UNITS = {"longhealth": "patient"}


def add_confidence_intervals(results: dict, rows_by_task: dict, **settings) -> None:
    """The intervals on the typed record, seen as results.json holds them (``results`` is updated in place)."""
    record = RunResults.from_json(results)
    rows = {task: [PredictionRow.from_json(r) for r in task_rows] for task, task_rows in rows_by_task.items()}
    add_to_record(record, rows, **settings)
    results.clear()
    results.update(record.to_json())


def test_every_task_metric_and_level_gets_an_interval_around_its_score():
    data = full_run(1)
    results = run_results("m", data)
    add_confidence_intervals(results, data, seed=42, n_resamples=500, levels=CLUE.level_members(), units=UNITS)
    for task, summary in results["tasks"].items():
        low, high = summary["ci"]
        assert low <= summary["score"] <= high, task
        assert high - low > 0
        for name, value in summary["metrics"].items():
            m_low, m_high = summary["metric_ci"][name]
            assert m_low <= value <= m_high, (task, name)
    for level in ("level1", "level2", "overall"):
        low, high = results["levels_ci"][level]
        assert low <= results["levels"][level] <= high
    assert results["bootstrap"]["units"]["longhealth"] == "patient"
    assert results["bootstrap"]["units"]["mednli"] == "item"
    assert results["bootstrap"]["n_resamples"] == 500


def test_intervals_are_seeded():
    data = full_run(2)
    first, second, other = (run_results("m", data) for _ in range(3))
    add_confidence_intervals(first, data, seed=7, n_resamples=200, levels=CLUE.level_members(), units=UNITS)
    add_confidence_intervals(second, data, seed=7, n_resamples=200, levels=CLUE.level_members(), units=UNITS)
    add_confidence_intervals(other, data, seed=8, n_resamples=200, levels=CLUE.level_members(), units=UNITS)
    assert first == second
    assert first["tasks"]["mednli"]["ci"] != other["tasks"]["mednli"]["ci"]


def test_one_task_does_not_change_another_tasks_interval():
    data = full_run(3)
    both = run_results("m", data)
    alone = run_results("m", {"mednli": data["mednli"]})
    add_confidence_intervals(both, data, seed=1, n_resamples=200, levels=CLUE.level_members(), units=UNITS)
    add_confidence_intervals(alone, {"mednli": data["mednli"]}, seed=1, n_resamples=200, levels=CLUE.level_members(), units=UNITS)
    assert both["tasks"]["mednli"]["ci"] == alone["tasks"]["mednli"]["ci"]


def test_levels_without_all_their_tasks_have_no_interval():
    data = {"mednli": rows("mednli", [{"accuracy": float(i % 2)} for i in range(40)])}
    results = run_results("m", data)
    add_confidence_intervals(results, data, seed=1, n_resamples=100, levels=CLUE.level_members(), units=UNITS)
    assert results["levels_ci"] == {"level1": None, "level2": None, "overall": None}
    assert results["tasks"]["mednli"]["ci"] is not None


def test_failed_rows_are_left_out_and_a_task_with_none_scored_has_no_interval():
    data = {
        "mednli": rows("mednli", [{"accuracy": 1.0}] * 30 + [None] * 10),
        "meqsum": rows("meqsum", [None] * 5),
    }
    results = run_results("m", data)
    add_confidence_intervals(results, data, seed=1, n_resamples=100, levels=CLUE.level_members(), units=UNITS)
    assert results["tasks"]["mednli"]["ci"] == pytest.approx([100.0, 100.0])
    assert results["tasks"]["meqsum"]["ci"] is None


def test_longhealth_intervals_are_wider_when_patients_cluster():
    # Same prompts, same overall accuracy; in one set patients differ strongly.
    data = full_run(4)
    clustered = copy.deepcopy(data["longhealth"])
    for row in clustered:
        patient = int(row["group"][-2:])
        row["metrics"] = {row["subtask"]: float(patient % 2 == 0)}
    mixed = copy.deepcopy(clustered)
    for i, row in enumerate(mixed):
        row["metrics"] = {row["subtask"]: float(i % 2 == 0)}
    r1, r2 = run_results("m", {"longhealth": clustered}), run_results("m", {"longhealth": mixed})
    add_confidence_intervals(r1, {"longhealth": clustered}, seed=1, n_resamples=500, levels=CLUE.level_members(), units=UNITS)
    add_confidence_intervals(r2, {"longhealth": mixed}, seed=1, n_resamples=500, levels=CLUE.level_members(), units=UNITS)
    width = lambda r: r["tasks"]["longhealth"]["ci"][1] - r["tasks"]["longhealth"]["ci"][0]  # noqa: E731
    assert r1["tasks"]["longhealth"]["score"] == pytest.approx(r2["tasks"]["longhealth"]["score"])
    assert width(r1) > 5 * width(r2)

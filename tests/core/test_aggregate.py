"""Aggregation: plain means, each item once, levels, incomplete marking."""

from __future__ import annotations

import pytest

from clue.core.records import Scored
from clue.core.results import TaskSummary
from clue.stats.aggregate import level_scores, task_summary
from clue.tasks.suite import CLUE


def s(i, **metrics):
    return Scored(request_id=f"r{i}", item_id=f"i{i}", parsed=None, metrics=metrics, diagnostics={"d": 1.0})


def test_task_summary_means_each_item_once():
    scored = [s(0, accuracy=1.0), s(1, accuracy=0.0), s(2, accuracy=0.0), s(3, accuracy=1.0)]
    summary = task_summary(["accuracy"], scored)
    assert summary.metrics == {"accuracy": 50.0}
    assert summary.score == 50.0 and summary.n == 4 and summary.complete


def test_task_score_is_mean_of_metrics_and_subtasks_average_separately():
    scored = [s(0, task1=1.0), s(1, task1=1.0), s(2, task2=0.0), s(3, task3=1.0), s(4, task3=0.0)]
    summary = task_summary(["task1", "task2", "task3"], scored)
    assert summary.metrics == {"task1": 100.0, "task2": 0.0, "task3": 50.0}
    assert summary.score == pytest.approx(50.0)


def test_missing_metric_marks_incomplete_and_failures_count():
    scored = [s(0, rouge1=0.5, rouge2=0.1)]
    summary = task_summary(["rouge1", "rouge2", "bertscore"], scored, missing_metrics=["bertscore"])
    assert not summary.complete and summary.missing_metrics == ["bertscore"]
    assert summary.score == pytest.approx(30.0)
    failed = task_summary(["rouge1", "rouge2"], scored, failed=2, truncated=1)
    assert not failed.complete
    assert failed.diagnostics["failed_requests"] == 2 and failed.diagnostics["truncated_prompts"] == 1


def _task(score, complete=True):
    return TaskSummary(score=score, n=1, complete=complete)


def test_levels():
    tasks = {
        "mednli": _task(60), "meqsum": _task(30), "problem_summary": _task(30),
        "medisumqa": _task(20), "medisumcode": _task(40), "longhealth": _task(60, complete=False),
    }
    levels, complete = level_scores(tasks, CLUE.level_members())
    assert levels == {"level1": 40.0, "level2": 40.0, "overall": 40.0}
    assert complete == {"level1": True, "level2": False, "overall": False}
    partial, partial_complete = level_scores({"mednli": _task(60)}, CLUE.level_members())
    assert partial == {"level1": None, "level2": None, "overall": None}
    assert not any(partial_complete.values())

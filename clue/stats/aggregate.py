"""From per-item scores to task, level and overall scores (all in %).

- A task's metric is the plain mean of its per-item values (each item once).
- The task score is the mean of the task's metrics.
- A level's score is the mean of its member tasks' scores (the members come
  from the run's suite: ``clue.tasks.suite``, default CLUE). In CLUE, level 1
  is MedNLI, MeQSum and Problem Summary; level 2 MeDiSumQA, MeDiSumCode and
  LongHealth; overall all six. A level is ``None`` unless every one of its
  tasks was run.
- A metric that could not be computed (e.g. BERTScore with no model) leaves
  the task ``complete: false`` with the metric named in ``missing_metrics``;
  the score is then the mean of the metrics that were computed, and every
  level it enters is marked incomplete too.
- Diagnostics are averaged the same way but never enter a score.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from statistics import fmean
from typing import Any

from clue.core.records import Scored
from clue.core.results import TaskSummary

Levels = Mapping[str, Sequence[str]]  # level name -> member tasks


def mean_by_key(rows: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Mean of each key over the rows that have it (values in [0, 1]) -> %."""
    sums: dict[str, list[float]] = {}
    for row in rows:
        for key, value in row.items():
            if value is not None:
                sums.setdefault(key, []).append(float(value))
    return {key: 100.0 * fmean(values) for key, values in sums.items()}


def task_summary(
    metric_names: Sequence[str],
    scored: Sequence[Scored],
    *,
    missing_metrics: Sequence[str] = (),
    failed: int = 0,
    truncated: int = 0,
    extra_diagnostics: Mapping[str, Any] | None = None,
) -> TaskSummary:
    metrics_all = mean_by_key(s.metrics for s in scored)
    metrics = {name: metrics_all[name] for name in metric_names if name in metrics_all}
    missing = [name for name in metric_names if name not in metrics]
    for name in missing_metrics:
        if name not in missing:
            missing.append(name)
    diagnostics: dict[str, Any] = dict(sorted(mean_by_key(s.diagnostics for s in scored).items()))
    diagnostics["truncated_prompts"] = truncated
    diagnostics["failed_requests"] = failed
    if extra_diagnostics:
        diagnostics.update(extra_diagnostics)
    return TaskSummary(
        score=fmean(metrics.values()) if metrics else None,
        n=len(scored),
        metrics=metrics,
        diagnostics=diagnostics,
        complete=not missing and failed == 0 and bool(scored),
        missing_metrics=missing,
    )


def level_scores(tasks: Mapping[str, TaskSummary], levels: Levels) -> tuple[dict[str, float | None], dict[str, bool]]:
    """Each level's score (level 1, level 2, overall) and whether it is complete."""
    scores: dict[str, float | None] = {}
    complete: dict[str, bool] = {}
    for level, members in levels.items():
        present = [tasks[t] for t in members if t in tasks and tasks[t].score is not None]
        if len(present) == len(members):
            scores[level] = fmean(float(t.score) for t in present if t.score is not None)
            complete[level] = all(t.complete for t in present)
        else:
            scores[level] = None
            complete[level] = False
    return scores, complete

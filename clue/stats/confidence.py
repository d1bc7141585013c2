"""95% bootstrap confidence intervals on every task score, metric, level and overall score.

Called by the runner right before ``results.json`` is written. Each task's
scored prediction rows are resampled on their own (items; LongHealth by
patient, since a patient's 300 prompts are not independent), with a seeded
generator per task; a level's interval comes from recombining the tasks'
resampled scores resample by resample, exactly as the level score combines
the task scores. Failed rows (``metrics: null``) are left out, as they are
from the scores themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from clue.core.results import PredictionRow, RunResults
from clue.stats.aggregate import Levels
from clue.stats.bootstrap import CONFIDENCE, generator, percentile_ci, resampled_means, task_scores, unit_table

if TYPE_CHECKING:  # numpy loads when a statistic is computed, not when clue starts (bench/bench_startup.py)
    import numpy as np


def add_confidence_intervals(
    results: RunResults,
    rows_by_task: Mapping[str, Sequence[PredictionRow]],
    *,
    seed: int,
    levels: Levels,
    units: Mapping[str, str],
    n_resamples: int = 1000,
) -> None:
    """Set ``ci`` and ``metric_ci`` of each task, and ``levels_ci`` and ``bootstrap`` of ``results``.

    Intervals are in points (%), like the scores; an interval that cannot be
    computed (no scored rows) is ``None``.
    """
    import numpy as np
    if n_resamples < 1:
        raise ValueError("n_resamples must be at least 1")
    samples: dict[str, np.ndarray] = {}
    for task, summary in results.tasks.items():
        metrics = list(summary.metrics)
        table = unit_table(((row.unit, row.metrics) for row in rows_by_task.get(task, ())), metrics)
        if table.n_units == 0 or not metrics:
            summary.ci = None
            summary.metric_ci = {name: None for name in metrics}
            continue
        means = resampled_means(generator(seed, "bootstrap", task), table.sums, table.counts, n_resamples)
        scores = task_scores(means)
        summary.ci = percentile_ci(scores)
        summary.metric_ci = {name: percentile_ci(100.0 * means[:, j]) for j, name in enumerate(metrics)}
        samples[task] = scores

    levels_ci: dict[str, list[float] | None] = {}
    for level, members in levels.items():
        if results.levels.get(level) is None or any(t not in samples for t in members):
            levels_ci[level] = None
            continue
        levels_ci[level] = percentile_ci(np.mean([samples[t] for t in members], axis=0))
    results.levels_ci = levels_ci
    results.bootstrap = {
        "method": "percentile",
        "confidence": CONFIDENCE,
        "n_resamples": n_resamples,
        "seed": seed,
        "units": {task: units.get(task, "item") for task in results.tasks},
    }

"""Paired statistics of two runs on the same items: the paired bootstrap of B - A and McNemar's exact test.

Both runs are resampled with the same draw of units (items; a task's clusters),
so the interval and p-value are those of the paired difference (docs/report.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clue.core.results import PredictionRow
from clue.stats.bootstrap import (
    UnitTable,
    contingency,
    generator,
    mcnemar_exact,
    paired_p_value,
    percentile_ci,
    resampled_means,
    task_scores,
    unit_table,
)

if TYPE_CHECKING:  # numpy loads when a statistic is computed
    import numpy as np


def paired_tables(
    rows_a: Mapping[str, PredictionRow], rows_b: Mapping[str, PredictionRow], paired: Sequence[str], metrics: Sequence[str]
) -> tuple[UnitTable, UnitTable]:
    """Both runs' paired rows grouped by unit; the unit of each request is taken from run A,
    so both runs resample the same units."""
    units = {i: rows_a[i].unit for i in paired}
    return (unit_table(((units[i], rows_a[i].metrics) for i in paired), metrics),
            unit_table(((units[i], rows_b[i].metrics) for i in paired), metrics))


@dataclass
class PairedDifference:
    """B - A on one task (in points): the point estimates, the interval, the p-value and the resampled deltas."""

    score_a: float
    score_b: float
    delta: float
    ci: list[float] | None
    p_value: float
    deltas: np.ndarray  # the resampled task-score differences (levels average them resample by resample)
    metric_deltas: dict[str, dict[str, Any]]


def paired_difference(table_a: UnitTable, table_b: UnitTable, seed: int, key: str, n_resamples: int) -> PairedDifference:
    """The paired bootstrap of the task score (mean of its metrics) and of each metric."""
    import numpy as np

    metrics = table_a.metrics
    k = len(metrics)
    means = resampled_means(
        generator(seed, "paired-bootstrap", key),
        np.hstack([table_a.sums, table_b.sums]),
        np.hstack([table_a.counts, table_b.counts]),
        n_resamples,
    )
    point_a, point_b = 100.0 * table_a.means(), 100.0 * table_b.means()
    score_a, score_b = float(np.nanmean(point_a)), float(np.nanmean(point_b))
    deltas = task_scores(means[:, k:]) - task_scores(means[:, :k])
    metric_deltas = {}
    for j, name in enumerate(metrics):
        samples = 100.0 * (means[:, k + j] - means[:, j])
        metric_deltas[name] = {
            "a": float(point_a[j]),
            "b": float(point_b[j]),
            "delta": float(point_b[j] - point_a[j]),
            "ci": percentile_ci(samples),
            "p_value": paired_p_value(samples),
        }
    return PairedDifference(score_a, score_b, score_b - score_a, percentile_ci(deltas), paired_p_value(deltas),
                            deltas, metric_deltas)


def mcnemar(rows_a: Mapping[str, PredictionRow], rows_b: Mapping[str, PredictionRow], paired: Sequence[str],
            metric: str) -> dict[str, Any]:
    """McNemar's exact test of a right/wrong metric (0.5 or more is right) on the paired rows."""
    pairs = []
    for i in paired:
        a, b = (rows_a[i].metrics or {}).get(metric), (rows_b[i].metrics or {}).get(metric)
        if a is not None and b is not None:
            pairs.append((a, b))
    counts = contingency([a >= 0.5 for a, _ in pairs], [b >= 0.5 for _, b in pairs])
    return {**counts, "p_value": mcnemar_exact(counts["only_a_correct"], counts["only_b_correct"])}

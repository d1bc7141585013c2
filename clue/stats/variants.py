"""Statistics over prompt variants: spread of a score, flip rate of its items, and differences
whose interval resamples items and variants together.

Conventions (``docs/variants.md``):
- a task's variants are its *distinct* prompts (a variant axis a task does not
  have, such as answer order for MeQSum, adds no variant to it);
- spread: the mean over variants, the sample standard deviation (0 for one
  variant), the minimum and the maximum, all in points;
- flip rate: among the rows (requests) scored under every variant, the share
  whose right/wrong outcome is not the same under all of them; only for
  tasks with right/wrong metrics (``paired_binary``), ``None`` elsewhere;
- variant-aware difference B - A: its point is the mean over variants of the
  paired difference; each bootstrap resample draws the units (items, or a
  task's clusters) once, for all variants and both runs, *and* draws the
  variants with replacement, and averages the difference over the drawn
  variants. The unit draw is the plain paired bootstrap's (same generator,
  same columns), so with one variant the interval is exactly the plain one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from statistics import fmean, stdev
from typing import TYPE_CHECKING, Any

from clue.core.results import PredictionRow
from clue.stats.bootstrap import UnitTable, generator, resampled_means, task_scores

if TYPE_CHECKING:  # numpy loads when a statistic is computed, not when clue starts (bench/bench_startup.py)
    import numpy as np


def spread(scores: Sequence[float | None]) -> dict[str, Any]:
    """Mean, sample standard deviation, minimum and maximum of a score over variants."""
    values = [float(s) for s in scores if s is not None]
    if not values:
        return {"n_variants": 0, "mean": None, "sd": None, "min": None, "max": None}
    return {
        "n_variants": len(values),
        "mean": fmean(values),
        "sd": stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
    }


def flip_rate(rows_by_variant: Sequence[Mapping[str, PredictionRow]], binary_metrics: Sequence[str]) -> dict[str, Any]:
    """Share of rows whose correctness changes across variants (in %).

    ``rows_by_variant``: per variant, its scored prediction rows keyed by the
    request id without the variant suffix. A row counts when every variant
    scored it; a metric value of 0.5 or more is right.
    """
    if not binary_metrics:
        return {"flip_rate": None, "rows_compared": 0, "rows_flipped": 0,
                "reason": "the task has no right/wrong metric"}
    if not rows_by_variant:
        return {"flip_rate": None, "rows_compared": 0, "rows_flipped": 0, "reason": "no variants"}
    compared = flipped = 0
    for key in rows_by_variant[0]:
        outcomes: set[tuple[str, bool]] = set()
        complete = True
        for rows in rows_by_variant:
            row = rows.get(key)
            values = row.metrics if row else None
            if values is None:
                complete = False
                break
            for name in binary_metrics:
                value = values.get(name)
                if value is not None:
                    outcomes.add((name, float(value) >= 0.5))
        if not complete or not outcomes:
            continue
        compared += 1
        names = {name for name, _ in outcomes}
        flipped += len(outcomes) > len(names)
    return {
        "flip_rate": 100.0 * flipped / compared if compared else None,
        "rows_compared": compared,
        "rows_flipped": flipped,
    }


def align_units(tables: Sequence[UnitTable]) -> list[UnitTable]:
    """The tables re-indexed onto one list of units (the first table's order, then any new ones)."""
    import numpy as np
    units: dict[str, None] = {}
    for table in tables:
        units.update(dict.fromkeys(table.units))
    order = list(units)
    aligned = []
    for table in tables:
        where = {u: i for i, u in enumerate(table.units)}
        sums = np.zeros((len(order), len(table.metrics)))
        counts = np.zeros((len(order), len(table.metrics)))
        for i, unit in enumerate(order):
            j = where.get(unit)
            if j is not None:
                sums[i] = table.sums[j]
                counts[i] = table.counts[j]
        aligned.append(UnitTable(order, list(table.metrics), sums, counts))
    return aligned


def paired_variant_samples(
    tables_a: Sequence[UnitTable], tables_b: Sequence[UnitTable], seed: int, task: str, n_resamples: int
) -> np.ndarray:
    """(n_resamples, variants) resampled score differences B - A, one column per variant.

    Every variant's tables must hold the same metrics; the units are resampled
    once for all of them (``align_units``), with the plain paired bootstrap's
    generator, so one variant gives exactly the plain comparison's samples.
    """
    import numpy as np
    if len(tables_a) != len(tables_b) or not tables_a:
        raise ValueError("one table per variant in each run, and at least one variant")
    aligned = align_units([*tables_a, *tables_b])
    k = len(aligned[0].metrics)
    means = resampled_means(
        generator(seed, "paired-bootstrap", task),
        np.hstack([t.sums for t in aligned]),
        np.hstack([t.counts for t in aligned]),
        n_resamples,
    )
    n = len(tables_a)
    columns = [
        task_scores(means[:, (n + v) * k : (n + v + 1) * k]) - task_scores(means[:, v * k : (v + 1) * k])
        for v in range(n)
    ]
    return np.column_stack(columns)


def resample_variants(per_variant: np.ndarray, seed: int, key: str) -> np.ndarray:
    """Each resample's difference averaged over variants drawn with replacement.

    ``per_variant`` is (n_resamples, variants); one variant returns its column unchanged.
    """
    import numpy as np
    n_resamples, n = per_variant.shape
    if n == 1:
        return per_variant[:, 0].copy()
    drawn = generator(seed, "variant-bootstrap", key).integers(0, n, size=(n_resamples, n))
    with np.errstate(invalid="ignore"):
        return np.take_along_axis(per_variant, drawn, axis=1).mean(axis=1)


def sign_pattern(deltas: Sequence[float], tolerance: float = 0.05) -> dict[str, Any]:
    """How the per-variant differences agree: all below, all above, all equal (within
    ``tolerance`` points), or mixed; and the share of variants whose sign is the mean's."""
    values = [float(d) for d in deltas]
    if not values:
        return {"pattern": "none", "sign_share": None}
    mean = fmean(values)
    below = [d < -tolerance for d in values]
    above = [d > tolerance for d in values]
    if all(below):
        pattern = "below"
    elif all(above):
        pattern = "above"
    elif not any(below) and not any(above):
        pattern = "equal"
    else:
        pattern = "mixed"
    if mean < -tolerance:
        share = sum(below) / len(values)
    elif mean > tolerance:
        share = sum(above) / len(values)
    else:
        share = sum(not (b or a) for b, a in zip(below, above)) / len(values)
    return {"pattern": pattern, "sign_share": share}

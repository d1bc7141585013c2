"""Bootstrap confidence intervals, paired bootstrap tests and McNemar's exact test.

Everything here works on a *unit table*: for each resampling unit (an item,
or a LongHealth patient, whose questions cluster) the sum and the count of
each metric's per-row values. A bootstrap resample draws units with
replacement; a resampled metric mean is then the resampled sum over the
resampled count, which is exactly the plain mean over the resampled rows.
Resamples are rows of an index matrix, so 10,000 of them are a few
vectorised gathers rather than a Python loop.

The resampling unit of a prediction row is its ``group`` when it has one (a
task whose rows cluster, e.g. LongHealth's patients, declares it so), else
its item.

Conventions (stated once, used by ``clue.stats.confidence`` and
``clue.report.compare``):
- intervals are percentile intervals (95% unless asked), seeded per task
  through ``clue.core.seeding.derive`` so one task's draw never depends on another;
- the paired p-value is two-sided, from the same resamples:
  p = 2 * min(#(delta* <= 0) + 1, #(delta* >= 0) + 1) / (R + 1), capped at 1;
  identical runs give p = 1, and p < 0.05 agrees with the interval excluding 0
  up to the +1 correction;
- McNemar's exact test is the two-sided binomial test on the discordant pairs.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from math import comb
from typing import TYPE_CHECKING

from clue.core.seeding import derive

if TYPE_CHECKING:  # numpy loads when a statistic is computed, not when clue starts (bench/bench_startup.py)
    import numpy as np

CONFIDENCE = 0.95

# Gather this many cells per chunk: small enough to stay in cache.
_CHUNK_CELLS = 1_000_000


@dataclass
class UnitTable:
    """Per-unit sums and counts of each metric (rows of one task, grouped by unit)."""

    units: list[str]
    metrics: list[str]
    sums: np.ndarray  # (units, metrics), values in [0, 1]
    counts: np.ndarray  # (units, metrics)

    @property
    def n_units(self) -> int:
        return len(self.units)

    def means(self) -> np.ndarray:
        """Full-sample metric means (in [0, 1])."""
        import numpy as np
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.sums.sum(axis=0) / self.counts.sum(axis=0)


def unit_table(rows: Iterable[tuple[str, Mapping[str, float | None] | None]], metrics: Sequence[str]) -> UnitTable:
    """Group scored rows, each given as (its resampling unit, its metrics), by unit; unscored rows
    (metrics None: a failed request) are skipped."""
    import numpy as np
    index: dict[str, int] = {}
    cells: list[tuple[int, int, float]] = []
    column = {name: j for j, name in enumerate(metrics)}
    for unit, values in rows:
        if values is None:
            continue
        i = index.setdefault(unit, len(index))
        for name, value in values.items():
            j = column.get(name)
            if j is not None and value is not None:
                cells.append((i, j, float(value)))
    sums = np.zeros((len(index), len(metrics)))
    counts = np.zeros((len(index), len(metrics)))
    if cells:
        ii, jj, vv = (np.array(x) for x in zip(*cells))
        np.add.at(sums, (ii.astype(int), jj.astype(int)), vv)
        np.add.at(counts, (ii.astype(int), jj.astype(int)), 1.0)
    return UnitTable(list(index), list(metrics), sums, counts)


def generator(seed: int, *keys: object) -> np.random.Generator:
    """A numpy generator for one purpose, derived like every other seed in clue."""
    import numpy as np
    return np.random.default_rng(derive(seed, *keys))


def draw_units(gen: np.random.Generator, size: int, n_units: int) -> np.ndarray:
    """``size`` bootstrap resamples of ``n_units`` unit indices, one resample per row.

    Small index types keep the draws (a large share of the work) fast and cache-friendly.
    """
    import numpy as np
    dtype = np.uint16 if n_units <= np.iinfo(np.uint16).max else np.int64
    return gen.integers(0, n_units, size=(size, n_units), dtype=dtype)


def resampled_means(gen: np.random.Generator, sums: np.ndarray, counts: np.ndarray, n_resamples: int) -> np.ndarray:
    """(n_resamples, columns) means of bootstrap resamples of the units (rows of ``sums``).

    Each resample draws ``n_units`` units with replacement; a column's mean is
    its resampled sum over its resampled count (NaN where that count is 0).
    """
    import numpy as np
    n_units, n_cols = sums.shape
    out = np.empty((n_resamples, n_cols))
    if n_units == 0:
        out.fill(np.nan)
        return out
    # Where every unit has the same count in a column (items with one value
    # each), the resampled count is a constant and needs no gathering.
    uniform = np.all(counts == counts[0], axis=0)
    varying = np.flatnonzero(~uniform)
    constant = counts[0] * n_units
    # columns first, so each resample's sum runs over contiguous memory
    table = np.ascontiguousarray(np.hstack([sums, counts[:, varying]]).T)
    chunk = max(1, min(n_resamples, _CHUNK_CELLS // (n_units * table.shape[0])))
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        # one gather of the drawn units for every column: (columns, size, n_units)
        totals = np.take(table, draw_units(gen, size, n_units), axis=1).sum(axis=2).T
        count = np.broadcast_to(constant, (size, n_cols)).copy()
        count[:, varying] = totals[:, n_cols:]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start : start + size] = totals[:, :n_cols] / count
    return out


def task_scores(means: np.ndarray) -> np.ndarray:
    """A task score per resample: the mean of its metric means, in points (%)."""
    import numpy as np
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: NaN is the answer
        return 100.0 * np.nanmean(means, axis=1)


def percentile_ci(samples: np.ndarray, confidence: float = CONFIDENCE) -> list[float] | None:
    """Percentile interval of bootstrap samples; None when no sample is finite."""
    import numpy as np
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return None
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return [float(low), float(high)]


def paired_p_value(deltas: np.ndarray) -> float:
    """Two-sided bootstrap p-value for 'no difference' (see the module note)."""
    import numpy as np
    finite = deltas[np.isfinite(deltas)]
    if finite.size == 0:
        return float("nan")
    at_most = int(np.count_nonzero(finite <= 0))
    at_least = int(np.count_nonzero(finite >= 0))
    return min(1.0, 2.0 * (min(at_most, at_least) + 1) / (finite.size + 1))


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts.

    ``only_a``: pairs A got right and B wrong; ``only_b``: the reverse. Under
    the null each discordant pair falls either way with probability 1/2.
    Exact integer arithmetic, so it holds for thousands of pairs.
    """
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    tail = sum(comb(n, i) for i in range(k + 1))
    return min(1.0, 2 * tail / 2**n)


def contingency(a: Sequence[bool], b: Sequence[bool]) -> dict[str, int]:
    """2x2 table of paired correctness."""
    import numpy as np
    arr_a = np.asarray(a, dtype=bool)
    arr_b = np.asarray(b, dtype=bool)
    return {
        "both_correct": int(np.count_nonzero(arr_a & arr_b)),
        "only_a_correct": int(np.count_nonzero(arr_a & ~arr_b)),
        "only_b_correct": int(np.count_nonzero(~arr_a & arr_b)),
        "both_wrong": int(np.count_nonzero(~arr_a & ~arr_b)),
    }

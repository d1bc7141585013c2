"""Small-sample honesty: when a paired difference supports a verdict, and the exact tests used when n is small.

The paired bootstrap cannot say anything about one item: its resamples all
repeat that item, the interval has zero width and the p-value is only the
resampling floor 1/(R+1). So, stated once and used by compare, pairs, the
report and ``clue run``'s table:

- **minimum n**: no interval and no verdict below ``MIN_ITEMS`` (10) paired
  items, or ``MIN_CLUSTERS`` (5) paired clusters for a task that resamples
  clusters (LongHealth's patients, each holding many questions). With fewer
  items a 95% percentile interval rests on a handful of distinct resamples
  (one item: one), and its tails are one or two of them. Clusters average many
  questions each, so fewer are needed; at five the exact test's smallest p is
  2/2^5 = 0.0625, so five clusters can say "not significant" but never more,
  which is what five clusters support;
- **exact test for small n**: from ``MIN`` up to ``EXACT_MAX`` (20) units the
  p-value is the paired sign-flip permutation test, enumerating all 2^n
  flips of the per-unit differences (exact, no resampling floor); above it the
  paired bootstrap p, whose floor 2/(R+1) (two-sided, see
  ``clue.stats.bootstrap``) is printed as ``p <= 2/(R+1)``;
- **degenerate interval**: an interval of zero width (every resample gave the
  same difference) is reported as such, with the reason, never as a range.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import comb

MIN_ITEMS = 10  # paired items below which no interval and no verdict is given
MIN_CLUSTERS = 5  # paired clusters (LongHealth patients) below which the same holds
EXACT_MAX = 20  # up to this many units the p-value enumerates all 2^n sign flips
TIE = 1e-9  # |T(s)| >= |T_obs| - TIE counts as "at least as extreme" (floating-point ties)


def minimum_units(unit: str) -> int:
    """The fewest paired units a verdict needs: ``MIN_ITEMS`` items, or ``MIN_CLUSTERS`` clusters."""
    return MIN_ITEMS if unit in ("item", "", None) else MIN_CLUSTERS


def too_few(n_units: int, unit: str) -> str | None:
    """Why no verdict is given (``"too few items (n=1) for a verdict"``), or None when there are enough."""
    need = minimum_units(unit)
    if n_units >= need:
        return None
    noun = "items" if unit in ("item", "", None) else f"{unit}s"
    return f"too few {noun} (n={n_units}) for a verdict; at least {need} are needed"


def sign_flip_p(differences: Sequence[float]) -> float:
    """Exact two-sided paired permutation p-value of sum(differences) = 0, by full enumeration.

    Under "no difference" each unit's B - A is as likely to be A - B: the 2^n
    sign patterns are equally likely. p = #{s : |sum s_i d_i| >= |sum d_i|} / 2^n,
    so p is at least 2 / 2^n (the observed pattern and its mirror) unless
    every difference is 0 (then p = 1). Meant for n <= ``EXACT_MAX``; the work
    is 2^n * n, done in chunks.
    """
    import numpy as np

    d = np.asarray(list(differences), dtype=float)
    n = d.size
    if n == 0:
        return float("nan")
    if n > 30:
        raise ValueError(f"sign_flip_p enumerates 2^n patterns; n={n} is too many")
    observed = abs(float(d.sum()))
    if observed <= TIE:
        return 1.0
    total = 1 << n
    bits = np.arange(n, dtype=np.int64)
    extreme = 0
    chunk = 1 << 16
    for start in range(0, total, chunk):
        codes = np.arange(start, min(total, start + chunk), dtype=np.int64)
        signs = 1.0 - 2.0 * ((codes[:, None] >> bits) & 1)  # bit set: that unit's difference flips
        extreme += int(np.count_nonzero(np.abs(signs @ d) >= observed - TIE))
    return extreme / total


def sign_test_p(k: int, n: int) -> float:
    """Exact two-sided sign test: k of n in one direction when each is 1/2 (scipy's binomtest)."""
    if n == 0:
        return float("nan")
    from scipy.stats import binomtest

    return float(binomtest(k, n, 0.5, alternative="two-sided").pvalue)


def binomial_two_sided(k: int, n: int) -> float:
    """The same p-value in exact integer arithmetic (symmetric at 1/2: twice the smaller tail)."""
    if n == 0:
        return float("nan")
    low = min(k, n - k)
    return min(1.0, 2 * sum(comb(n, i) for i in range(low + 1)) / 2**n)


def p_floor(n_resamples: int) -> float:
    """The smallest bootstrap p-value R resamples can give (module note of ``clue.stats.bootstrap``)."""
    return 2.0 / (n_resamples + 1)


def at_floor(p: float | None, n_resamples: int | None) -> bool:
    """Whether a bootstrap p is at its resolution floor (no resample on the far side of 0)."""
    return p is not None and n_resamples is not None and p == p and p <= p_floor(n_resamples) * (1 + 1e-9)


def format_p(p: float | None, n_resamples: int | None = None, *, prefix: str = "p") -> str:
    """``p=0.031``; a bootstrap p at its floor as ``p <= 2/(R+1)`` (e.g. ``p <= 2/10001``), never ``p<0.001``.

    The two-sided bootstrap p is 2 (m + 1) / (R + 1) with m the resamples on the
    far side of 0, so its floor (m = 0) is 2/(R+1): the p says no more than that.
    """
    if p is None or p != p:
        return f"{prefix}=n/a"
    if at_floor(p, n_resamples):
        assert n_resamples is not None
        return f"{prefix} <= 2/{n_resamples + 1}"
    if p < 0.001:
        return f"{prefix}={p:.1e}"
    return f"{prefix}={p:.3f}"


def degenerate(ci: Sequence[float] | None) -> bool:
    """A zero-width interval: every resample gave the same difference."""
    return ci is not None and abs(ci[1] - ci[0]) < 1e-12


DEGENERATE_REASON = ("zero-width interval: every resample gave the same difference "
                     "(the paired items all differ by the same amount, or there is one unit)")

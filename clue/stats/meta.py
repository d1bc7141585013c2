"""Across pairs: random-effects pooling of paired differences, and adjusting p-values for many tests.

Kept implementations, not our own arithmetic:

- ``pool`` calls statsmodels' ``combine_effects`` (``statsmodels.stats.meta_analysis``)
  with ``method_re="chi2"``: the DerSimonian-Laird method-of-moments estimate
  of tau^2 (between-pair variance). The pooled estimate and its 95% interval
  are the random-effects ones with normal quantiles (``use_t=False``);
  I^2 = (Q - df) / Q, floored at 0; when Q <= df, tau^2 is 0 (DerSimonian-Laird's
  truncation, which statsmodels 0.15 leaves to the caller) and the estimate is the
  fixed-effect one. The 95% prediction interval for the
  difference of a *new* pair is Higgins, Thompson & Spiegelhalter (2009):
  mu +- t_{k-2, 0.975} * sqrt(tau^2 + se(mu)^2), so it needs k >= 3 pairs.
- ``adjust`` calls statsmodels' ``multipletests``: Holm's step-down
  (family-wise error) and Benjamini-Hochberg (false discovery rate).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

ESTIMATOR = "DerSimonian-Laird (statsmodels combine_effects, method_re='chi2')"
PREDICTION = "Higgins-Thompson-Spiegelhalter: mu +- t(k-2) * sqrt(tau2 + se^2)"


def pool(effects: Sequence[float], ses: Sequence[float], confidence: float = 0.95) -> dict[str, Any]:
    """Random-effects (DerSimonian-Laird) pooled estimate of per-pair differences with standard errors.

    Returns ``k``, ``estimate``, ``se``, ``ci``, ``tau2``, ``i2`` (a fraction),
    ``q`` (Cochran's Q), ``prediction_interval`` (None below 3 pairs), and
    ``fixed`` (the inverse-variance estimate). A standard error of 0 (a
    degenerate per-pair interval) has no finite weight: such pairs must be
    left out by the caller, which says so.
    """
    import numpy as np
    from scipy.stats import t as student_t
    from statsmodels.stats.meta_analysis import combine_effects

    y = np.asarray(list(effects), dtype=float)
    s = np.asarray(list(ses), dtype=float)
    k = int(y.size)
    if k < 2:
        raise ValueError("pooling needs at least two pairs")
    if not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ValueError("every pair needs a positive, finite standard error")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # Q = 0 (identical pairs): statsmodels divides by it
        res = combine_effects(y, s**2, method_re="chi2", use_t=False, alpha=1.0 - confidence)
    ci_fe, ci_re = res.conf_int(alpha=1.0 - confidence, use_t=False)[:2]
    q = float(res.q)
    if float(res.tau2) > 0:
        tau2, mu, se = float(res.tau2), float(res.mean_effect_re), float(res.sd_eff_w_re)
        i2 = max(0.0, float(res.i2))
    else:
        # DerSimonian-Laird truncates tau^2 at 0 (Q <= df); statsmodels 0.15 returns the negative
        # moment estimate, so the random-effects estimate is then the fixed-effect one, as DL defines it
        tau2, mu, se, i2 = 0.0, float(res.mean_effect_fe), float(res.sd_eff_w_fe), 0.0
        ci_re = ci_fe
    pi = None
    if k >= 3:
        half = float(student_t.ppf(0.5 + confidence / 2, k - 2)) * float(np.sqrt(tau2 + se**2))
        pi = [mu - half, mu + half]
    return {
        "k": k,
        "estimate": mu,
        "se": se,
        "ci": [float(ci_re[0]), float(ci_re[1])],
        "tau2": tau2,
        "i2": i2,
        "q": q,
        "prediction_interval": pi,
        "fixed": {"estimate": float(res.mean_effect_fe), "ci": [float(ci_fe[0]), float(ci_fe[1])]},
        "estimator": ESTIMATOR,
    }


def adjust(p_values: Sequence[float | None], alpha: float = 0.05) -> tuple[list[float | None], list[float | None]]:
    """(Holm, Benjamini-Hochberg) adjusted p-values (statsmodels ``multipletests``), in the given order.

    None or NaN entries (tests not made: too few items) are not counted as tests
    and stay None.
    """
    from statsmodels.stats.multitest import multipletests

    index = [i for i, p in enumerate(p_values) if p is not None and p == p]
    holm: list[float | None] = [None] * len(p_values)
    bh: list[float | None] = [None] * len(p_values)
    if index:
        ps = [float(p) for p in p_values if p is not None and p == p]
        adjusted_holm = multipletests(ps, alpha=alpha, method="holm")[1]
        adjusted_bh = multipletests(ps, alpha=alpha, method="fdr_bh")[1]
        for j, i in enumerate(index):
            holm[i], bh[i] = float(adjusted_holm[j]), float(adjusted_bh[j])
    return holm, bh

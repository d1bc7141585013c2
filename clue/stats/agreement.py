"""Agreement statistics among raters: ICC (Shrout and Fleiss's six forms), Krippendorff's alpha, weighted kappa.

Everything works on a *rating matrix*: one row per item, one column per rater,
NaN where a rater did not rate an item. docs/judges.md says how to read the figures.

- ICC: the six forms of Shrout and Fleiss (1979) from the two-way ANOVA mean
  squares, on the items every rater rated (the others are listed, not imputed).
  The formulas are vectorised over bootstrap resamples here (a library call per
  resample would take minutes); tests check them against the paper's worked
  example and against pingouin's ``intraclass_corr``.
- Krippendorff's alpha: the ``krippendorff`` package (missing ratings allowed;
  nominal, ordinal, interval, ratio).
- Cohen's weighted kappa (two raters): statsmodels' ``cohens_kappa`` on the
  contingency table over the ordered union of the two raters' categories.
- Spearman's rho: scipy.
- Intervals: percentile bootstrap, 95%, resampling items with replacement,
  seeded through ``clue.core.seeding.derive`` per criterion and figure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from clue.core.errors import require
from clue.core.seeding import derive

if TYPE_CHECKING:
    import numpy as np

ICC_FORMS = ("icc1_1", "icc2_1", "icc3_1", "icc1_k", "icc2_k", "icc3_k")
ALPHA_LEVELS = ("nominal", "ordinal", "interval", "ratio")
ALPHA_KEYS = tuple(f"alpha_{level}" for level in ALPHA_LEVELS)
CONFIDENCE = 0.95
EXTRA = "agreement"


def _krippendorff() -> Any:
    return require("krippendorff", EXTRA, "Krippendorff's alpha (clue agreement)")


def icc(x: np.ndarray) -> dict[str, float]:
    """The six Shrout-Fleiss ICCs of a complete (items, raters) matrix."""
    values = icc_batch(x[None, :, :])
    return {key: float(v[0]) for key, v in values.items()}


def icc_batch(x: np.ndarray) -> dict[str, np.ndarray]:
    """The six ICCs of each (items, raters) matrix in a (resamples, items, raters) stack."""
    import numpy as np

    _, n, k = x.shape
    if n < 2 or k < 2:
        nan = np.full(x.shape[0], np.nan)
        return {key: nan for key in ICC_FORMS}
    grand = x.mean(axis=(1, 2), keepdims=True)
    rows = x.mean(axis=2, keepdims=True)
    cols = x.mean(axis=1, keepdims=True)
    ss_total = ((x - grand) ** 2).sum(axis=(1, 2))
    ss_rows = k * ((rows - grand) ** 2).sum(axis=(1, 2))
    ss_cols = n * ((cols - grand) ** 2).sum(axis=(1, 2))
    bms = ss_rows / (n - 1)  # between targets
    wms = (ss_total - ss_rows) / (n * (k - 1))  # within targets
    jms = ss_cols / (k - 1)  # between judges
    ems = (ss_total - ss_rows - ss_cols) / ((n - 1) * (k - 1))  # residual
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "icc1_1": (bms - wms) / (bms + (k - 1) * wms),
            "icc2_1": (bms - ems) / (bms + (k - 1) * ems + k * (jms - ems) / n),
            "icc3_1": (bms - ems) / (bms + (k - 1) * ems),
            "icc1_k": (bms - wms) / bms,
            "icc2_k": (bms - ems) / (bms + (jms - ems) / n),
            "icc3_k": (bms - ems) / bms,
        }


def alpha(x: np.ndarray, level: str) -> float:
    """Krippendorff's alpha of an (items, raters) matrix with NaN for missing ratings."""
    import numpy as np

    usable = np.sum(~np.isnan(x), axis=1) >= 2
    data = x[usable]
    if data.shape[0] < 1 or len(np.unique(data[~np.isnan(data)])) < 2:
        return float("nan")
    return float(_krippendorff().alpha(reliability_data=data.T, level_of_measurement=level))


def alphas(x: np.ndarray) -> dict[str, float]:
    return {f"alpha_{level}": alpha(x, level) for level in ALPHA_LEVELS}


def weighted_kappa(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, weights: str = "linear") -> float:
    """Cohen's weighted kappa of two raters (``weights``: linear or quadratic), categories ordered by value."""
    import numpy as np

    inter_rater = require("statsmodels.stats.inter_rater", EXTRA, "Cohen's weighted kappa (clue agreement)")
    a_arr, b_arr = np.asarray(a, float), np.asarray(b, float)
    categories = np.unique(np.concatenate([a_arr, b_arr]))
    if len(categories) < 2:
        return float("nan")
    index = {value: i for i, value in enumerate(categories)}
    table = np.zeros((len(categories), len(categories)))
    for x, y in zip(a_arr, b_arr):
        table[index[x], index[y]] += 1
    wt = {"linear": "linear", "quadratic": "quadratic"}[weights]
    # weights=category values: the distance between categories is the distance between their scores
    return float(inter_rater.cohens_kappa(table, weights=categories, wt=wt, return_results=False))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    import numpy as np

    stats = require("scipy.stats", EXTRA, "Spearman's rho (clue agreement)")
    ok = ~(np.isnan(a) | np.isnan(b))
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return float("nan")
    return float(stats.spearmanr(a[ok], b[ok]).statistic)


def resample_indices(n: int, resamples: int, seed: int, *keys: object) -> np.ndarray:
    import numpy as np

    rng = np.random.default_rng(derive(seed, *keys))
    return rng.integers(0, n, size=(resamples, n))


def percentile_interval(values: np.ndarray) -> list[float] | None:
    import numpy as np

    finite = values[np.isfinite(values)]
    if len(finite) < max(10, len(values) // 2):
        return None
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return [float(low), float(high)]


def with_interval(point: float, draws: np.ndarray) -> dict[str, Any]:
    return {"value": None if point != point else point, "ci": percentile_interval(draws)}


def bootstrap_figures(
    x: np.ndarray, figures: Callable[[np.ndarray], dict[str, float]], idx: np.ndarray
) -> dict[str, dict[str, Any]]:
    """``figures(matrix)`` on the full matrix and on each resample of its rows (``idx``), with intervals."""
    import numpy as np

    point = figures(x)
    draws = {key: np.empty(len(idx)) for key in point}
    for r, rows in enumerate(idx):
        for key, value in figures(x[rows]).items():
            draws[key][r] = value
    return {key: with_interval(point[key], draws[key]) for key in point}


def icc_figures(x: np.ndarray, idx: np.ndarray) -> dict[str, dict[str, Any]]:
    """The six ICCs with intervals (vectorised over the resamples) of a complete matrix."""
    point = icc(x)
    draws = icc_batch(x[idx])
    return {key: with_interval(point[key], draws[key]) for key in ICC_FORMS}


def rater_agreement(x: np.ndarray, raters: Sequence[str], *, resamples: int, seed: int, key: str,
                    kappa_scale: bool = True) -> dict[str, Any]:
    """Among the raters of one criterion: ICC (complete items), alpha (all items), kappa for two raters."""
    import numpy as np

    complete = ~np.isnan(x).any(axis=1)
    out: dict[str, Any] = {"n_items": int(x.shape[0]), "n_raters": len(raters), "n_complete": int(complete.sum())}
    xc = x[complete]
    out["icc"] = icc_figures(xc, resample_indices(len(xc), resamples, seed, key, "icc")) if len(xc) >= 2 else {}
    out["alpha"] = bootstrap_figures(x, alphas, resample_indices(len(x), resamples, seed, key, "alpha"))
    if len(raters) == 2 and kappa_scale and len(xc) >= 2:
        def kappas(m: np.ndarray) -> dict[str, float]:
            return {f"kappa_{w}": weighted_kappa(m[:, 0], m[:, 1], w) for w in ("linear", "quadratic")}
        out["kappa"] = bootstrap_figures(xc, kappas, resample_indices(len(xc), resamples, seed, key, "kappa"))
    return out


def against_metric(x: np.ndarray, metric: np.ndarray, *, resamples: int, seed: int, key: str) -> dict[str, Any]:
    """One metric (on the raters' scale) against the raters, on the items all of them rated.

    - ``with_metric``: ICC and alpha with the metric as one more rater;
    - ``spearman_mean``: Spearman's rho of the metric against the raters' mean;
    - ``spearman_loo`` / ``ceiling_spearman_loo``: leaving each rater out in turn, the metric's and that
      rater's rho against the mean of the remaining raters, averaged over raters (the clinician ceiling);
    - ``in_place`` / ``ceiling``: ICC and alpha of the panel with one rater replaced by the metric
      (averaged over raters) beside the panel's own figures.
    """
    import numpy as np

    ok = ~np.isnan(x).any(axis=1) & ~np.isnan(metric)
    xs, ms = x[ok], metric[ok]
    k = xs.shape[1]
    out: dict[str, Any] = {"n_items": int(ok.sum())}
    if ok.sum() < 3 or k < 2:
        out["too_few_items"] = True
        return out
    both = np.column_stack([xs, ms])
    idx = resample_indices(len(xs), resamples, seed, key, "against")
    out["with_metric"] = {**icc_figures(both, idx), **bootstrap_figures(both, alphas, idx)}

    def rhos(m: np.ndarray) -> dict[str, float]:
        panel, value = m[:, :k], m[:, k]
        loo_metric, loo_rater = [], []
        for r in range(k):
            rest = np.delete(panel, r, axis=1).mean(axis=1)
            loo_metric.append(spearman(value, rest))
            loo_rater.append(spearman(panel[:, r], rest))
        return {"spearman_mean": spearman(value, panel.mean(axis=1)),
                "spearman_loo": float(np.nanmean(loo_metric)) if not np.isnan(loo_metric).all() else float("nan"),
                "ceiling_spearman_loo": float(np.nanmean(loo_rater)) if not np.isnan(loo_rater).all() else float("nan")}

    def replaced(m: np.ndarray) -> dict[str, float]:
        panel, value = m[:, :k], m[:, k:]
        figures: dict[str, list[float]] = {}
        for r in range(k):
            swapped = np.column_stack([np.delete(panel, r, axis=1), value])
            for name, v in {**icc(swapped), "alpha_interval": alpha(swapped, "interval")}.items():
                figures.setdefault(name, []).append(v)
        return {name: float(np.mean(v)) for name, v in figures.items()}

    def panel_only(m: np.ndarray) -> dict[str, float]:
        return {**icc(m[:, :k]), "alpha_interval": alpha(m[:, :k], "interval")}

    out.update(bootstrap_figures(both, rhos, idx))
    out["in_place"] = bootstrap_figures(both, replaced, idx)
    out["ceiling"] = bootstrap_figures(both, panel_only, idx)
    return out

"""``clue agreement``: how far raters agree, and how far a metric agrees with them (docs/judges.md).

RATINGS is a CSV or JSONL file of ``item, rater, score`` with an optional
``criterion``: one row per rating. Per criterion the raters' agreement is
computed (clue.stats.agreement); with ``--against RUN_DIR --metric NAME`` each
metric's per-item values from the run's predictions are one more rater, matched
to the ratings' items by prediction id (``task/item``) or item id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clue.core.errors import UsageError
from clue.core.results import read_run
from clue.core.seeding import DEFAULT_SEED
from clue.core.versions import installed_versions
from clue.formats.ratings import Rating, read_ratings
from clue.stats import agreement as stats


@dataclass
class Agreement:
    """The agreement figures of one ratings file, per criterion (``to_json`` is ``--json OUT``)."""

    source: str
    criteria: dict[str, dict[str, Any]] = field(default_factory=dict)
    resamples: int = 1000
    seed: int = DEFAULT_SEED

    def to_json(self) -> dict[str, Any]:
        return {"ratings": self.source, "resamples": self.resamples, "seed": self.seed,
                "confidence": stats.CONFIDENCE, "packages": installed_versions(AGREEMENT_PACKAGES),
                "criteria": self.criteria}


#: the libraries that compute the agreement figures (pinned in the agreement extra; recorded in every result)
AGREEMENT_PACKAGES = ("krippendorff", "statsmodels", "scipy", "numpy")


def matrix(ratings: Sequence[Rating]) -> tuple[list[str], list[str], Any]:
    """(items, raters, (items, raters) matrix with NaN where a rater did not rate an item)."""
    import numpy as np

    items = sorted({r.item for r in ratings}, key=_natural)
    raters = sorted({r.rater for r in ratings}, key=_natural)
    where_item = {item: i for i, item in enumerate(items)}
    where_rater = {rater: j for j, rater in enumerate(raters)}
    x = np.full((len(items), len(raters)), np.nan)
    for r in ratings:
        x[where_item[r.item], where_rater[r.rater]] = r.score
    return items, raters, x


def _natural(text: str) -> tuple[int, float, str]:
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)


def metric_values(run_dir: Path, name: str) -> dict[str, float]:
    """A metric's per-item values in a run, keyed by prediction id and (where unambiguous) by item id."""
    run = read_run(run_dir)
    by_id: dict[str, float] = {}
    by_item: dict[str, list[float]] = {}
    task_filter, _, metric = name.rpartition(":")
    for task in run.tasks:
        if task_filter and task != task_filter:
            continue
        path = run.predictions_path(task)
        if not path.is_file():
            continue
        for row in run.predictions(task):
            value = (row.metrics or {}).get(metric)
            judged = row.extra.get("judge")
            if value is None and isinstance(judged, dict) and isinstance(judged.get(metric), dict):
                value = judged[metric].get("value")  # a judge metric (clue run --judge)
            if isinstance(value, (int, float)):
                by_id[row.id] = float(value)
                by_item.setdefault(row.item_id or row.id, []).append(float(value))
    if not by_id:
        raise UsageError(f"{run_dir}: no per-item values of metric {metric!r}"
                         + (f" in task {task_filter!r}" if task_filter else "") + " in its predictions")
    out = {item: values[0] for item, values in by_item.items() if len(values) == 1}
    out.update(by_id)
    return out


def to_scale(values: Any, low: float, high: float) -> Any:
    """A metric's values mapped linearly from [0, 1] (or their own range where they leave it) onto the raters' scale."""
    import numpy as np

    finite = values[np.isfinite(values)]
    lo, hi = (0.0, 1.0) if finite.size == 0 or (finite.min() >= 0 and finite.max() <= 1) else (finite.min(), finite.max())
    if hi == lo:
        return np.full_like(values, (low + high) / 2)
    return low + (values - lo) / (hi - lo) * (high - low)


def compute(
    ratings_path: Path,
    *,
    against: Path | None = None,
    metrics: Sequence[str] = (),
    resamples: int = 1000,
    seed: int = DEFAULT_SEED,
) -> Agreement:
    """The raters' agreement per criterion, and each metric's against them when ``against`` names a run."""
    import numpy as np

    if metrics and against is None:
        raise UsageError("--metric needs --against RUN_DIR (the run whose per-item values are compared)")
    if against is not None and not metrics:
        raise UsageError("--against needs at least one --metric NAME (e.g. rougeL, or meqsum:rougeL)")
    ratings = read_ratings(ratings_path)
    values = {name: metric_values(against, name) for name in metrics} if against is not None else {}
    result = Agreement(str(ratings_path), resamples=resamples, seed=seed)
    criteria = sorted({r.criterion for r in ratings}, key=_natural)
    for criterion in criteria:
        items, raters, x = matrix([r for r in ratings if r.criterion == criterion])
        counts = (~np.isnan(x)).sum(axis=1)
        entry: dict[str, Any] = {
            "raters": raters,
            "scale": [float(np.nanmin(x)), float(np.nanmax(x))],
            "too_few_ratings": [item for item, c in zip(items, counts) if c < 2],
            "incomplete_items": [item for item, c in zip(items, counts) if 2 <= c < len(raters)],
        }
        entry.update(stats.rater_agreement(x, raters, resamples=resamples, seed=seed, key=criterion))
        if values:
            low, high = entry["scale"]
            entry["against"] = {}
            for name, per_item in values.items():
                column = np.array([per_item.get(item, np.nan) for item in items])
                found = int(np.isfinite(column).sum())
                figures = stats.against_metric(x, to_scale(column, low, high), resamples=resamples, seed=seed,
                                               key=f"{criterion}:{name}")
                entry["against"][name] = {"items_with_value": found, **figures}
        result.criteria[criterion] = entry
    return result


def table_rows(result: Agreement) -> list[tuple[str, ...]]:
    """One row per criterion and figure: (criterion, figure, value, 95% CI)."""
    rows: list[tuple[str, ...]] = []
    for criterion, entry in result.criteria.items():
        n = f"{entry['n_items']} items, {entry['n_raters']} raters ({entry['n_complete']} complete)"
        rows.append((criterion, n, "", ""))
        groups = [("", entry.get("icc", {})), ("", entry.get("alpha", {})), ("", entry.get("kappa", {}))]
        for name, figures in entry.get("against", {}).items():
            if figures.get("too_few_items"):
                rows.append(("", f"{name}: too few items", "", ""))
                continue
            groups.append((f"{name}: ", {k: v for k, v in figures.items() if k.startswith(("spearman", "ceiling_spearman"))}))
            groups.append((f"{name} with: ", {k: figures["with_metric"][k] for k in ("icc2_1", "icc3_1", "alpha_interval")}))
            groups.append((f"{name} in place: ", {k: figures["in_place"][k] for k in ("icc2_1", "alpha_interval")}))
            groups.append(("clinicians: ", {k: figures["ceiling"][k] for k in ("icc2_1", "alpha_interval")}))
        for prefix, figures in groups:
            for key, fig in figures.items():
                rows.append(("", prefix + key, _fmt(fig["value"]), _ci(fig["ci"])))
    return rows


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _ci(ci: list[float] | None) -> str:
    return "-" if ci is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]"

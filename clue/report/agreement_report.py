"""The agreement part of ``clue report --ratings RATINGS``: a table (CSV) and a figure (PNG, SVG).

The table is every figure of ``clue agreement`` (one row per criterion, subject and
figure, with its 95% interval); the figure draws, per criterion, the clinicians'
ICC(2,1) and interval alpha beside each metric's ICC(2,1) and interval alpha in place
of one clinician and its leave-one-out Spearman beside the clinicians' own.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from clue.core.errors import require
from clue.report.agreement import Agreement


def flat_rows(result: Agreement) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(criterion: str, subject: str, figures: dict[str, Any]) -> None:
        for name, fig in figures.items():
            if isinstance(fig, dict) and "value" in fig:
                ci = fig.get("ci") or [None, None]
                rows.append({"criterion": criterion, "subject": subject, "figure": name, "value": fig["value"],
                             "ci_low": ci[0], "ci_high": ci[1]})

    for criterion, entry in result.criteria.items():
        for group in ("icc", "alpha", "kappa"):
            add(criterion, "raters", entry.get(group, {}))
        for metric, figures in entry.get("against", {}).items():
            add(criterion, metric, {k: v for k, v in figures.items() if k.startswith(("spearman", "ceiling_spearman"))})
            for part in ("with_metric", "in_place"):
                add(criterion, f"{metric} ({part.replace('_', ' ')})", figures.get(part, {}))
            add(criterion, f"raters beside {metric}", figures.get("ceiling", {}))
    return rows


def write_table(path: Path, result: Agreement) -> Path:
    rows = flat_rows(result)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["criterion", "subject", "figure", "value", "ci_low", "ci_high"])
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in row.items()})
    return path


def write_figure(folder: Path, result: Agreement) -> list[Path]:
    """``agreement.png`` and ``agreement.svg``: point ranges per criterion (needs the report extra)."""
    matplotlib = require("matplotlib", "report", "Drawing the agreement figure")
    matplotlib.use("Agg", force=True)
    matplotlib.rcParams.update({"svg.hashsalt": "clue-report", "font.size": 9})
    import matplotlib.pyplot as plt

    criteria = list(result.criteria)
    fig, axes = plt.subplots(1, len(criteria), figsize=(4.2 * len(criteria), 3.2), squeeze=False, sharex=True)
    for ax, criterion in zip(axes[0], criteria):
        entry = result.criteria[criterion]
        points: list[tuple[str, dict[str, Any], str]] = [
            ("raters ICC(2,1)", entry.get("icc", {}).get("icc2_1", {}), "#1f5f8b"),
            ("raters alpha (interval)", entry.get("alpha", {}).get("alpha_interval", {}), "#1f5f8b"),
        ]
        for metric, figures in entry.get("against", {}).items():
            if figures.get("too_few_items"):
                continue
            points += [
                (f"{metric} in place: ICC(2,1)", figures["in_place"]["icc2_1"], "#d9822b"),
                (f"{metric} in place: alpha", figures["in_place"]["alpha_interval"], "#d9822b"),
                (f"{metric}: rho vs others", figures["spearman_loo"], "#d9822b"),
                ("raters: rho vs others", figures["ceiling_spearman_loo"], "#1f5f8b"),
            ]
        for y, (_label, fig_, colour) in enumerate(reversed(points)):
            value, ci = fig_.get("value"), fig_.get("ci")
            if value is None:
                continue
            if ci:
                ax.plot(ci, [y, y], color=colour, lw=1.5)
            ax.plot([value], [y], "o", color=colour)
        ax.set_yticks(range(len(points)))
        ax.set_yticklabels([p[0] for p in reversed(points)])
        ax.axvline(0, color="#8a8f94", lw=0.8)
        ax.set_title(criterion)
        ax.set_xlim(-0.5, 1.0)
    fig.suptitle("Agreement with 95% bootstrap intervals (items resampled)")
    fig.tight_layout()
    paths = [folder / "agreement.png", folder / "agreement.svg"]
    fig.savefig(paths[0], dpi=150)
    fig.savefig(paths[1], metadata={"Date": None})
    plt.close(fig)
    return paths

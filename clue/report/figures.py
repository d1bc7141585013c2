"""The report's figures (matplotlib, Agg backend; each written as PNG and SVG).

- ``levels``: level 1 against level 2, one point per model, with an arrow from
  each base model to its biomedical model (solid: your runs; dashed: published);
- ``tasks``: per-task scores of the runs, bars with their 95% intervals;
- ``pairs``: per pair, the difference biomedical - base on each level, with the
  paired 95% interval where there is one;
- ``cost``: each run's score against what it cost (the price when every run
  has one, else GPU-hours, else generation time, else tokens).
  paired 95% interval where there is one (and, for runs made with prompt
  variants, the mean difference over variants with its items-and-variants interval);
- ``forest``: per task, level and task kind, each pair's difference with its
  95% interval and the random-effects pooled diamond with the prediction
  interval for a new pair (your runs; ``clue.report.pooled``);
- ``variants``: for runs made with ``clue run --variants``, each run's score
  under every variant (dots), the mean over variants and the range, per task and level.

Every figure gives a run the same colour (``run_colors``: the palette in the
order of the sorted run names), score axes run from 0 to 100, and a legend
names only what the figure draws.

Files are reproducible: no timestamps, a fixed SVG id salt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from clue.core.errors import require
from clue.report.leaderboard import Entry, entry_levels, tasks_present
from clue.report.pairs import PairResult
from clue.report.taskinfo import level_order, level_title, task_title

PALETTE = ("#1f5f8b", "#d9822b", "#3a8a4f", "#b03a48", "#6c4f9c", "#7a6a53", "#c45ca2", "#5f6b73", "#9aa33b", "#2b9aa3")
BELOW, ABOVE, NEUTRAL = "#b03a48", "#3a8a4f", "#8a8f94"


def _pyplot():
    matplotlib = require("matplotlib", "report", "Drawing the report's figures")
    matplotlib.use("Agg", force=True)
    matplotlib.rcParams.update({"svg.hashsalt": "clue-report", "font.size": 9, "axes.spines.top": False,
                                "axes.spines.right": False, "svg.fonttype": "path"})
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, out: Path, stem: str) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"png": out / f"{stem}.png", "svg": out / f"{stem}.svg"}
    # Written under a temporary name and renamed, like every output file.
    for fmt, path in paths.items():
        tmp = path.with_name(f".{path.name}.tmp")
        metadata = {"Date": None} if fmt == "svg" else {"Software": None}
        fig.savefig(tmp, format=fmt, dpi=144, bbox_inches="tight", metadata=metadata)
        tmp.replace(path)
    fig.clf()
    return paths


def run_colors(entries: Sequence[Entry]) -> dict[str, str]:
    """One colour per run name, the same in every figure: the palette in the order of the sorted names."""
    names = sorted({e.name for e in entries if not e.published})
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def score_limits(ax: Any, axis: str = "y") -> None:
    """A score axis (%) from 0 to 100: the same distance means the same difference in every figure,
    and two equal scores never look far apart because the axis zoomed in on them."""
    (ax.set_ylim if axis == "y" else ax.set_xlim)(0, 100)


def merged_labels(points: Sequence[tuple[str, float, float]], span: tuple[float, float]) -> list[tuple[str, float, float]]:
    """(text, x, y): names whose points lie within 1% of the axes' span of each other share one label
    ("a, c"), so two runs with equal scores are not written over each other."""
    out: list[tuple[list[str], float, float]] = []
    for name, x, y in points:
        for names, ox, oy in out:
            if abs(ox - x) <= 0.01 * span[0] and abs(oy - y) <= 0.01 * span[1]:
                names.append(name)
                break
        else:
            out.append(([name], x, y))
    return [(", ".join(sorted(names)), x, y) for names, x, y in out]


def levels_figure(entries: Sequence[Entry], pairs: Sequence[PairResult], out: Path,
                  colors: Mapping[str, str] | None = None) -> dict[str, Path] | None:
    """Level 1 vs level 2; arrows base -> biomedical. The legend names only what is drawn."""
    placed = [e for e in entries if e.level("level1") is not None and e.level("level2") is not None]
    if not placed:
        return None
    colors = run_colors(entries) if colors is None else colors
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 6))
    handles = []
    for e in placed:
        x, y = e.level("level1"), e.level("level2")
        if e.published:
            ax.scatter([x], [y], s=28, facecolors="none", edgecolors=NEUTRAL, linewidths=1.0, zorder=2)
            ax.annotate(e.name, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=6.5, color="#555")
        else:
            ax.scatter([x], [y], s=46, color=colors[e.name], zorder=3)
            handles.append(plt.Line2D([], [], marker="o", linestyle="", color=colors[e.name], label=e.name))
    mine = [(e.name, e.level("level1") or 0.0, e.level("level2") or 0.0) for e in placed if not e.published]
    for text, x, y in merged_labels(mine, (100.0, 100.0)):
        ax.annotate(text, (x, y), xytext=(5, 4), textcoords="offset points", fontsize=8, weight="bold")
    if any(e.published for e in placed):
        handles.append(plt.Line2D([], [], marker="o", linestyle="", markerfacecolor="none", color=NEUTRAL,
                                  label="published (June 2024)"))
    drawn: set[tuple[str, str]] = set()  # (colour, source) of each arrow drawn
    for r in pairs:
        a, b = r.base, r.biomedical
        if None in (a.level("level1"), a.level("level2"), b.level("level1"), b.level("level2")):
            continue
        overall = r.cell("overall")
        color = NEUTRAL if not overall else (BELOW if overall["delta"] < 0 else ABOVE)
        drawn.add((color, r.source))
        ax.annotate(
            "", xy=(b.level("level1"), b.level("level2")), xytext=(a.level("level1"), a.level("level2")),
            arrowprops={"arrowstyle": "->", "color": color, "lw": 1.4 if r.source == "runs" else 0.9,
                        "linestyle": "-" if r.source == "runs" else "--", "shrinkA": 4, "shrinkB": 4},
            zorder=1,
        )
    what = {BELOW: "biomedical below base (overall)", ABOVE: "biomedical above base (overall)",
            NEUTRAL: "no overall score for the pair"}
    for color in (BELOW, ABOVE, NEUTRAL):
        for source, style, lw in (("runs", "-", 1.4), ("published", "--", 0.9)):
            if (color, source) in drawn:
                label = what[color] + (", published" if source == "published" else ", your runs")
                handles.append(plt.Line2D([], [], color=color, linestyle=style, lw=lw, label=label))
    ax.set_xlabel("Level 1 score (%)")
    ax.set_ylabel("Level 2 score (%)")
    score_limits(ax, "x")
    score_limits(ax, "y")
    ax.set_title("Level 1 vs level 2" + (": arrows go from each base model to its biomedical model" if drawn else ""))
    ax.grid(True, alpha=0.25)
    ax.legend(handles=handles, loc="upper left", fontsize=7, frameon=False)  # scores sit low and right of it
    paths = _save(fig, out, "levels")
    plt.close(fig)
    return paths


def tasks_figure(entries: Sequence[Entry], out: Path, colors: Mapping[str, str] | None = None) -> dict[str, Path] | None:
    """Grouped bars: one group per task (and level), one bar per run, with 95% intervals."""
    runs = [e for e in entries if not e.published]
    colors = run_colors(entries) if colors is None else colors
    columns = [*tasks_present(runs), *entry_levels(runs)]
    if not any(e.score(t)[0] is not None for e in runs for t in columns):
        return None
    plt = _pyplot()
    width = 0.8 / len(runs)
    fig, ax = plt.subplots(figsize=(min(16.0, max(7.0, 1.1 * len(columns) + 0.1 * len(runs) * len(columns))), 4.6))
    for i, e in enumerate(runs):
        xs, ys, lo, hi, hatches = [], [], [], [], []
        for j, col in enumerate(columns):
            score, ci, complete = e.score(col)
            if score is None:
                continue
            xs.append(j - 0.4 + width * (i + 0.5))
            ys.append(score)
            # max(0, ...): a percentile interval need not contain the point estimate
            # (float noise, or a very small sample); matplotlib rejects negative lengths.
            lo.append(max(0.0, score - ci[0]) if ci else 0.0)
            hi.append(max(0.0, ci[1] - score) if ci else 0.0)
            hatches.append("" if complete else "///")
        bars = ax.bar(xs, ys, width=width * 0.92, color=colors[e.name], label=e.name,
                      yerr=[lo, hi], capsize=2, error_kw={"elinewidth": 0.8, "ecolor": "#333"})
        for bar, hatch in zip(bars, hatches):
            bar.set_hatch(hatch)
    ax.set_xticks(range(len(columns)))
    manifests = [e.manifest for e in runs]
    titles = [level_title(c, *(e.results for e in runs)) if c in entry_levels(runs) else task_title(c, *manifests) for c in columns]
    ax.set_xticklabels(titles, rotation=20, ha="right")
    ax.axvline(len(columns) - len(entry_levels(runs)) - 0.5, color="#ccc", lw=0.8)
    ax.set_ylabel("score (%)")
    score_limits(ax)
    ax.set_title("Scores by task with 95% bootstrap intervals (hatched: incomplete)")
    ax.legend(fontsize=7, frameon=False, ncol=min(6, len(runs)), loc="upper center", bbox_to_anchor=(0.5, -0.22))
    paths = _save(fig, out, "tasks")
    plt.close(fig)
    return paths


def pairs_figure(pairs: Sequence[PairResult], out: Path) -> dict[str, Path] | None:
    """Per pair: delta (biomedical - base) on each level; runs with intervals, published without."""
    panels = [(src, [r for r in pairs if r.source == src]) for src in ("runs", "published")]
    panels = [(src, rs) for src, rs in panels if any(r.cell(lv) for r in rs for lv in level_order())]
    if not panels:
        return None
    plt = _pyplot()
    heights = [max(1.6, 0.42 * len(rs) + 0.9) for _, rs in panels]
    fig, axes = plt.subplots(len(panels), 1, figsize=(7.5, sum(heights)), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    level_colors = dict(zip(level_order(), ("#1f5f8b", "#d9822b", "#333333")))
    for ax, (source, results) in zip(axes[:, 0], panels):
        labels = []
        bar_h = 0.8 / len(level_order())
        for i, r in enumerate(results):
            labels.append(f"{r.biomedical.name}\n← {r.base.name}")
            for k, level in enumerate(level_order()):
                cell = r.cell(level)
                if not cell:
                    continue
                y = i - 0.4 + bar_h * (k + 0.5)
                ci = cell.get("ci")
                err = [[max(0.0, cell["delta"] - ci[0])], [max(0.0, ci[1] - cell["delta"])]] if ci else None
                ax.barh([y], [cell["delta"]], height=bar_h * 0.9, color=level_colors[level],
                        alpha=1.0 if cell.get("significant") in (True, None) else 0.45,
                        xerr=err, capsize=2, error_kw={"elinewidth": 0.8},
                        label=level_title(level))
                across = cell.get("variants")
                if across:
                    vci = across.get("ci")
                    verr = ([[max(0.0, across["delta"] - vci[0])], [max(0.0, vci[1] - across["delta"])]]
                            if vci else None)
                    # just below the bar's centre, so the two intervals stay apart
                    ax.errorbar([across["delta"]], [y + bar_h * 0.28], xerr=verr, fmt="D", color="#111",
                                markersize=3, elinewidth=0.9, capsize=2,
                                label="mean over prompt variants (items and variants resampled)")
        ax.set_yticks(range(len(results)))
        ax.set_yticklabels(labels, fontsize=7)
        ax.set_ylim(len(results) - 0.5, -0.5)  # first pair on top, every row the same height
        ax.axvline(0, color="#333", lw=0.8)
        lo, hi = ax.get_xlim()
        span = max(hi, 0.0) - min(lo, 0.0) or 1.0
        ax.set_xlim(min(lo, 0.0) - 0.08 * span, max(hi, 0.0) + 0.08 * span)
        ax.set_xlabel("biomedical − base (points)")
        title = ("Your runs: paired 95% intervals (faded: not significant)" if source == "runs"
                 else "Published (June 2024): single runs, no intervals")
        ax.set_title(title, fontsize=9)
        handles, names = ax.get_legend_handles_labels()
        unique = dict(zip(names, handles))
        if any(r.cell(lv).get("variants") for r in results for lv in level_order()):
            # four entries: right of the axes, where they cover no bar
            ax.legend(unique.values(), unique.keys(), fontsize=7, frameon=False, loc="center left",
                      bbox_to_anchor=(1.01, 0.5))
        else:
            ax.legend(unique.values(), unique.keys(), fontsize=7, frameon=False, loc="lower right")
        ax.grid(True, axis="x", alpha=0.25)
    fig.tight_layout()
    paths = _save(fig, out, "pairs")
    plt.close(fig)
    return paths


# What the cost figure's x axis shows: the first measure every placed run has (key, axis label).
COST_MEASURES = (("cost", "cost ({currency})"), ("gpu_hours", "GPU-hours"), ("generation_s", "generation time (s)"),
                 ("tokens", "prompt + completion tokens"))


def _cost_value(e: Entry, key: str) -> float | None:
    c = e.cost
    if key == "cost":
        value = c.get("total_cost", c.get("token_cost"))
    elif key == "tokens":
        value = None if c.get("prompt_tokens") is None else c["prompt_tokens"] + (c.get("completion_tokens") or 0)
    else:
        value = c.get(key)
    return None if value is None else float(value)


def cost_axis(runs: Sequence[Entry]) -> tuple[str, str] | None:
    """The measure the cost figure plots: one that every run has (and GPU-hours only if some run held a GPU)."""
    for key, label in COST_MEASURES:
        values = [_cost_value(e, key) for e in runs]
        if any(v is None for v in values):
            continue
        if key == "gpu_hours" and not any(values):
            continue
        if key == "cost":
            currencies = {(e.cost.get("price") or {}).get("currency") for e in runs}
            if len(currencies) != 1:
                continue
            label = label.format(currency=currencies.pop())
        return key, label
    return None


def cost_figure(entries: Sequence[Entry], out: Path, colors: Mapping[str, str] | None = None) -> dict[str, Path] | None:
    """Score (overall, else level 1) against cost, one point per run."""
    colors = run_colors(entries) if colors is None else colors
    runs = [e for e in entries if not e.published and e.cost]
    level = "overall" if any(e.level("overall") is not None for e in runs) else "level1"
    runs = [e for e in runs if e.level(level) is not None]
    axis = cost_axis(runs) if runs else None
    if axis is None:
        return None
    key, label = axis
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 4.8))
    xs = [_cost_value(e, key) or 0.0 for e in runs]
    for e, x in zip(runs, xs):
        y = e.level(level)
        complete = e.results.level_complete(level)
        ax.scatter([x], [y], s=46, color=colors[e.name], zorder=3,
                   facecolors=colors[e.name] if complete else "none", clip_on=False)
    positive = [x for x in xs if x > 0]
    if len(positive) == len(xs) and max(xs) / min(positive) > 100:
        ax.set_xscale("log")
    else:
        ax.set_xlim(0, max(xs) * 1.1 or 1.0)  # from zero: equal costs are not spread apart
    score_limits(ax)
    lo, hi = ax.get_xlim()
    for text, x, y in merged_labels([(e.name, x, e.level(level) or 0.0) for e, x in zip(runs, xs)],
                                    (hi - lo if ax.get_xscale() == "linear" else max(xs), 100.0)):
        ax.annotate(text, (x, y), xytext=(5, 4), textcoords="offset points", fontsize=8)
    ax.set_xlabel(label)
    ax.set_ylabel(f"{level_title(level)} score (%)")
    ax.set_title(f"{level_title(level)} score against {label.split(' (')[0]} (hollow: incomplete score)")
    ax.grid(True, alpha=0.25)
    paths = _save(fig, out, "cost")
    plt.close(fig)
    return paths


def variants_figure(entries: Sequence[Entry], out: Path, colors: Mapping[str, str] | None = None) -> dict[str, Path] | None:
    """Per task and level, each run's score under every variant: dots, the mean (bar) and the range (line)."""
    colors = run_colors(entries) if colors is None else colors
    blocks = {e.name: e.results.variants or {} for e in entries if not e.published}
    runs = [e for e in entries if not e.published and blocks[e.name].get("tasks")]
    if not runs:
        return None
    columns = [t for t in tasks_present(runs) if any(t in blocks[e.name]["tasks"] for e in runs)]
    columns += [lv for lv in entry_levels(runs) if any(lv in blocks[e.name].get("levels", {}) for e in runs)]
    plt = _pyplot()
    width = 0.8 / len(runs)
    fig, ax = plt.subplots(figsize=(min(16.0, max(7.0, 1.2 * len(columns) + 0.15 * len(runs) * len(columns))), 4.8))
    for i, e in enumerate(runs):
        block = blocks[e.name]
        color = colors[e.name]
        for j, col in enumerate(columns):
            part = (block.get("levels", {}) if col in entry_levels(runs) else block["tasks"]).get(col)
            if not part or part.get("mean") is None:
                continue
            x = j - 0.4 + width * (i + 0.5)
            scores = [s for s in part["scores"].values() if s is not None]
            ax.bar([x], [part["mean"]], width=width * 0.85, color=color, alpha=0.35,
                   label=f"{e.name} ({len(block['names'])} variants)" if j == 0 or col == columns[0] else None)
            ax.vlines([x], part["min"], part["max"], color=color, lw=1.6)
            # spread the dots a little across the bar so equal scores stay visible as one mark
            offsets = [(k - (len(scores) - 1) / 2) * min(width * 0.6 / max(len(scores), 1), 0.04) for k in range(len(scores))]
            ax.scatter([x + o for o in offsets], scores, s=9, color=color, edgecolors="white", linewidths=0.3, zorder=3,
                       clip_on=False)  # a dot at 0 or 100 is drawn whole
    ax.set_xticks(range(len(columns)))
    titles = [level_title(c, *(e.results for e in runs)) if c in entry_levels(runs) else task_title(c) for c in columns]
    ax.set_xticklabels(titles, rotation=20, ha="right")
    ax.set_ylabel("score (%)")
    score_limits(ax)
    ax.set_title("Scores across prompt variants: dots = variants, bar = mean, line = range")
    handles, names = ax.get_legend_handles_labels()
    unique = dict(zip(names, handles))
    ax.legend(unique.values(), unique.keys(), fontsize=7, frameon=False, ncol=min(4, len(runs)), loc="upper center",
              bbox_to_anchor=(0.5, -0.22))
    paths = _save(fig, out, "variants")
    plt.close(fig)
    return paths


def forest_panels(pooled: Mapping[str, Any] | None) -> list[tuple[str, Mapping[str, Any]]]:
    """(title, block) for each task, level and task kind of your runs' pooled section with a pair to draw."""
    runs = (pooled or {}).get("runs") or {}
    panels: list[tuple[str, Mapping[str, Any]]] = []
    for part, title_of in (("tasks", lambda k, b: b.get("title") or k), ("levels", lambda k, b: b.get("title") or k),
                           ("kinds", lambda k, b: f"kind: {k}")):
        for key, b in (runs.get(part) or {}).items():
            if b.get("pairs"):
                panels.append((str(title_of(key, b)), b))
    return panels


def forest_figure(pooled: Mapping[str, Any] | None, out: Path) -> dict[str, Path] | None:
    """Forest plot: per task, level and task kind, one row per pair (difference and 95% interval) and the
    random-effects pooled diamond (its 95% CI) with the prediction interval for a new pair as a thin line."""
    panels = forest_panels(pooled)
    if not panels:
        return None
    plt = _pyplot()
    cols = 2 if len(panels) > 1 else 1
    rows_n = (len(panels) + cols - 1) // cols
    most = max(len(b["pairs"]) for _, b in panels)
    fig, axes = plt.subplots(rows_n, cols, figsize=(4.2 * cols, rows_n * (0.32 * most + 1.6)), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax, (title, b) in zip(axes.flat, panels):
        labels = []
        for i, p in enumerate(b["pairs"]):
            text = f"{p['biomedical']} − {p['base']}"
            labels.append(text if len(text) <= 48 else text[:47] + "…")  # long names would squeeze the axes away
            ci = p.get("ci")
            if ci is None and p.get("se"):
                ci = [p["delta"] - 1.96 * p["se"], p["delta"] + 1.96 * p["se"]]
            pooled_in = p.get("se") is not None and p["se"] > 0
            color = BELOW if p["delta"] < 0 else ABOVE if p["delta"] > 0 else NEUTRAL
            err = [[max(0.0, p["delta"] - ci[0])], [max(0.0, ci[1] - p["delta"])]] if ci else None
            ax.errorbar([p["delta"]], [i], xerr=err, fmt="s" if pooled_in else "o", color=color,
                        mfc=color if pooled_in else "white", markersize=4, elinewidth=0.9, capsize=2)
        y = len(b["pairs"]) + 0.3
        est = b.get("pooled")
        if est:
            lo, hi = est["ci"]
            ax.fill([lo, est["estimate"], hi, est["estimate"]], [y, y - 0.3, y, y + 0.3], color="#111")
            if est.get("prediction_interval"):
                ax.plot(est["prediction_interval"], [y, y], color="#111", lw=0.8)
            labels.append(f"pooled (DL), I² {100 * est['i2']:.0f}%")
        else:
            labels.append("not pooled")
        ax.set_yticks([*range(len(b["pairs"])), y])
        ax.set_yticklabels(labels, fontsize=7)
        ax.set_ylim(y + 0.7, -0.7)
        ax.axvline(0, color="#333", lw=0.8)
        ax.set_title(f"{title}: {b['k_declining']} of {b['n']} decline", fontsize=8)
        ax.set_xlabel("biomedical − base (points)", fontsize=7)
        ax.grid(True, axis="x", alpha=0.25)
    fig.tight_layout()
    paths = _save(fig, out, "forest")
    plt.close(fig)
    return paths


def write_figures(entries: Sequence[Entry], pairs: Sequence[PairResult], out: Path,
                  pooled: Mapping[str, Any] | None = None) -> dict[str, dict[str, Path]]:
    colors = run_colors(entries)  # once, so a run has the same colour in every figure
    figures = {
        "levels": levels_figure(entries, pairs, out, colors),
        "tasks": tasks_figure(entries, out, colors),
        "pairs": pairs_figure(pairs, out),
        "cost": cost_figure(entries, out, colors),
        "variants": variants_figure(entries, out, colors),
        "forest": forest_figure(pooled, out),
    }
    return {k: v for k, v in figures.items() if v}

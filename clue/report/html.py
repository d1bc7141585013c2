"""``clue report``: every file of a report, and its one self-contained HTML page.

The page must open anywhere, including a hospital network with no internet:
CSS and JavaScript are inline, figures are inlined as ``data:`` SVG, and
nothing refers to another host (no CDN, no web font). A headless Chromium
test checks that loading it sends no request anywhere.

Per-item outputs are left out unless asked for: ``show_items`` adds the
items of public tasks (MeQSum, LongHealth); credentialed tasks (derived from
MIMIC; the run's manifest records each task's access class) need
``allow_credentialed_items`` as well, and the page then says on top that it
holds credentialed text and must not be shared.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from clue import __version__
from clue.core.errors import MissingExtra, UsageError, require
from clue.core.seeding import DEFAULT_SEED
from clue.report.figures import write_figures
from clue.report.items import PAIR_ITEM_FIELDS, pair_items
from clue.report.leaderboard import (
    COST_TITLES,
    Entry,
    diagnostic_columns,
    diagnostics_rows,
    entry_levels,
    fmt_cost,
    fmt_diag,
    leaderboard_rows,
    load_run,
    run_folders,
    tasks_present,
    unique_names,
    write_leaderboard,
)
from clue.report.pairs import (
    PairResult,
    PairSet,
    compare_pairs,
    fmt_delta,
    fmt_p,
    fmt_variants,
    headline,
    load_pairs,
    pair_rows,
    write_pairs,
)
from clue.report.pooled import pooled_section
from clue.report.published import load_published
from clue.report.tables import fmt_score, write_text
from clue.report.taskinfo import level_title, task_title

ITEM_FIELDS = ("id", "subtask", "prompt_hash", "truncated", "output", "error", "parsed", "gold", "metrics")


@dataclass
class ReportOptions:
    out: Path
    pairs: str | Path | None = None
    published: str | Path | None = None  # a CSV, or a shipped table by name (clue-2024-06)
    show_items: bool = False
    allow_credentialed_items: bool = False
    seed: int = DEFAULT_SEED
    n_resamples: int = 10000
    title: str = "CLUE report"


@dataclass
class Report:
    entries: list[Entry]
    pairs: list[PairResult]
    files: dict[str, Path] = field(default_factory=dict)
    items_included: dict[str, list[str]] = field(default_factory=dict)  # run -> tasks
    items_withheld: dict[str, list[str]] = field(default_factory=dict)
    pooled: dict[str, Any] | None = None  # pairs.json "pooled" (clue.report.pooled), with --pairs
    # what could not be written and why (an optional extra that is not installed): part -> message
    skipped: dict[str, str] = field(default_factory=dict)


def build_report(run_dirs: Sequence[str | Path], options: ReportOptions) -> Report:
    """Read the runs (and published rows), compare the pairs, write every file under ``options.out``."""
    if options.allow_credentialed_items and not options.show_items:
        raise UsageError("--allow-credentialed-items only widens --show-items; give both")
    entries = [load_run(p) for p in run_folders(run_dirs)]
    unique_names(entries)
    if options.published is not None:
        entries += load_published(options.published)
    if not entries:
        raise UsageError("nothing to report: give run directories (or --published)")
    pairset: PairSet | None = load_pairs(options.pairs) if options.pairs else None
    pairs = compare_pairs(pairset, entries, seed=options.seed, n_resamples=options.n_resamples) if pairset else []
    out = Path(options.out)
    report = Report(entries, pairs)
    report.files.update(write_leaderboard(entries, out))
    if pairset is not None:
        report.pooled = pooled_section(pairs)
        report.files.update(write_pairs(pairs, out, report.pooled))
    # Figures and the page need the report extra (matplotlib, jinja2): without it the
    # tables above are still written, and the report says what was left out and why.
    try:
        figures = write_figures(entries, pairs, out / "figures", report.pooled)
    except MissingExtra as exc:
        figures = {}
        report.skipped["figures"] = str(exc)
    for name, paths in figures.items():
        for fmt, path in paths.items():
            report.files[f"figures/{name}.{fmt}"] = path
    items = collect_items(entries, options, report)
    paired = pair_items(pairs, report.items_included) if options.show_items and pairs else {}
    try:
        html = render_html(entries, pairs, figures, items, options, report, paired)
    except MissingExtra as exc:
        report.skipped["report.html"] = str(exc)
    else:
        report.files["report.html"] = write_text(out / "report.html", html)
    return report


def collect_items(entries: Sequence[Entry], options: ReportOptions, report: Report) -> dict[str, dict[str, list]]:
    """Per run and task, the prediction rows the page may show (see the module docstring)."""
    items: dict[str, dict[str, list]] = {}
    for e in entries:
        if e.published:
            continue
        for task in e.results.tasks:
            public = e.access(task) == "public"
            if not options.show_items or not (public or options.allow_credentialed_items):
                report.items_withheld.setdefault(e.name, []).append(task)
                continue
            rows = [[fmt_item_metrics(row.metrics) if k == "metrics" else getattr(row, k) for k in ITEM_FIELDS]
                    for row in e.prediction_rows(task)]
            items.setdefault(e.name, {})[task] = rows
            report.items_included.setdefault(e.name, []).append(task)
    return items


def _finite(obj: Any) -> Any:
    """``obj`` with every NaN or infinity (which JSON cannot hold) as the text Python writes for it."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return repr(obj).replace("nan", "NaN").replace("inf", "Infinity")
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def fmt_item_metrics(metrics: Any) -> Any:
    """One item's metrics as the tables show scores: ``rouge1 21.4, rouge2 7.7`` (names, %, one decimal)."""
    if not isinstance(metrics, dict):
        return metrics
    parts = []
    for name, value in metrics.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isfinite(value):
            parts.append(f"{name} NaN" if value != value else f"{name} {value}")
        elif isinstance(value, (bool, int, float)):
            parts.append(f"{name} {100.0 * float(value):.1f}")
        else:
            parts.append(f"{name} {'–' if value is None else value}")
    return ", ".join(parts)


def _json_for_script(obj: Any) -> str:
    """JSON that cannot end the <script> element it sits in, whatever the model wrote (NaN shown as text)."""
    text = json.dumps(_finite(obj), ensure_ascii=False, allow_nan=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _svg_data_uri(path: Path) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _credentialed_included(entries: Sequence[Entry], report: Report) -> list[str]:
    by_name = {e.name: e for e in entries}
    return sorted({t for run, tasks in report.items_included.items() for t in tasks
                   if by_name[run].access(t) != "public"})


def leaderboard_groups(entries: Sequence[Entry]) -> list[dict[str, Any]]:
    """The leaderboard's rows split by comparability group (``ranked``): one table each on the page,
    like leaderboard.md: its caption says what the rows were scored on and, after the first, why apart."""
    groups: list[dict[str, Any]] = []
    for row in leaderboard_rows(entries):
        if not groups or groups[-1]["group"] != row["group"]:
            groups.append({"group": row["group"], "scored_on": row["scored_on"], "apart": row["apart"], "rows": []})
        groups[-1]["rows"].append(row)
    return groups


def render_html(
    entries: Sequence[Entry],
    pairs: Sequence[PairResult],
    figures: dict[str, dict[str, Path]],
    items: dict[str, dict[str, list]],
    options: ReportOptions,
    report: Report,
    paired: dict[str, Any] | None = None,
) -> str:
    jinja2 = require("jinja2", "report", "Writing the HTML report")
    template_text = (resources.files("clue.report") / "templates" / "report.html.j2").read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.globals.update(fmt_score=fmt_score, fmt_delta=fmt_delta, fmt_p=fmt_p, fmt_diag=fmt_diag, fmt_cost=fmt_cost,
                       fmt_variants=fmt_variants)
    tasks = tasks_present(entries)
    manifests = [e.manifest for e in entries]
    runs = [e.results for e in entries]  # level columns: of the entries' suites (CLUE unless a run records another)
    columns = [(t, task_title(t, *manifests)) for t in tasks] + [(lv, level_title(lv, *runs)) for lv in entry_levels(entries)]
    figure_info = {
        "levels": "Level 1 against level 2, both axes 0–100. Arrows go from each base model to its biomedical model "
                  "(red: lower overall score than the base; green: higher; grey: no overall score; dashed: "
                  "published rows); the legend names only what is drawn. Models without a level-2 score are not shown.",
        "tasks": "Scores of your runs by task and level with 95% bootstrap intervals; hatched bars are incomplete. "
                 "Each run keeps its colour in every figure; score axes run from 0 to 100.",
        "pairs": "Difference biomedical − base on each level; your runs with paired 95% intervals "
                 "(faded bars are not significant), published pairs as single numbers. Where both runs were made "
                 "with prompt variants, a black diamond marks the mean difference over variants with its interval "
                 "resampling items and variants.",
        "variants": "Each run's score under every prompt variant (dots), the mean over variants (bar) and the "
                    "range (line), per task and level; a wide range means the score depends on how the task is asked.",
        "forest": "Forest plot, your runs: per task, level and task kind, each pair's difference biomedical − base "
                  "with its paired 95% interval (open circles: too few items or a zero-width interval, left out of "
                  "the pooling) and the random-effects (DerSimonian-Laird) pooled difference as a diamond spanning "
                  "its 95% CI; the thin line is the 95% prediction interval for a new pair.",
        "cost": "Score of each run against what it cost: the price when every run has one, else GPU-hours, "
                "else generation time, else tokens (see cost.md for every column).",
    }
    runs_info = [
        {
            "name": e.name, "path": str(e.path), "model": e.model, "backend": e.results.backend,
            "layout": e.manifest.backend.get("chat_layout") if e.manifest else None,
            "seed": e.results.seed, "limit": e.manifest.limit if e.manifest else None,
            "finished": e.manifest.finished if e.manifest else None,
        }
        for e in entries if not e.published
    ]
    template = env.from_string(template_text)
    return template.render(
        title=options.title,
        version=__version__,
        generated=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        columns=columns,
        leaderboard_groups=leaderboard_groups(entries),
        diagnostics=diagnostics_rows(entries),
        diagnostic_columns=[(col.key, col.title) for _, col in diagnostic_columns()],
        cost_rows=[r for r in leaderboard_rows(entries) if r["source"] == "run" and r["prompt_tokens"] is not None],
        cost_columns=list(COST_TITLES.items()),
        pairs=pair_rows(pairs),
        pairs_requested=options.pairs is not None,
        headlines=[*headline(pairs, "runs"), *headline(pairs, "published")],
        column_titles={c: t for c, t in columns},
        comparisons=[r for r in pairs if r.comparison is not None],
        pooled=_finite(report.pooled) if report.pooled else None,
        figures=[(name, _svg_data_uri(paths["svg"]), figure_info[name]) for name, paths in figures.items()],
        runs=runs_info,
        published=options.published is not None,
        items_json=_json_for_script({"fields": list(ITEM_FIELDS), "runs": items}),
        has_items=bool(items),
        pair_items_json=_json_for_script({"fields": list(PAIR_ITEM_FIELDS), "pairs": paired or {}}),
        has_pair_items=bool(paired),
        withheld=report.items_withheld,
        credentialed_included=_credentialed_included(entries, report),
        resamples=options.n_resamples,
    )

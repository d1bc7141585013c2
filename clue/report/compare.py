"""Paired comparison of two runs on the same items: is B really better or worse than A?

``compare_runs(run_a, run_b)`` reads each run directory's ``results.json`` and
``predictions/<task>.jsonl`` and returns a plain dict (schema
``clue.compare/1``, below). Rows are paired by request id. Per task and per
level it reports the difference B - A in points with a paired-bootstrap 95%
interval and two-sided p-value (the same resample of items, LongHealth
patients, applied to both runs; see ``clue.stats.bootstrap``), McNemar's exact
test for the accuracy tasks (MedNLI; each LongHealth sub-task), and a verdict
line a reader can quote. Requests present in only one run, or scored in only
one, are listed by id, never silently dropped; the scores compared are those
of the paired requests, which equal the runs' own scores when nothing is
unpaired.

Returned dict::

    schema, a/b: {run, model, label}, seed, n_resamples, confidence, significance,
    tasks: {task: {
        title, unit, metrics, n_paired, n_units,
        score_a, score_b, delta, ci, p_value, significant, verdict,
        metric_deltas: {metric: {a, b, delta, ci, p_value}},
        mcnemar: {metric: {both_correct, only_a_correct, only_b_correct, both_wrong, p_value}},
        only_in_a / only_in_b / unscored_in_a / unscored_in_b: {count, ids},
        metrics_only_in_a, metrics_only_in_b, warnings}},
    tasks_only_in_a, tasks_only_in_b,
    levels: {level: {tasks, score_a, score_b, delta, ci, p_value, significant, verdict}
                     or {tasks, available: false, reason}},
    verdicts: [line, ...], warnings: [line, ...]

All scores and differences are in points (%). ``significant`` means the 95%
interval excludes 0.

When both runs were made with ``clue run --variants``, each task and level
also gets ``variants``: {n_variants, varies, delta (mean over variants of
B - A), ci and p_value (resampling units and variants together), significant,
per_variant: {variant: delta}, pattern (below/above/equal/mixed), sign_share,
words ("below A in every wording", "depends on wording"), verdict}; the
top level gets ``variant_verdicts`` and ``variant_names``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from clue.core.errors import DataError
from clue.core.files import read_json_dict, read_jsonl
from clue.core.seeding import DEFAULT_SEED
from clue.report.taskinfo import task_info
from clue.stats.bootstrap import (
    CONFIDENCE,
    UnitTable,
    contingency,
    generator,
    mcnemar_exact,
    paired_p_value,
    percentile_ci,
    resampled_means,
    task_scores,
    unit_of,
    unit_table,
)
from clue.stats.variants import paired_variant_samples, resample_variants, sign_pattern
from clue.tasks.base import base_request_id
from clue.tasks.suite import run_suite

COMPARE_SCHEMA = "clue.compare/1"
LEVEL_TITLES = {"level1": "level 1", "level2": "level 2", "overall": "the overall score"}
MINUS = "\u2212"


def declared_levels(results_a: Mapping[str, Any], results_b: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """The levels two runs are compared on: their suite's (CLUE unless recorded); none when their suites differ."""
    suite_a, suite_b = run_suite(results_a), run_suite(results_b)
    return suite_a.level_members() if suite_a == suite_b else {}


def load_run(run: Path) -> tuple[dict[str, Any], Path]:
    path = Path(run) / "results.json"
    results = read_json_dict(path, "the run's results")
    if not isinstance(results.get("tasks"), dict):
        raise DataError(path, "has no 'tasks' object; is this a clue results file?")
    return results, Path(run)


def load_rows(run: Path, task: str) -> dict[str, dict[str, Any]]:
    path = run / "predictions" / f"{task}.jsonl"
    rows: dict[str, dict[str, Any]] = {}
    for lineno, row in read_jsonl(path):
        if not isinstance(row, dict) or "id" not in row:
            raise DataError(path, "a prediction row without an 'id'", record=f"line {lineno}")
        rows[str(row["id"])] = row
    return rows


def labels(results_a: Mapping[str, Any], results_b: Mapping[str, Any], run_a: Path, run_b: Path) -> tuple[str, str]:
    """Names a reader recognises: the models, made distinct by the run folder when equal."""
    a, b = str(results_a.get("model") or "A"), str(results_b.get("model") or "B")
    if a != b:
        return a, b
    if run_a.name != run_b.name:
        return f"{a} ({run_a.name})", f"{b} ({run_b.name})"
    return "A", "B"


def signed(x: float) -> str:
    text = f"{x:.1f}"
    if text in ("-0.0", "0.0"):
        return "0.0"
    return text.replace("-", MINUS)


def format_p(p: float) -> str:
    if p != p:  # NaN
        return "p=n/a"
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


def verdict(label_a: str, label_b: str, where: str, delta: float, ci: list[float] | None, p: float) -> str:
    if ci is None:
        return f"{where}: no paired items, no comparison."
    shown = abs(delta)
    if f"{shown:.1f}" == "0.0":
        change = f"{label_b} scores within 0.1 points of {label_a}"
    else:
        change = f"{label_b} scores {shown:.1f} points {'above' if delta > 0 else 'below'} {label_a}"
    sig = "significant" if excludes_zero(ci) else "not significant"
    return f"{change} on {where} ({CONFIDENCE:.0%} CI {signed(ci[0])} to {signed(ci[1])}, {format_p(p)}): {sig}."


def excludes_zero(ci: Sequence[float] | None) -> bool:
    return ci is not None and (ci[0] > 0 or ci[1] < 0)


def id_list(ids: Sequence[str]) -> dict[str, Any]:
    return {"count": len(ids), "ids": list(ids)}


def scored_ids(rows: Mapping[str, Mapping[str, Any]]) -> set[str]:
    return {i for i, r in rows.items() if isinstance(r.get("metrics"), Mapping)}


def paired_tables(
    rows_a: Mapping[str, Mapping[str, Any]], rows_b: Mapping[str, Mapping[str, Any]], paired: Sequence[str],
    metrics: Sequence[str],
) -> tuple[UnitTable, UnitTable]:
    """Both runs' paired rows grouped by unit; the unit of each request is taken from run A,
    so both runs resample the same units."""
    units = {i: unit_of(rows_a[i]) for i in paired}

    def table(rows: Mapping[str, Mapping[str, Any]]) -> UnitTable:
        return unit_table(({**rows[i], "unit": units[i]} for i in paired), metrics, lambda r: r["unit"])

    return table(rows_a), table(rows_b)


def compare_task(
    task: str,
    summary_a: Mapping[str, Any],
    summary_b: Mapping[str, Any],
    rows_a: Mapping[str, Mapping[str, Any]],
    rows_b: Mapping[str, Mapping[str, Any]],
    labels_ab: tuple[str, str],
    seed: int,
    n_resamples: int,
    info: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], np.ndarray | None]:
    """One task's paired comparison, and its resampled deltas (for the levels).

    ``info`` is the task's declaration (``clue.report.taskinfo.task_info``):
    its title, resampling unit and paired-binary metrics (McNemar).
    """
    info = info if info is not None else task_info(task)
    metrics_a, metrics_b = list(summary_a.get("metrics", {})), list(summary_b.get("metrics", {}))
    metrics = [m for m in metrics_a if m in metrics_b]

    scored_a, scored_b = scored_ids(rows_a), scored_ids(rows_b)
    paired = [i for i in rows_a if i in scored_a and i in scored_b]
    both = [i for i in rows_a if i in rows_b]
    out: dict[str, Any] = {
        "title": str(info.get("title") or task),
        "unit": str(info.get("resampling_unit") or "item"),
        "metrics": metrics,
        "n_paired": len(paired),
        "only_in_a": id_list([i for i in rows_a if i not in rows_b]),
        "only_in_b": id_list([i for i in rows_b if i not in rows_a]),
        "unscored_in_a": id_list([i for i in both if i not in scored_a]),
        "unscored_in_b": id_list([i for i in both if i not in scored_b]),
        "metrics_only_in_a": [m for m in metrics_a if m not in metrics_b],
        "metrics_only_in_b": [m for m in metrics_b if m not in metrics_a],
        "complete": bool(summary_a.get("complete")) and bool(summary_b.get("complete")),
        "warnings": [],
    }
    for side, names in (("A", out["metrics_only_in_a"]), ("B", out["metrics_only_in_b"])):
        if names:
            out["warnings"].append(f"{task}: {', '.join(names)} computed only in run {side}; compared without it")
    for side, summary in (("A", summary_a), ("B", summary_b)):
        if summary.get("missing_metrics"):
            out["warnings"].append(
                f"{task}: incomplete in run {side} (no {', '.join(summary['missing_metrics'])}); "
                f"compared on {', '.join(metrics) or 'nothing'}"
            )
    table_a, table_b = paired_tables(rows_a, rows_b, paired, metrics)
    out["n_units"] = table_a.n_units
    title = out["title"]
    if not paired or not metrics:
        out.update(score_a=None, score_b=None, delta=None, ci=None, p_value=None, significant=False,
                   metric_deltas={}, mcnemar={})
        out["verdict"] = verdict(*labels_ab, title, 0.0, None, float("nan"))
        return out, None

    k = len(metrics)
    means = resampled_means(
        generator(seed, "paired-bootstrap", task),
        np.hstack([table_a.sums, table_b.sums]),
        np.hstack([table_a.counts, table_b.counts]),
        n_resamples,
    )
    point_a, point_b = 100.0 * table_a.means(), 100.0 * table_b.means()
    score_a, score_b = float(np.nanmean(point_a)), float(np.nanmean(point_b))
    deltas = task_scores(means[:, k:]) - task_scores(means[:, :k])
    ci = percentile_ci(deltas)
    p = paired_p_value(deltas)
    out.update(
        score_a=score_a,
        score_b=score_b,
        delta=score_b - score_a,
        ci=ci,
        p_value=p,
        significant=excludes_zero(ci),
    )
    out["metric_deltas"] = {}
    for j, name in enumerate(metrics):
        metric_deltas = 100.0 * (means[:, k + j] - means[:, j])
        out["metric_deltas"][name] = {
            "a": float(point_a[j]),
            "b": float(point_b[j]),
            "delta": float(point_b[j] - point_a[j]),
            "ci": percentile_ci(metric_deltas),
            "p_value": paired_p_value(metric_deltas),
        }
    out["mcnemar"] = {}
    for name in info.get("paired_binary") or ():
        if name not in metrics:
            continue
        pairs = [
            (rows_a[i]["metrics"][name], rows_b[i]["metrics"][name])
            for i in paired
            if rows_a[i]["metrics"].get(name) is not None and rows_b[i]["metrics"].get(name) is not None
        ]
        counts = contingency([a >= 0.5 for a, _ in pairs], [b >= 0.5 for _, b in pairs])
        p_value = mcnemar_exact(counts["only_a_correct"], counts["only_b_correct"])
        out["mcnemar"][name] = {**counts, "p_value": p_value}
    out["verdict"] = verdict(*labels_ab, title, out["delta"], ci, p)
    return out, deltas


def compare_levels(
    tasks: Mapping[str, Mapping[str, Any]], deltas: Mapping[str, np.ndarray], labels_ab: tuple[str, str],
    suite_levels: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """Level differences: the mean of the member tasks' differences, resample by resample (levels: CLUE's by default)."""
    levels: dict[str, Any] = {}
    for level, members in (declared_levels({}, {}) if suite_levels is None else suite_levels).items():
        absent = [t for t in members if t not in deltas]
        if absent:
            levels[level] = {"tasks": list(members), "available": False,
                             "reason": f"not compared in both runs: {', '.join(absent)}"}
            continue
        samples = np.mean([deltas[t] for t in members], axis=0)
        ci = percentile_ci(samples)
        p = paired_p_value(samples)
        delta = float(np.mean([tasks[t]["delta"] for t in members]))
        levels[level] = {
            "tasks": list(members),
            "available": True,
            "score_a": float(np.mean([tasks[t]["score_a"] for t in members])),
            "score_b": float(np.mean([tasks[t]["score_b"] for t in members])),
            "delta": delta,
            "ci": ci,
            "p_value": p,
            "significant": excludes_zero(ci),
            "complete": all(tasks[t]["complete"] for t in members),
            "verdict": verdict(*labels_ab, LEVEL_TITLES.get(level, level), delta, ci, p),
        }
    return levels


# -- across prompt variants (runs made with ``clue run --variants``) ----------------------------
# What the variants of a comparison differ in, as "in every ..." and "depends on ..." say it.
AXIS_WORDS = {
    "prompts": ("wording", "wording"),
    "shots": ("draw of demonstrations", "the demonstrations"),
    "order": ("answer order", "answer order"),
}


def axis_words(varies: Sequence[str]) -> tuple[str, str]:
    if len(varies) == 1 and varies[0] in AXIS_WORDS:
        return AXIS_WORDS[varies[0]]
    return ("variant", "the variant")


def variant_words(pattern: str, varies: Sequence[str], reference: str) -> str:
    """The sign of a difference across variants in words: "below its base in every wording",
    "depends on wording", ..."""
    every, depends = axis_words(varies)
    return {
        "below": f"below {reference} in every {every}",
        "above": f"above {reference} in every {every}",
        "equal": f"level with {reference} in every {every}",
        "mixed": f"depends on {depends}",
    }.get(pattern, "no variants compared")


def variant_rows(run: Path, variant: str, task: str) -> dict[str, dict[str, Any]]:
    """A variant's prediction rows, keyed by request id without the variant suffix (so the runs pair up)."""
    return {base_request_id(i): row for i, row in load_rows(run / "variants" / variant, task).items()}


def variant_summary(
    per_variant: np.ndarray, points: Sequence[float], names: Sequence[str], varies: Sequence[str],
    labels_ab: tuple[str, str], where: str, seed: int, key: str,
) -> dict[str, Any]:
    """Point, variant-aware interval and p-value, sign agreement and verdict from per-variant samples."""
    samples = resample_variants(per_variant, seed, key)
    ci = percentile_ci(samples)
    p = paired_p_value(samples)
    delta = float(np.mean(points))
    signs = sign_pattern(points)
    words = variant_words(signs["pattern"], varies, labels_ab[0])
    share = signs["sign_share"]
    held = "" if share is None else f"; the sign holds in {round(share * len(points))} of {len(points)} variants"
    return {
        "n_variants": len(points),
        "varies": list(varies),
        "delta": delta,
        "ci": ci,
        "p_value": p,
        "significant": excludes_zero(ci),
        "per_variant": {n: float(d) for n, d in zip(names, points)},
        "pattern": signs["pattern"],
        "sign_share": share,
        "words": words,
        "verdict": (f"{labels_ab[1]} against {labels_ab[0]} on {where} {words}" if signs["pattern"] == "mixed"
                    else f"{labels_ab[1]} is {words} on {where}")
        + f": mean difference {signed(delta)} points over {len(points)} variants ({CONFIDENCE:.0%} CI over items "
        f"and variants {signed(ci[0]) if ci else 'n/a'} to {signed(ci[1]) if ci else 'n/a'}, {format_p(p)}){held}.",
    }


def compare_variants(
    dir_a: Path, dir_b: Path, results_a: Mapping[str, Any], results_b: Mapping[str, Any],
    tasks: Mapping[str, Mapping[str, Any]], labels_ab: tuple[str, str], seed: int, n_resamples: int,
) -> tuple[dict[str, Any], list[str]]:
    """Per task and level: the difference B - A over the variants both runs share.

    The interval resamples units (items; LongHealth patients) and variants
    together (``clue.stats.variants``); with one variant it is the plain one.
    Returns the comparison ("tasks", "levels") and warnings.
    """
    va, vb = results_a.get("variants") or {}, results_b.get("variants") or {}
    names = [n for n in va.get("names", []) if n in vb.get("names", [])]
    warnings = []
    if va.get("names") != vb.get("names"):
        warnings.append(f"the runs' variant designs differ; compared on the {len(names)} variant(s) both ran")
    out_tasks: dict[str, Any] = {}
    columns: dict[str, dict[str, np.ndarray]] = {}  # task -> global variant -> resampled deltas
    points_of: dict[str, dict[str, float]] = {}
    for task, plain in tasks.items():
        ta, tb = (va.get("tasks") or {}).get(task), (vb.get("tasks") or {}).get(task)
        metrics = plain.get("metrics") or []
        if not ta or not tb or not names or not metrics or plain.get("score_a") is None:
            continue
        of = {g: ta["variant_of"].get(g, g) for g in names}
        own_names = list(dict.fromkeys(of.values()))
        first = {own: next(g for g in names if of[g] == own) for own in own_names}
        tables_a, tables_b, points = [], [], []
        for own in own_names:
            rows_a = variant_rows(dir_a, first[own], task)
            rows_b = variant_rows(dir_b, first[own], task)
            scored_a, scored_b = scored_ids(rows_a), scored_ids(rows_b)
            paired = [i for i in rows_a if i in scored_a and i in scored_b]
            table_a, table_b = paired_tables(rows_a, rows_b, paired, metrics)
            tables_a.append(table_a)
            tables_b.append(table_b)
            points.append(float(np.nanmean(100.0 * table_b.means()) - np.nanmean(100.0 * table_a.means())))
        per_variant = paired_variant_samples(tables_a, tables_b, seed, task, n_resamples)
        columns[task] = {g: per_variant[:, own_names.index(of[g])] for g in names}
        points_of[task] = {g: points[own_names.index(of[g])] for g in names}
        out_tasks[task] = variant_summary(per_variant, points, own_names, ta.get("varies") or [], labels_ab,
                                          str(plain.get("title") or task), seed, task)
    out_levels: dict[str, Any] = {}
    for level, members in declared_levels(results_a, results_b).items():
        if any(t not in columns for t in members):
            continue
        per_variant = np.column_stack([np.mean([columns[t][g] for t in members], axis=0) for g in names])
        points = [float(np.mean([points_of[t][g] for t in members])) for g in names]
        out_levels[level] = variant_summary(per_variant, points, names, va.get("varies") or [], labels_ab,
                                            LEVEL_TITLES.get(level, level), seed, level)
    return {"names": names, "tasks": out_tasks, "levels": out_levels}, warnings


def compare_runs(run_a: Path, run_b: Path, *, seed: int = DEFAULT_SEED, n_resamples: int = 10000) -> dict[str, Any]:
    """Compare run B against run A on their shared requests (see the module docstring)."""
    if n_resamples < 1:
        raise ValueError("n_resamples must be at least 1")
    results_a, dir_a = load_run(Path(run_a))
    results_b, dir_b = load_run(Path(run_b))
    labels_ab = labels(results_a, results_b, dir_a, dir_b)
    names_a, names_b = list(results_a["tasks"]), list(results_b["tasks"])
    manifest_a = read_json_dict(dir_a / "manifest.json", "the run's manifest") if (dir_a / "manifest.json").is_file() else {}
    tasks: dict[str, Any] = {}
    deltas: dict[str, np.ndarray] = {}
    for task in (t for t in names_a if t in names_b):
        summary, samples = compare_task(
            task, results_a["tasks"][task], results_b["tasks"][task],
            load_rows(dir_a, task), load_rows(dir_b, task), labels_ab, seed, n_resamples,
            task_info(task, manifest_a),
        )
        tasks[task] = summary
        if samples is not None:
            deltas[task] = samples
    levels = compare_levels(tasks, deltas, labels_ab, declared_levels(results_a, results_b))
    warnings = [w for t in tasks.values() for w in t["warnings"]]
    variants: dict[str, Any] | None = None
    if results_a.get("variants") and results_b.get("variants"):
        variants, variant_warnings = compare_variants(
            dir_a, dir_b, results_a, results_b, tasks, labels_ab, seed, n_resamples
        )
        warnings += variant_warnings
        for part, block in (("tasks", tasks), ("levels", levels)):
            for name, summary in variants[part].items():
                block[name]["variants"] = summary
    elif results_a.get("variants") or results_b.get("variants"):
        side = "A" if results_a.get("variants") else "B"
        warnings.append(f"only run {side} was made with --variants; compared on the protocol's prompt alone")
    warnings += settings_warnings(results_a, results_b)
    for task, t in tasks.items():
        unpaired = sum(t[k]["count"] for k in ("only_in_a", "only_in_b", "unscored_in_a", "unscored_in_b"))
        if unpaired:
            warnings.append(f"{task}: {unpaired} request(s) not paired (see only_in_* and unscored_in_*); compared on {t['n_paired']}")
    return {
        "schema": COMPARE_SCHEMA,
        "a": {"run": str(dir_a), "model": results_a.get("model"), "label": labels_ab[0]},
        "b": {"run": str(dir_b), "model": results_b.get("model"), "label": labels_ab[1]},
        "seed": seed,
        "n_resamples": n_resamples,
        "confidence": CONFIDENCE,
        "significance": f"the {CONFIDENCE:.0%} paired-bootstrap interval of B - A excludes 0",
        "tasks": tasks,
        "tasks_only_in_a": [t for t in names_a if t not in names_b],
        "tasks_only_in_b": [t for t in names_b if t not in names_a],
        "levels": levels,
        "verdicts": [t["verdict"] for t in tasks.values()]
        + [lv["verdict"] for lv in levels.values() if lv.get("available")],
        "variant_verdicts": [] if variants is None else [
            v["verdict"] for part in ("tasks", "levels") for v in variants[part].values()
        ],
        "variant_names": None if variants is None else variants["names"],
        "warnings": warnings,
    }


def settings_warnings(results_a: Mapping[str, Any], results_b: Mapping[str, Any]) -> list[str]:
    """Flag metrics computed under different settings (e.g. another BERTScore model)."""
    out = []
    settings_a = results_a.get("metric_settings") or {}
    settings_b = results_b.get("metric_settings") or {}
    for name in ("bertscore", "umls_f1"):
        a, b = settings_a.get(name), settings_b.get(name)
        if a is None or b is None:
            continue
        key_a = {k: a.get(k) for k in ("model", "layer", "weights_sha256", "idf", "files_sha256", "threshold")}
        key_b = {k: b.get(k) for k in key_a}
        if key_a != key_b:
            out.append(f"{name} was computed with different settings in the two runs; its differences mix model and metric")
    return out

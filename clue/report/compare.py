"""Paired comparison of two runs on the same items: is B really better or worse than A?

``compare_runs(run_a, run_b)`` reads both run folders (``clue.core.results.read_run``)
and returns a ``Comparison`` (schema ``clue.compare/1``; its keys are listed in
docs/report.md): per task and level the difference B - A in points with a
paired-bootstrap 95% interval and p-value (``clue.stats.paired``), McNemar's
exact test for right/wrong metrics, the requests present or scored in only one
run (listed by id, never dropped silently), and verdict lines a reader can quote.

Honest at every sample size (``clue.stats.exact``): below the minimum number
of paired units (10 items; 5 clusters) no interval, p-value or verdict is
given, only the reason; from there up to 20 units the p-value is the exact
sign-flip permutation test and "significant" means exact p < 0.05; above, the
paired bootstrap as before, its p at the resampling floor printed as
``p <= 2/(R+1)``. A zero-width interval is flagged as degenerate and never
called significant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from clue.core.results import Json, PredictionRow, Record, RunResults, TaskSummary, read_run, spec
from clue.core.seeding import DEFAULT_SEED
from clue.pipeline.variants import VARIANTS_FOLDER, variant_rows
from clue.report.taskinfo import task_info
from clue.stats.bootstrap import CONFIDENCE, UnitTable, paired_p_value, percentile_ci
from clue.stats.exact import (
    DEGENERATE_REASON,
    EXACT_MAX,
    MIN_CLUSTERS,
    MIN_ITEMS,
    degenerate,
    p_floor,
    sign_flip_p,
    too_few,
)
from clue.stats.exact import format_p as exact_format_p
from clue.stats.paired import mcnemar, paired_difference, paired_tables
from clue.stats.variants import paired_variant_samples, resample_variants, sign_pattern
from clue.tasks.suite import CLUE, run_suite

if TYPE_CHECKING:  # numpy loads when runs are compared, not when clue starts (bench/bench_startup.py)
    import numpy as np

COMPARE_SCHEMA = "clue.compare/1"
LEVEL_TITLES = {"level1": "level 1", "level2": "level 2", "overall": "the overall score"}
MINUS = "\u2212"


@dataclass
class Comparison(Record):
    """B against A: per task and level the paired difference, its interval, p-value and verdict (docs/report.md)."""

    KIND: ClassVar[str] = "comparison"
    schema: str = spec(default=COMPARE_SCHEMA)
    a: dict[str, Json] = spec(factory=dict)
    b: dict[str, Json] = spec(factory=dict)
    seed: int = spec(default=DEFAULT_SEED)
    n_resamples: int = spec(default=10000)
    confidence: float = spec(default=CONFIDENCE)
    significance: str = spec(default="")
    honesty: dict[str, Json] = spec(factory=dict)
    tasks: dict[str, dict[str, Json]] = spec(factory=dict)
    tasks_only_in_a: list[str] = spec(factory=list)
    tasks_only_in_b: list[str] = spec(factory=list)
    levels: dict[str, dict[str, Json]] = spec(factory=dict)
    verdicts: list[str] = spec(factory=list)
    variant_verdicts: list[str] = spec(factory=list)
    variant_names: list[str] | None = spec(default=None)
    warnings: list[str] = spec(factory=list)


def declared_levels(results_a: RunResults, results_b: RunResults) -> dict[str, tuple[str, ...]]:
    """The levels two runs are compared on: their suite's (CLUE unless recorded); none when their suites differ."""
    suite_a, suite_b = run_suite(results_a), run_suite(results_b)
    return suite_a.level_members() if suite_a == suite_b else {}


def labels(results_a: RunResults, results_b: RunResults, run_a: Path, run_b: Path) -> tuple[str, str]:
    """Names a reader recognises: the models, made distinct by the run folder when equal."""
    a, b = results_a.model or "A", results_b.model or "B"
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


def format_p(p: float | None, n_resamples: int | None = None) -> str:
    """``p=0.031``; a bootstrap p at its floor as ``p <= 2/(R+1)`` (``clue.stats.exact.format_p``)."""
    return exact_format_p(p, n_resamples)


def change_words(label_a: str, label_b: str, delta: float) -> str:
    shown = abs(delta)
    if f"{shown:.1f}" == "0.0":
        return f"{label_b} scores within 0.1 points of {label_a}"
    return f"{label_b} scores {shown:.1f} points {'above' if delta > 0 else 'below'} {label_a}"


def verdict(label_a: str, label_b: str, where: str, delta: float, ci: list[float] | None, p: float | None,
            *, withheld: str | None = None, n_resamples: int | None = None, significant: bool | None = None,
            test: str = "") -> str:
    """One quotable line. ``withheld``: why no verdict is given (too few items); ``n_resamples``: the
    bootstrap's R when ``p`` is a bootstrap p (its floor is printed as such)."""
    if withheld:
        return f"{change_words(label_a, label_b, delta)} on {where}: {withheld}; no interval, no test."
    if ci is None:
        return f"{where}: no paired items, no comparison."
    sig = significant if significant is not None else excludes_zero(ci)
    how = f", {test}" if test else ""
    if degenerate(ci):
        return (f"{change_words(label_a, label_b, delta)} on {where} (interval of zero width at {signed(ci[0])}: "
                f"every resample gave the same difference; {format_p(p, n_resamples)}{how}): "
                f"{'significant' if sig else 'not significant'}.")
    return (f"{change_words(label_a, label_b, delta)} on {where} ({CONFIDENCE:.0%} CI {signed(ci[0])} to "
            f"{signed(ci[1])}, {format_p(p, n_resamples)}{how}): {'significant' if sig else 'not significant'}.")


def unit_differences(table_a: UnitTable, table_b: UnitTable) -> list[float]:
    """Each unit's share of the task-score difference B - A, in points: they sum to the difference.

    The task score is the mean over metrics of sum / count, so unit u adds
    100 * mean_j((sum_b[u, j] - sum_a[u, j]) / count[j]); swapping A and B on
    a unit flips its sign, which is what the sign-flip test permutes.
    """

    counts = table_a.counts.sum(axis=0)
    usable = counts > 0
    if not usable.any():
        return []
    share = (table_b.sums[:, usable] - table_a.sums[:, usable]) / counts[usable]
    return [float(x) for x in 100.0 * share.mean(axis=1)]


def bootstrap_se(samples: np.ndarray) -> float | None:
    """The bootstrap standard error of a difference (its resamples' standard deviation)."""
    import numpy as np

    finite = samples[np.isfinite(samples)]
    if finite.size < 2:
        return None
    return float(np.std(finite, ddof=1))


def judge(delta: float, ci: list[float] | None, boot_p: float, n_units: int, unit: str,
          exact_differences: Sequence[float] | None) -> dict[str, Any]:
    """The interval, p-value, test and significance a difference supports at its sample size (module note)."""
    reason = too_few(n_units, unit)
    if reason:
        return {"ci": None, "p_value": None, "significant": False, "test": None, "withheld": reason,
                "ci_degenerate": False}
    if exact_differences is not None and n_units <= EXACT_MAX:
        p = sign_flip_p(exact_differences)
        test = f"exact sign-flip test over 2^{n_units} flips"
        sig = p < 1.0 - CONFIDENCE and not degenerate(ci)
    else:
        p, test = boot_p, "paired bootstrap"
        sig = excludes_zero(ci) and not degenerate(ci)
    out: dict[str, Any] = {"ci": ci, "p_value": p, "significant": sig, "test": test, "withheld": None,
                           "ci_degenerate": degenerate(ci)}
    if out["ci_degenerate"]:
        out["ci_note"] = DEGENERATE_REASON
    return out


def excludes_zero(ci: Sequence[float] | None) -> bool:
    return ci is not None and (ci[0] > 0 or ci[1] < 0)


def id_list(ids: Sequence[str]) -> dict[str, Any]:
    return {"count": len(ids), "ids": list(ids)}


def scored_ids(rows: Mapping[str, PredictionRow]) -> set[str]:
    return {i for i, r in rows.items() if r.scored}


def compare_task(
    task: str,
    summary_a: TaskSummary,
    summary_b: TaskSummary,
    rows_a: Mapping[str, PredictionRow],
    rows_b: Mapping[str, PredictionRow],
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
    metrics_a, metrics_b = list(summary_a.metrics), list(summary_b.metrics)
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
        "complete": summary_a.complete and summary_b.complete,
        "warnings": [],
    }
    for side, names in (("A", out["metrics_only_in_a"]), ("B", out["metrics_only_in_b"])):
        if names:
            out["warnings"].append(f"{task}: {', '.join(names)} computed only in run {side}; compared without it")
    for side, summary in (("A", summary_a), ("B", summary_b)):
        if summary.missing_metrics:
            out["warnings"].append(
                f"{task}: incomplete in run {side} (no {', '.join(summary.missing_metrics)}); "
                f"compared on {', '.join(metrics) or 'nothing'}"
            )
    table_a, table_b = paired_tables(rows_a, rows_b, paired, metrics)
    out["n_units"] = table_a.n_units
    title = out["title"]
    if not paired or not metrics:
        out.update(score_a=None, score_b=None, delta=None, ci=None, p_value=None, significant=False,
                   metric_deltas={}, mcnemar={}, test=None, withheld=None, ci_degenerate=False, se=None)
        out["verdict"] = verdict(*labels_ab, title, 0.0, None, float("nan"))
        return out, None

    diff = paired_difference(table_a, table_b, seed, task, n_resamples)
    judged = judge(diff.delta, diff.ci, diff.p_value, table_a.n_units, out["unit"],
                   unit_differences(table_a, table_b) if table_a.n_units <= EXACT_MAX else None)
    out.update(score_a=diff.score_a, score_b=diff.score_b, delta=diff.delta, **judged,
               se=None if judged["withheld"] else bootstrap_se(diff.deltas))
    out["metric_deltas"] = diff.metric_deltas
    if judged["withheld"]:
        for m in out["metric_deltas"].values():
            m.update(ci=None, p_value=None)
    out["mcnemar"] = {name: mcnemar(rows_a, rows_b, paired, name)
                      for name in info.get("paired_binary") or () if name in metrics}
    out["verdict"] = verdict(*labels_ab, title, out["delta"], out["ci"], out["p_value"], withheld=judged["withheld"],
                             n_resamples=n_resamples if judged["test"] == "paired bootstrap" else None,
                             significant=judged["significant"], test=judged["test"] or "")
    return out, diff.deltas


def compare_levels(
    tasks: Mapping[str, Mapping[str, Any]], deltas: Mapping[str, np.ndarray], labels_ab: tuple[str, str],
    suite_levels: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """Level differences: the mean of the member tasks' differences, resample by resample (levels: CLUE's by default)."""
    import numpy as np

    levels: dict[str, Any] = {}
    for level, members in (CLUE.level_members() if suite_levels is None else suite_levels).items():
        absent = [t for t in members if t not in deltas]
        if absent:
            levels[level] = {"tasks": list(members), "available": False,
                             "reason": f"not compared in both runs: {', '.join(absent)}"}
            continue
        samples = np.mean([deltas[t] for t in members], axis=0)
        delta = float(np.mean([tasks[t]["delta"] for t in members]))
        few = [f"{t} n={tasks[t]['n_units']}" + ("" if tasks[t]["unit"] == "item" else f" {tasks[t]['unit']}s")
               for t in members if tasks[t].get("withheld")]
        where = LEVEL_TITLES.get(level, level)
        entry: dict[str, Any] = {
            "tasks": list(members),
            "available": True,
            "score_a": float(np.mean([tasks[t]["score_a"] for t in members])),
            "score_b": float(np.mean([tasks[t]["score_b"] for t in members])),
            "delta": delta,
            "complete": all(tasks[t]["complete"] for t in members),
        }
        if few:
            reason = f"too few paired units for a verdict ({', '.join(few)})"
            entry.update(ci=None, p_value=None, significant=False, test=None, withheld=reason, ci_degenerate=False,
                         se=None)
            entry["verdict"] = verdict(*labels_ab, where, delta, None, None, withheld=reason)
        else:
            ci = percentile_ci(samples)
            p = paired_p_value(samples)
            entry.update(ci=ci, p_value=p, significant=excludes_zero(ci) and not degenerate(ci), test="paired bootstrap",
                         withheld=None, ci_degenerate=degenerate(ci), se=bootstrap_se(samples))
            if entry["ci_degenerate"]:
                entry["ci_note"] = DEGENERATE_REASON
            entry["verdict"] = verdict(*labels_ab, where, delta, ci, p, n_resamples=int(np.isfinite(samples).sum()),
                                       significant=entry["significant"])
        levels[level] = entry
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


def variant_summary(
    per_variant: np.ndarray, points: Sequence[float], names: Sequence[str], varies: Sequence[str],
    labels_ab: tuple[str, str], where: str, seed: int, key: str,
) -> dict[str, Any]:
    """Point, variant-aware interval and p-value, sign agreement and verdict from per-variant samples."""
    import numpy as np

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
        f"and variants {signed(ci[0]) if ci else 'n/a'} to {signed(ci[1]) if ci else 'n/a'}, "
        f"{format_p(p, int(np.isfinite(samples).sum()))}){held}.",
    }


def compare_variants(
    dir_a: Path, dir_b: Path, results_a: RunResults, results_b: RunResults,
    tasks: Mapping[str, Mapping[str, Any]], labels_ab: tuple[str, str], seed: int, n_resamples: int,
) -> tuple[dict[str, Any], list[str]]:
    """Per task and level: the difference B - A over the variants both runs share.

    The interval resamples units (items; LongHealth patients) and variants
    together (``clue.stats.variants``); with one variant it is the plain one.
    Returns the comparison ("tasks", "levels") and warnings.
    """
    import numpy as np

    va, vb = results_a.variants or {}, results_b.variants or {}
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
        if not ta or not tb or not names or not metrics or plain.get("score_a") is None or plain.get("withheld"):
            continue
        of = {g: ta["variant_of"].get(g, g) for g in names}
        own_names = list(dict.fromkeys(of.values()))
        first = {own: next(g for g in names if of[g] == own) for own in own_names}
        tables_a, tables_b, points = [], [], []
        for own in own_names:
            rows_a = variant_rows(dir_a / VARIANTS_FOLDER / first[own], task)
            rows_b = variant_rows(dir_b / VARIANTS_FOLDER / first[own], task)
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


def compare_runs(run_a: Path, run_b: Path, *, seed: int = DEFAULT_SEED, n_resamples: int = 10000) -> Comparison:
    """Compare run B against run A on their shared requests (see the module docstring)."""

    if n_resamples < 1:
        raise ValueError("n_resamples must be at least 1")
    a, b = read_run(Path(run_a)), read_run(Path(run_b))
    results_a, results_b = a.results, b.results
    dir_a, dir_b = a.path, b.path
    labels_ab = labels(results_a, results_b, dir_a, dir_b)
    names_a, names_b = list(results_a.tasks), list(results_b.tasks)
    tasks: dict[str, Any] = {}
    deltas: dict[str, np.ndarray] = {}
    for task in (t for t in names_a if t in names_b):
        summary, samples = compare_task(
            task, results_a.tasks[task], results_b.tasks[task], a.rows_by_id(task), b.rows_by_id(task),
            labels_ab, seed, n_resamples, task_info(task, a.manifest),
        )
        tasks[task] = summary
        if samples is not None:
            deltas[task] = samples
    levels = compare_levels(tasks, deltas, labels_ab, declared_levels(results_a, results_b))
    warnings = [w for t in tasks.values() for w in t["warnings"]]
    variants: dict[str, Any] | None = None
    if results_a.variants and results_b.variants:
        variants, variant_warnings = compare_variants(
            dir_a, dir_b, results_a, results_b, tasks, labels_ab, seed, n_resamples
        )
        warnings += variant_warnings
        for part, block in (("tasks", tasks), ("levels", levels)):
            for name, summary in variants[part].items():
                block[name]["variants"] = summary
    elif results_a.variants or results_b.variants:
        side = "A" if results_a.variants else "B"
        warnings.append(f"only run {side} was made with --variants; compared on the protocol's prompt alone")
    warnings += settings_warnings(results_a, results_b)
    for task, t in tasks.items():
        unpaired = sum(t[k]["count"] for k in ("only_in_a", "only_in_b", "unscored_in_a", "unscored_in_b"))
        if unpaired:
            warnings.append(f"{task}: {unpaired} request(s) not paired (see only_in_* and unscored_in_*); compared on {t['n_paired']}")
    return Comparison(
        a={"run": str(dir_a), "model": results_a.model, "label": labels_ab[0]},
        b={"run": str(dir_b), "model": results_b.model, "label": labels_ab[1]},
        seed=seed,
        n_resamples=n_resamples,
        confidence=CONFIDENCE,
        significance=(f"at least {MIN_ITEMS} paired items ({MIN_CLUSTERS} clusters) and: up to {EXACT_MAX} units, the exact "
                      f"sign-flip p < {1 - CONFIDENCE:.2f}; above, the {CONFIDENCE:.0%} paired-bootstrap interval of B - A "
                      "excludes 0 (a zero-width interval never counts)"),
        honesty={"min_items": MIN_ITEMS, "min_clusters": MIN_CLUSTERS, "exact_max": EXACT_MAX,
                 "p_floor": p_floor(n_resamples)},
        tasks=tasks,
        tasks_only_in_a=[t for t in names_a if t not in names_b],
        tasks_only_in_b=[t for t in names_b if t not in names_a],
        levels=levels,
        verdicts=[t["verdict"] for t in tasks.values()] + [lv["verdict"] for lv in levels.values() if lv.get("available")],
        variant_verdicts=[] if variants is None else [
            v["verdict"] for part in ("tasks", "levels") for v in variants[part].values()
        ],
        variant_names=None if variants is None else variants["names"],
        warnings=warnings,
    )


def settings_warnings(results_a: RunResults, results_b: RunResults) -> list[str]:
    """Flag metrics computed under different settings (e.g. another BERTScore model)."""
    out = []
    settings_a = results_a.metric_settings or {}
    settings_b = results_b.metric_settings or {}
    for name in ("bertscore", "umls_f1"):
        a, b = settings_a.get(name), settings_b.get(name)
        if a is None or b is None:
            continue
        key_a = {k: a.get(k) for k in ("model", "layer", "weights_sha256", "idf", "files_sha256", "threshold")}
        key_b = {k: b.get(k) for k in key_a}
        if key_a != key_b:
            out.append(f"{name} was computed with different settings in the two runs; its differences mix model and metric")
    return out

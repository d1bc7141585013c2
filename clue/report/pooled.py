"""The study's question across pairs: a pooled biomedical-minus-base verdict, per task, level and task kind.

For your runs, each pair contributes its paired difference (biomedical - base,
points) and its standard error (the paired bootstrap's standard deviation,
``clue.report.compare``); per task, per level and overall they are pooled
with a random-effects model (``clue.stats.meta.pool``: DerSimonian-Laird via
statsmodels), giving the pooled difference, its 95% interval, tau^2, I^2 and
the 95% prediction interval for a new pair. Pairs with too few items for a
verdict (or a zero-width interval: no standard error) are counted in
"k of n decline" but left out of the pooling, and listed as such.

"k of n pairs decline" comes with the exact two-sided sign test
(``clue.stats.exact.sign_test_p``, scipy's binomtest at 1/2); pairs whose
difference is exactly 0 are ties and leave the test.

By task kind (``clue.report.taskinfo.task_kind``: classification, multiple
choice, free text, coding), a pair's difference is the mean of its
differences on that kind's tasks, with standard error sqrt(sum se^2) / m (the
tasks' items are distinct and resampled independently).

The published rows (single runs, no item-level outputs) get the same
aggregates without any interval: differences, the sign test and the split by
task kind.

Every number in the verdict paragraph is a value of the returned section (pairs.json ``pooled``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from statistics import fmean, median
from typing import Any

from clue.report.leaderboard import tasks_present
from clue.report.pairs import PairResult, adjusted_p
from clue.report.taskinfo import level_order, level_title, task_kind, task_title
from clue.stats.exact import sign_test_p
from clue.stats.meta import ESTIMATOR, PREDICTION, pool

MIN_POOLED = 2  # pairs with a standard error needed to pool
TIE = 1e-9
PUBLISHED_NOTE = ("published single runs, no per-pair intervals (the study published no item-level outputs): "
                  "differences, counts and the sign test only; nothing is pooled with weights")


def _signed(x: float | None, digits: int = 1) -> str:
    if x is None:
        return "n/a"
    text = f"{x:+.{digits}f}"
    if text in ("+0.0", "-0.0") and abs(x) >= 0.005:  # −0.02 is not 0: one more digit rather than a false zero
        text = f"{x:+.2f}"
    return "0.0" if text in ("+0.0", "-0.0", "+0.00", "-0.00") else text.replace("-", "\u2212")


def _p(p: float | None) -> str:
    if p is None or p != p:
        return "n/a"
    return f"{p:.1e}" if p < 0.001 else f"{p:.3f}"


def counts(deltas: Sequence[float]) -> dict[str, Any]:
    """k declining of n, the ties, and the exact two-sided sign test on the others."""
    down = sum(1 for d in deltas if d < -TIE)
    up = sum(1 for d in deltas if d > TIE)
    ties = len(deltas) - down - up
    return {"n": len(deltas), "k_declining": down, "k_improving": up, "ties": ties,
            "sign_test_p": sign_test_p(down, down + up) if down + up else None}


def block(per_pair: list[dict[str, Any]], published: bool) -> dict[str, Any]:
    """One task, level or kind: the pairs' differences, the counts, and (your runs) the pooled estimate."""
    deltas = [p["delta"] for p in per_pair]
    out: dict[str, Any] = {"pairs": per_pair, **counts(deltas)}
    if deltas:
        out["mean_delta"], out["median_delta"] = fmean(deltas), median(deltas)
    if published:
        return out
    usable = [p for p in per_pair if p.get("se") is not None and p["se"] > 0]
    out["k_pooled"] = len(usable)
    left_out = [f"{p['biomedical']} vs {p['base']}: {p.get('why_not_pooled') or 'no standard error'}"
                for p in per_pair if p not in usable]
    out["left_out"] = left_out
    if len(usable) < MIN_POOLED:
        out["pooled"] = None
        out["pooled_reason"] = (f"{len(usable)} pair(s) with a standard error; pooling needs at least {MIN_POOLED}")
        return out
    out["pooled"] = pool([p["delta"] for p in usable], [p["se"] for p in usable])
    return out


def pair_cell(r: PairResult, what: str) -> dict[str, Any] | None:
    cell = r.cell(what)
    if not cell:
        return None
    why = cell.get("withheld") or ("zero-width interval" if cell.get("ci_degenerate") else None)
    return {"biomedical": r.biomedical.name, "base": r.base.name, "delta": cell["delta"],
            "se": None if why else cell.get("se"), "ci": cell.get("ci"), "why_not_pooled": why}


def kind_cell(r: PairResult, members: Sequence[str]) -> dict[str, Any] | None:
    """A pair's difference on a task kind: the mean over the kind's tasks it has, se = sqrt(sum se^2) / m."""
    cells = [pair_cell(r, t) for t in members]
    present = [c for c in cells if c is not None]
    if not present:
        return None
    m = len(present)
    ses = [c["se"] for c in present]
    se = None if any(s is None for s in ses) else (sum(s * s for s in ses) ** 0.5) / m
    why = next((c["why_not_pooled"] for c in present if c["why_not_pooled"]), None)
    return {"biomedical": r.biomedical.name, "base": r.base.name, "delta": fmean(c["delta"] for c in present),
            "se": se, "tasks": [t for t, c in zip(members, cells) if c is not None], "why_not_pooled": why}


def kinds_of(tasks: Sequence[str], results: Sequence[PairResult]) -> dict[str, list[str]]:
    manifest = next((r.base.manifest for r in results if r.base.manifest is not None), None)
    kinds: dict[str, list[str]] = {}
    for t in tasks:
        kinds.setdefault(task_kind(t, manifest), []).append(t)
    return kinds


def analysis(results: Sequence[PairResult], source: str) -> dict[str, Any] | None:
    chosen = [r for r in results if r.source == source and not r.apart]
    if not chosen:
        return None
    published = source == "published"
    tasks = tasks_present([e for r in chosen for e in (r.base, r.biomedical)])
    out: dict[str, Any] = {"n_pairs": len(chosen), "tasks": {}, "levels": {}, "kinds": {}}
    for t in tasks:
        cells = [c for c in (pair_cell(r, t) for r in chosen) if c is not None]
        if cells:
            out["tasks"][t] = {"title": task_title(t), "kind": None, **block(cells, published)}
    for lv in level_order():
        cells = [c for c in (pair_cell(r, lv) for r in chosen) if c is not None]
        if cells:
            out["levels"][lv] = {"title": level_title(lv), **block(cells, published)}
    for kind, members in kinds_of(list(out["tasks"]), chosen).items():
        for t in members:
            out["tasks"][t]["kind"] = kind
        cells = [c for c in (kind_cell(r, members) for r in chosen) if c is not None]
        out["kinds"][kind] = {"tasks": members, **block(cells, published)}
    if published:
        out["note"] = PUBLISHED_NOTE
    return out


def describe_counts(b: Mapping[str, Any], verb: str = " decline") -> str:
    """"9 of 12 pairs decline (exact two-sided sign test p=0.146)"; ``verb=""``: "9 of 12 pairs (...)"."""
    ties = f", {b['ties']} tied" if b["ties"] else ""
    return (f"{b['k_declining']} of {b['n']} pairs{verb}{ties} (exact two-sided sign test "
            f"p={_p(b['sign_test_p'])})")


def describe_pooled(b: Mapping[str, Any]) -> str:
    pooled = b.get("pooled")
    if not pooled:
        return f"not pooled: {b.get('pooled_reason', 'no standard errors')}"
    ci, pi = pooled["ci"], pooled["prediction_interval"]
    text = (f"pooled difference {_signed(pooled['estimate'])} points (95% CI {_signed(ci[0])} to {_signed(ci[1])}; "
            f"tau\u00b2 {pooled['tau2']:.2f}, I\u00b2 {100 * pooled['i2']:.0f}%")
    text += (f"; 95% prediction interval for a new pair {_signed(pi[0])} to {_signed(pi[1])})" if pi
             else "; no prediction interval with fewer than 3 pairs)")
    return text


def kind_split(section: Mapping[str, Any], published: bool) -> str:
    parts = []
    for kind, b in section["kinds"].items():
        ties = f" ({b['ties']} tied)" if b["ties"] else ""
        what = f"{kind} ({', '.join(b['tasks'])}): {b['k_declining']} of {b['n']} decline{ties}"
        if published:
            what += f", mean difference {_signed(b.get('mean_delta'))}, sign test p={_p(b['sign_test_p'])}"
        elif b.get("pooled"):
            ci = b["pooled"]["ci"]
            what += (f", pooled {_signed(b['pooled']['estimate'])} [{_signed(ci[0])}, {_signed(ci[1])}], "
                     f"sign test p={_p(b['sign_test_p'])}")
        else:
            what += f", sign test p={_p(b['sign_test_p'])}, not pooled"
        parts.append(what)
    return "; ".join(parts)


def headline_level(section: Mapping[str, Any]) -> str | None:
    """The level the verdict leads with: overall where pairs have it, else the level with most pairs."""
    levels = section["levels"]
    if not levels:
        return None
    return max(levels, key=lambda lv: (levels[lv]["n"], lv == "overall"))


def verdict(section: Mapping[str, Any] | None, source: str, n_task_tests: int | None = None,
            n_significant: int | None = None) -> str:
    """One paragraph a paper could quote; every number is in ``section``."""
    if not section:
        return ""
    lead = headline_level(section)
    published = source == "published"
    who = "In the published June 2024 results" if published else "In these runs"
    n = section["n_pairs"]
    parts = [f"{who}, across {n} biomedical/base pair{'s' if n != 1 else ''}"]
    if lead is not None:
        b = section["levels"][lead]
        where = "the overall score" if lead == "overall" else b["title"].lower()
        parts[0] += (f", the biomedical model scores below its base on {where} in "
                     f"{describe_counts(b, '')}")
        if not published:
            parts[0] += f"; {describe_pooled(b)}"
        else:
            parts[0] += f"; mean difference {_signed(b.get('mean_delta'))} points ({PUBLISHED_NOTE.split(';')[0]})"
    text = parts[0] + "."
    if section["kinds"]:
        text += " By task kind: " + kind_split(section, published) + "."
    if not published and n_task_tests:
        text += (f" Of the {n_task_tests} per-pair task tests, {n_significant} remain significant after "
                 "Holm's adjustment for the number of tests.")
    return text


def pooled_section(results: Sequence[PairResult]) -> dict[str, Any]:
    """pairs.json ``pooled``: your runs' pooled analysis, the published one, and a verdict paragraph for each."""
    runs, published = analysis(results, "runs"), analysis(results, "published")
    adjusted = [a for a in adjusted_p(results).values() if a["family"] == "task"]
    n_tests, n_sig = len(adjusted), sum(1 for a in adjusted if a["significant_holm"])
    return {
        "schema": "clue.pooled/1",
        "estimator": ESTIMATOR,
        "prediction_interval": PREDICTION,
        "sign_test": "exact two-sided binomial test at 1/2 on the pairs that differ (scipy binomtest); ties left out",
        "runs": runs,
        "published": published,
        "task_tests": {"n": n_tests, "significant_holm": n_sig},
        "verdict": verdict(runs, "runs", n_tests, n_sig),
        "published_verdict": verdict(published, "published"),
    }

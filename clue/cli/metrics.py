"""Commands for model metrics and comparisons: ``clue compare``, ``clue metrics fetch|status``.

Registered on the one app (``clue.cli.app``) when ``clue.cli`` is imported; every command calls the library.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from clue.cli.app import app
from clue.cli.console import console, parse_options, plain, say, warn
from clue.cli.tables import print_table, wrap
from clue.core.errors import UsageError
from clue.core.seeding import DEFAULT_SEED

metrics_app = typer.Typer(no_args_is_help=True, help="Model-based metrics (BERTScore, UMLS-F1): what is installed, fetching weights.")
app.add_typer(metrics_app, name="metrics")


@app.command("compare")
def compare_cmd(
    run_a: Path = typer.Argument(..., help="Run directory A (the reference, e.g. the base model)."),
    run_b: Path = typer.Argument(..., help="Run directory B (e.g. the biomedical model)."),
    out: Path | None = typer.Option(None, "--out", help="Also write the full comparison as JSON here."),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="Seed of the paired bootstrap."),
    resamples: int = typer.Option(10000, "--resamples", min=1, help="Bootstrap resamples."),
    judge: str | None = typer.Option(None, "--judge", help="Also judge the free-text tasks pairwise (which answer is better, in both orders) with this model spec."),
    judge_base_url: str | None = typer.Option(None, "--judge-base-url", help="The judge's OpenAI-compatible server URL."),
    approve_endpoint: list[str] | None = typer.Option(None, "--approve-endpoint", help="With --judge: allow credentialed tasks to go to this exact judge endpoint."),
) -> None:
    """Compare two runs on their shared items: B - A per task and level, with 95% CIs and p-values."""
    from clue.api import compare
    from clue.core.files import write_json

    result = compare(run_a, run_b, seed=seed, n_resamples=resamples)
    print_comparison(result)
    written = result.to_json()
    if judge or judge_base_url:
        from clue.cli.agreement import pairwise

        written["pairwise_judge"] = pairwise(run_a, run_b, judge, judge_base_url, approve_endpoint or [])
    if out:
        write_json(out, written)
        say(f"Comparison written to {out}")


def _num(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.2f}" if signed else f"{value:.2f}"


def _ci(ci: list[float] | None, part: dict[str, Any] | None = None) -> str:
    """The interval; "too few" where none is given below the minimum n; a zero-width one flagged."""
    if part is not None and part.get("withheld"):
        return "too few"
    if ci is None:
        return "-"
    if part is not None and part.get("ci_degenerate"):
        return f"[{ci[0]:+.2f}] zero width"
    return f"[{ci[0]:+.2f}, {ci[1]:+.2f}]"


def _p(value: float | None, n_resamples: int | None = None) -> str:
    """A p-value; a bootstrap p at its floor as "<= 2/(R+1)" (clue.stats.exact.format_p)."""
    from clue.stats.exact import format_p

    if value is None or value != value:
        return "-"
    return format_p(value, n_resamples).removeprefix("p").removeprefix("=").strip()


def _test_p(part: dict[str, Any], n_resamples: int) -> str:
    """The p-value of a task or level, with its test: exact sign-flip (marked "e") or the paired bootstrap."""
    if part.get("test") == "paired bootstrap":
        return _p(part.get("p_value"), n_resamples)
    if part.get("test"):
        return _p(part.get("p_value")) + " e"
    return "-"


def print_variant_comparison(result: Any) -> None:
    """The differences across prompt variants (runs made with ``clue run --variants``)."""
    from rich.table import Table  # ~25 ms: loaded when a table is shown

    table = Table(title=f"Across {len(result.variant_names)} variants: B - A, 95% CI resampling items and variants")
    for col in ("", "variants", "mean B - A", "95% CI", "p", "sign holds", "verdict"):
        table.add_column(col, justify="left" if col in ("", "verdict") else "right")
    rows = [(name, t.get("variants")) for name, t in result.tasks.items()]
    rows += [(f"[bold]{name}[/bold]", lv.get("variants")) for name, lv in result.levels.items()]
    for name, v in rows:
        if not v:
            continue
        share = "-" if v["sign_share"] is None else f"{round(v['sign_share'] * v['n_variants'])}/{v['n_variants']}"
        table.add_row(name, str(v["n_variants"]), _num(v["delta"], True), _ci(v["ci"]), _p(v["p_value"]), share,
                      v["words"])
    console.print(table)
    for line in result.variant_verdicts:
        say(line)


def print_comparison(result: Any) -> None:
    a, b = result.a["label"], result.b["label"]
    columns = ("", "paired", "A", "B", "B - A", "95% CI", "p", "McNemar p", "unpaired")
    rows: list[tuple[str, ...]] = []
    for name, t in result.tasks.items():
        mcnemar = ", ".join(f"{m} {_p(v['p_value'])}" for m, v in t.get("mcnemar", {}).items()) or "-"
        unpaired = sum(t[k]["count"] for k in ("only_in_a", "only_in_b", "unscored_in_a", "unscored_in_b"))
        n = f"{t['n_paired']}" + (f" ({t['n_units']} {t['unit']}s)" if t["unit"] != "item" else "")
        rows.append((name, n, _num(t["score_a"]), _num(t["score_b"]), _num(t["delta"], True), _ci(t["ci"], t),
                     _test_p(t, result.n_resamples), mcnemar, str(unpaired) if unpaired else ""))
    for level, lv in result.levels.items():
        if not lv.get("available"):
            rows.append((level, "", "", "", "-", "", "", "", ""))
            continue
        rows.append((level, "", _num(lv["score_a"]), _num(lv["score_b"]), _num(lv["delta"], True),
                     _ci(lv["ci"], lv), _test_p(lv, result.n_resamples), "", ""))
    title = f"B: {b}  vs  A: {a}  (points; paired bootstrap, {result.n_resamples} resamples)"
    print_table(console, title, columns, rows, right=columns[1:], whole=("",))
    honesty = result.honesty or {}
    if any(part.get("withheld") for part in [*result.tasks.values(), *result.levels.values()]):
        say(wrap(f"too few: below {honesty.get('min_items', 10)} paired items ({honesty.get('min_clusters', 5)} patients "
                 "for LongHealth) a paired bootstrap has too few distinct resamples for an interval or a test; none is "
                 "given.", console.width))
    if any(str(part.get("test") or "").startswith("exact") for part in result.tasks.values()):
        say(wrap(f"e: exact sign-flip permutation test (all 2^n flips; used up to {honesty.get('exact_max', 20)} units).",
                 console.width))
    for line in result.verdicts:
        say(wrap(line, console.width))
    if result.variant_names:
        print_variant_comparison(result)
    for side, key in (("A", "tasks_only_in_a"), ("B", "tasks_only_in_b")):
        if getattr(result, key):
            warn(f"tasks only in run {side}: {', '.join(getattr(result, key))}")
    for line in result.warnings:
        warn(line)


@metrics_app.command("fetch")
def fetch_cmd(
    what: str = typer.Argument(..., help="bertscore or umls"),
    model: str = typer.Option("scibert", "--model", help="BERTScore: preset (scibert, bioclinicalbert) or repo id."),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="UMLS: download into this folder instead of scispaCy's cache."),
) -> None:
    """Download metric weights where there is a network (runs never download)."""
    from clue.metrics import bertscore, umls

    if what == "bertscore":
        path = bertscore.fetch(model)
        say(f"BERTScore model {model} is in {path}")
    elif what == "umls":
        paths = umls.fetch(cache_dir)
        say("UMLS linker files:\n" + "\n".join(f"  {p}" for p in paths))
        if cache_dir:
            say("Point runs at them with --metric umls_linker_dir=... --metric umls_kb=... (see docs/metrics.md).")
        say(f"The spaCy pipeline is not on PyPI; install it with:\n  pip install {umls.EN_CORE_SCI_SM_URL}")
    else:
        raise UsageError(f"clue metrics fetch takes bertscore or umls, got {what!r}")


@metrics_app.command("status")
def status_cmd(
    metric: list[str] | None = typer.Option(None, "--metric", help="Metric setting KEY=VALUE, as for clue run (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Say whether BERTScore and UMLS-F1 can run here, and with what; loads no model."""
    from clue.metrics.model import metric_status

    rows = metric_status(parse_options(metric))
    if as_json:
        console.print_json(json.dumps(rows))
        return
    from rich.table import Table  # ~25 ms: loaded when a table is shown

    table = Table(title="Model metrics on this machine")
    table.add_column("metric")
    table.add_column("ready")
    table.add_column("detail", overflow="fold")
    for row in rows:
        table.add_row(plain(row["metric"]), plain("yes") if row["ready"] else plain("no", "red"), plain(row["detail"]))
    console.print(table)

"""``clue agreement``: raters' agreement (ICC, Krippendorff's alpha, weighted kappa), and metrics against them;
``clue data reader-study``: the public reader study as RATINGS.

Registered on the one app (``clue.cli.app``) when ``clue.cli`` is imported; every command calls the library.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from clue.cli.app import app
from clue.cli.console import console, say, warn
from clue.cli.data import data_app, review_app
from clue.cli.tables import print_table
from clue.core.seeding import DEFAULT_SEED


def print_judged(results: Any) -> None:
    """The judged scores beside the run's table: per task, the judged score, its metrics and the judge failure rate."""
    rows = []
    for name, summary in results.tasks.items():
        judged = summary.extra.get("judge")
        if not isinstance(judged, dict):
            continue
        score = "-" if judged.get("score") is None else f"{100 * judged['score']:.2f}" + ("" if judged.get("complete") else "*")
        metrics = ", ".join(f"{k} {'-' if v is None else f'{100 * v:.1f}'}" for k, v in judged.get("metrics", {}).items())
        rates = ", ".join(f"{j} {100 * r:.1f}%" for j, r in judged.get("failure_rate", {}).items())
        rows.append((name, str(judged.get("n", "")), score, metrics, rates, f"{judged.get('rubric_version')}"))
    if not rows:
        return
    columns = ("task", "n", "judged score", "criteria", "judge failures", "rubric")
    print_table(console, "Judged scores (1-5 rescaled to 0-100; judge failures are never scored)", columns, rows,
                right=("n", "judged score"), whole=("task",))
    if any(r[2].endswith("*") for r in rows):
        say("* incomplete: some answers could not be judged (see the judge failures and results.json).")
    for name, summary in results.tasks.items():
        bias = (summary.extra.get("judge") or {}).get("bias") if isinstance(summary.extra.get("judge"), dict) else None
        if not isinstance(bias, dict):
            continue
        for metric, v in bias.get("verbosity", {}).items():
            if v.get("slope_per_100_words") is not None:
                matched = v.get("matched_long_minus_short")
                spread = bias.get("spread", {}).get(metric)
                say(f"{name} {metric}: {100 * v['slope_per_100_words']:+.1f} points per 100 words of answer"
                    + ("" if v.get("spearman") is None else f" (rho {v['spearman']:+.2f})")
                    + ("" if matched is None else f"; longer minus shorter at matched ROUGE-L {100 * matched:+.1f}")
                    + ("" if spread is None else f"; jury spread {spread:.2f}"))
        self_pref = bias.get("self_preference", {})
        if self_pref.get("flagged_judges"):
            without = self_pref.get("score_without_flagged")
            warn(f"{name}: judge(s) {', '.join(self_pref['flagged_judges'])} are of the judged model's family "
                 f"({self_pref['judged_family']}); jury score without them: {'-' if without is None else f'{100 * without:.2f}'}")


def pairwise(run_a: Path, run_b: Path, judge: str | None, base_url: str | None, approved: list[str]) -> dict[str, Any]:
    """``clue compare A B --judge SPEC``: the pairwise verdicts, judged in both orders, with the flip rate."""
    from clue.pipeline.judge import jury_from
    from clue.report.judge_pairs import judge_pairs

    jury = jury_from(judge, base_url)
    assert jury is not None
    result = judge_pairs(run_a, run_b, jury, approved)
    columns = ("task", "pairs", "B wins", "A wins", "ties", "flips", "flip rate", "B win rate", "failed")
    rows = [(task, str(t["n_pairs"]), str(t["b_wins"]), str(t["a_wins"]), str(t["ties"]), str(t["flips"]),
             "-" if t["flip_rate"] is None else f"{100 * t['flip_rate']:.1f}%",
             "-" if t["b_win_rate"] is None else f"{100 * t['b_win_rate']:.1f}%", str(t["failures"]))
            for task, t in result["tasks"].items()]
    if rows:
        print_table(console, f"Pairwise judge {result['judge']}: each pair in both orders; only order-consistent verdicts count",
                    columns, rows, right=columns[1:], whole=("task",))
    else:
        warn("no free-text task in both runs: nothing to judge pairwise")
    return result


def report_agreement(out: Path, ratings: Path, run_dir: Path | None, metrics: list[str], seed: int) -> None:
    """``clue report --ratings``: agreement.csv, and agreement.png/.svg where the report extra is installed."""
    from clue.core.errors import MissingExtra
    from clue.report.agreement import compute
    from clue.report.agreement_report import write_figure, write_table

    result = compute(ratings, against=run_dir if metrics else None, metrics=metrics, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    written = [write_table(out / "agreement.csv", result)]
    try:
        written += write_figure(out, result)
    except MissingExtra as exc:
        warn(f"not written: the agreement figure. {exc}")
    say("Agreement written: " + ", ".join(p.name for p in written))


@app.command("agreement")
def agreement_cmd(
    ratings: Path = typer.Argument(..., help="RATINGS: CSV or JSONL of item, rater, score[, criterion]."),
    against: Path | None = typer.Option(None, "--against", help="A run directory whose per-item metric values are compared with the raters."),
    metric: list[str] | None = typer.Option(None, "--metric", help="With --against: a metric in the run's predictions (NAME or TASK:NAME; repeatable)."),
    out: Path | None = typer.Option(None, "--json", help="Also write every figure as JSON here."),
    resamples: int = typer.Option(1000, "--resamples", min=1, help="Bootstrap resamples (items drawn with replacement)."),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="Seed of the bootstrap."),
) -> None:
    """How far raters agree per criterion, with 95% bootstrap intervals; with --against, each metric as one more rater."""
    from clue.core.files import write_json
    from clue.report.agreement import compute, table_rows

    result = compute(ratings, against=against, metrics=metric or (), resamples=resamples, seed=seed)
    columns = ("criterion", "figure", "value", "95% CI")
    print_table(console, f"Agreement in {ratings} (bootstrap over items, {resamples} resamples)", columns,
                table_rows(result), right=columns[2:], whole=("criterion", "figure"))
    for criterion, entry in result.criteria.items():
        if entry["too_few_ratings"]:
            warn(f"{criterion}: items with fewer than 2 ratings (left out): {', '.join(entry['too_few_ratings'])}")
        if entry["incomplete_items"]:
            warn(f"{criterion}: items not rated by every rater (in alpha, not in ICC): {', '.join(entry['incomplete_items'])}")
    if out:
        write_json(out, result.to_json())
        say(f"Agreement written to {out}")


@data_app.command("reader-study")
def reader_study_cmd(
    xlsx: Path = typer.Argument(..., help="The reader study's result.xlsx (../shared/data/clin-summ-reader-study/)."),
    out: Path = typer.Option(..., "--out", help="RATINGS file to write (.csv or .jsonl)."),
    blind_order: Path | None = typer.Option(None, "--blind-order", help="blind_order.json (default: next to the sheet)."),
) -> None:
    """Convert the clin-summ reader study (5 physicians, 100 summaries, 3 criteria) to RATINGS for clue agreement."""
    from clue.builders.reader_study import convert
    from clue.formats.ratings import write_ratings

    rows = convert(xlsx, blind_order)
    write_ratings(out, rows)
    say(f"{len(rows)} ratings written to {out}; next: clue agreement {out}")


@review_app.command("ratings")
def review_ratings_cmd(
    sheets: list[Path] = typer.Argument(..., help="Review sheets filled in by clinicians (one per reviewer; xlsx or CSV)."),
    out: Path = typer.Option(..., "--out", help="RATINGS file to write (.csv or .jsonl)."),
    rater: list[str] | None = typer.Option(None, "--rater", help="Each sheet's reviewer, in order (default: the file names)."),
) -> None:
    """Several clinicians' review sheets as RATINGS (keep 2, edit 1, drop 0) for clue agreement."""
    from clue.builders.review_ratings import sheets_to_ratings
    from clue.formats.ratings import write_ratings

    rows = sheets_to_ratings(sheets, rater or [])
    write_ratings(out, rows)
    say(f"{len(rows)} ratings from {len(sheets)} sheet(s) written to {out}; next: clue agreement {out}")

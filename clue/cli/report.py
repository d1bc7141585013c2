"""``clue sweep`` and ``clue report``: registered on the main app by ``clue.cli``."""

from __future__ import annotations

from pathlib import Path

import typer

from clue.cli.app import app
from clue.cli.console import fail, say, warn
from clue.cli.progress import with_progress
from clue.core.seeding import DEFAULT_SEED


@app.command("sweep")
def sweep_cmd(
    config: Path = typer.Argument(..., help="Sweep file (YAML or TOML): models, tasks, data, seed, limit, output."),
    only: list[str] | None = typer.Option(None, "--only", help="Run only the model with this name (repeatable)."),
    force: bool = typer.Option(False, "--force", help="Run models again even when their run is done (stored answers are still reused)."),
) -> None:
    """Run several models one after another: one run directory each; done ones are skipped; a crash resumes."""
    from clue.pipeline.sweep import load_sweep, run_sweep

    plan = load_sweep(config)

    def log(line: str) -> None:
        say(line, err=True)

    def work(progress):
        return run_sweep(plan, only=only or (), force=force, log=log,
                         on_progress=lambda model, task, done, total: progress(f"{model}/{task}", done, total))

    outcomes = with_progress(work)
    for o in outcomes:
        say(f"{o.status:>8}  {o.name}  {o.run}" + (f"  ({o.error})" if o.error else ""))
    failed = [o for o in outcomes if o.status == "failed"]
    say(f"Sweep status written to {plan.output / 'sweep-status.json'}")
    if failed:
        fail(f"{len(failed)} of {len(outcomes)} model(s) failed: {', '.join(o.name for o in failed)}. "
             "Run the sweep again to resume them.")
        raise typer.Exit(1)


@app.command("report")
def report_cmd(
    run_dirs: list[Path] | None = typer.Argument(None, help="Run directories (from clue run or clue sweep)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the report files."),
    pairs: str | None = typer.Option(None, "--pairs", help="Pairs file (TOML/YAML), or 'clue' for the study's 12 pairs."),
    published: Path | None = typer.Option(None, "--published", help="Published results CSV to show beside the runs (e.g. clue-2024-06.csv)."),
    show_items: bool = typer.Option(False, "--show-items", help="Include per-item outputs of public tasks in the HTML page."),
    allow_credentialed_items: bool = typer.Option(
        False, "--allow-credentialed-items",
        help="With --show-items: include credentialed (MIMIC-derived) tasks too. The page must then not be shared."),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="Seed of the paired bootstrap."),
    resamples: int = typer.Option(10000, "--resamples", min=1, help="Bootstrap resamples for the pair comparisons."),
    title: str = typer.Option("CLUE report", "--title", help="Title of the HTML page."),
) -> None:
    """Leaderboard, biomedical-vs-base pairs, diagnostics, figures and one offline HTML page.

    Without the report extra (matplotlib, jinja2) the tables are still written and the command exits 0, naming what it left out and the extra that adds it: pip install 'clue-eval[report]'.
    """
    from clue.report.html import ReportOptions, build_report

    report = build_report(run_dirs or [], ReportOptions(
        out=out, pairs=pairs, published=published, show_items=show_items,
        allow_credentialed_items=allow_credentialed_items, seed=seed, n_resamples=resamples, title=title,
    ))
    for h in (report.files and _headlines(report)):
        say(h)
    say(f"Report written to {out}: " + ", ".join(sorted(report.files)))
    for part, why in report.skipped.items():
        warn(f"not written: {part}. {why}")


def _headlines(report) -> list[str]:
    from clue.report.pairs import headline

    return [h["text"] for src in ("runs", "published") for h in headline(report.pairs, src)]

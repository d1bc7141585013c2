"""``clue sweep`` and ``clue report``, registered on the one app (``clue.cli.app``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand

from clue.cli.app import app
from clue.cli.console import fail, resumable, say, warn
from clue.cli.progress import with_progress
from clue.core.seeding import DEFAULT_SEED


@app.command("sweep")
def sweep_cmd(
    config: Path = typer.Argument(..., help="Sweep file (YAML or TOML): models, tasks, data, seed, limit, output."),
    only: list[str] | None = typer.Option(None, "--only", help="Run only the model with this name (repeatable)."),
    force: bool = typer.Option(False, "--force", help="Run models again even when their run is done (stored answers are still reused)."),
    approve_endpoint: list[str] | None = typer.Option(
        None, "--approve-endpoint",
        help="Allow credentialed tasks to go to this exact endpoint, for every model (see docs/security.md). "
             "A sweep file cannot approve endpoints."),
    public_task: list[str] | None = typer.Option(
        None, "--public-task",
        help="Confirm that this task file (a path) or package task (a name) is public as it declares, for every "
             "model; unconfirmed, it counts as credentialed. A sweep file cannot confirm it (docs/security.md)."),
    protocol: str | None = typer.Option(None, "--protocol", help="Protocol profile for every model (overrides the file's 'protocol'): clue, clue-2024-06, clue-2025-01."),
    protocol_setting: list[str] | None = typer.Option(None, "--protocol-setting", help="Override one protocol setting: [TASK.]KEY=VALUE (repeatable; added to the file's)."),
    executor: str | None = typer.Option(None, "--executor", help="local (one after another, the default), ray (Ray tasks on a cluster) or slurm (submitit jobs); default: the file's cluster.executor."),
    address: str | None = typer.Option(None, "--address", help="Ray cluster to join (e.g. ray://head:10001 or auto); none: a local Ray started for the sweep."),
    max_parallel: int | None = typer.Option(None, "--max-parallel", min=1, help="Models at once on ray/slurm (default: as many as the resources allow)."),
    max_retries: int | None = typer.Option(None, "--max-retries", min=0, help="Starts again of a model whose worker died (ray/slurm; default 2)."),
) -> None:
    """Run several models: one run directory each; done ones are skipped; a crash resumes. See docs/cluster.md for Ray and Slurm.

    Exit status: 0 all done, 1 a model failed, 2 bad sweep file or folder in use, 4 the egress guard refused a model,
    130 interrupted (the models still running are cancelled; what they answered is kept).
    """
    from clue.pipeline.executors import make_executor
    from clue.pipeline.sweep import load_sweep, run_sweep

    plan = load_sweep(config, protocol=protocol, protocol_settings=protocol_setting or ())

    def log(line: str) -> None:
        say(line, err=True)

    kind = executor or str(plan.cluster.get("executor", "local"))
    runner = make_executor(kind, plan.cluster, plan.source.parent, address=address, max_parallel=max_parallel,
                           max_retries=max_retries, log=log)

    def work(progress):
        return run_sweep(plan, only=only or (), force=force, log=log, approved=approve_endpoint or [], executor=runner,
                         public_tasks=public_task or [],
                         on_progress=lambda model, task, done, total: progress(f"{model}/{task}", done, total))

    try:
        with resumable(lambda: [m.output for m in plan.models if not only or m.name in only]):
            outcomes = with_progress(work) if kind == "local" else work(lambda *_: None)
    finally:
        runner.close()
    for o in outcomes:
        say(f"{o.status:>8}  {o.name}  {o.run}" + (f"  ({o.error})" if o.error else ""))
    failed = [o for o in outcomes if o.status == "failed"]
    refused = [o for o in outcomes if o.status == "refused"]
    say(f"Sweep status written to {plan.output / 'sweep-status.json'}")
    if failed:
        fail(f"{len(failed)} of {len(outcomes)} model(s) failed: {', '.join(o.name for o in failed)}. "
             "Run the sweep again to resume them.")
    if refused:
        fail(f"{len(refused)} of {len(outcomes)} model(s) refused by the egress guard, nothing sent for them: "
             f"{', '.join(o.name for o in refused)} (see above for how to approve an endpoint).")
        raise typer.Exit(4)  # a refusal decides the status: the sweep's data policy stopped a model
    if failed:
        raise typer.Exit(1)


class _BarePublished(TyperCommand):
    """``clue report``: a bare ``--published`` (nothing, or another option, after it) means the shipped table.

    Typer has no options with an optional value, so the default name is put in before parsing.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        args = list(args)
        for i, arg in enumerate(args):
            if arg == "--":
                break
            if arg == "--published" and (i + 1 == len(args) or args[i + 1].startswith("-")):
                args.insert(i + 1, SHIPPED_PUBLISHED)
                break
        return super().parse_args(ctx, args)


SHIPPED_PUBLISHED = "clue-2024-06"  # clue.report.published.DEFAULT_PUBLISHED, named here to keep start-up light


@app.command("report", cls=_BarePublished)
def report_cmd(
    run_dirs: list[Path] | None = typer.Argument(None, help="Run directories (from clue run or clue sweep)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the report files."),
    pairs: str | None = typer.Option(None, "--pairs", help="Pairs file (TOML/YAML), or 'clue' for the study's 12 pairs."),
    published: str | None = typer.Option(
        None, "--published",
        help="Show the study's published rows beside the runs: alone, the shipped June 2024 table (clue-2024-06); "
             "or a CSV of the same format."),
    show_items: bool = typer.Option(False, "--show-items", help="Include per-item outputs of public tasks in the HTML page."),
    allow_credentialed_items: bool = typer.Option(
        False, "--allow-credentialed-items",
        help="With --show-items: include credentialed (MIMIC-derived) tasks too. The page must then not be shared."),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="Seed of the paired bootstrap."),
    resamples: int = typer.Option(10000, "--resamples", min=1, help="Bootstrap resamples for the pair comparisons."),
    title: str = typer.Option("CLUE report", "--title", help="Title of the HTML page."),
    ratings: Path | None = typer.Option(None, "--ratings", help="Clinicians' RATINGS (CSV/JSONL): add an agreement table and figure (see docs/judges.md)."),
    ratings_metric: list[str] | None = typer.Option(None, "--ratings-metric", help="With --ratings: a metric of the first run compared with the raters (repeatable)."),
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
    if ratings is not None:
        from clue.cli.agreement import report_agreement

        report_agreement(out, ratings, run_dirs[0] if run_dirs else None, ratings_metric or [], seed)


def _headlines(report) -> list[str]:
    from clue.report.pairs import headline

    lines = [h["text"] for src in ("runs", "published") for h in headline(report.pairs, src)]
    pooled = report.pooled or {}
    for key, who in (("verdict", "Pooled, your runs"), ("published_verdict", "Pooled, published")):
        if pooled.get(key):
            lines.append(f"{who}: {pooled[key]}")
    return lines

"""The ``clue`` command line: thin, every command calls the library."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.console import Console
from rich.table import Table

from .errors import ClueError, UsageError
from .seeding import DEFAULT_SEED

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Evaluate language models on clinical work: the CLUE benchmark, re-implemented.",
)
# Piped output (CI logs, files) gets a fixed width that fits the results table,
# instead of rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 132)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 132)

# Sub-command groups that live in their own modules (each has register(app)).
COMMAND_MODULES = ("clue.cli_data", "clue.cli_metrics", "clue.cli_report")


def _register_modules() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(app)


def parse_options(values: list[str] | None) -> dict[str, Any]:
    """``-o KEY=VALUE`` pairs; values are parsed as JSON when they can be (numbers, booleans)."""
    options: dict[str, Any] = {}
    for value in values or []:
        key, sep, raw = value.partition("=")
        if not sep or not key:
            raise UsageError(f"--option takes KEY=VALUE, got {value!r}")
        try:
            options[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            options[key.strip()] = raw
    return options


def default_output(model: str) -> Path:
    slug = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in model).strip("_") or "model"
    return Path("clue-runs") / slug


@app.command("tasks")
def tasks_cmd(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List the six tasks: level, metrics, access class and the file each expects."""
    from .tasks import TASKS

    rows = [cls().describe() for cls in TASKS.values()]
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table(title="CLUE tasks")
    for col in ("task", "level", "access", "expected file", "metrics", "shots", "max new tokens"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["task"], str(r["level"]), r["access"], r["expected_file"], ", ".join(r["metrics"]),
            str(r["shots"]), str(r["max_new_tokens"]),
        )
    console.print(table)


@app.command("run")
def run_cmd(
    model: str = typer.Option("baseline", "--model", "-m", help="Model spec: baseline, openai:NAME, vllm:NAME, hf:PATH, llamacpp:GGUF, smollm2."),
    tasks: str = typer.Option("all", "--tasks", "-t", help="all, level1, level2 or a comma-separated list."),
    data: Optional[List[str]] = typer.Option(None, "--data", help="TASK=PATH for one task's file (repeatable)."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Folder holding the tasks' files (see `clue tasks`)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Run directory [default: clue-runs/<model>]."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Score only the first N items of each task."),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="Seed for few-shot selection, LongHealth shuffles, bootstrap."),
    templates: Optional[Path] = typer.Option(None, "--templates", help="Folder of prompt templates that override the built-in ones."),
    max_new_tokens: Optional[int] = typer.Option(None, "--max-new-tokens", help="Override every task's max new tokens."),
    temperature: float = typer.Option(0.0, "--temperature", help="Sampling temperature (0 = greedy, the protocol's default)."),
    longhealth_budget: int = typer.Option(8140, "--longhealth-budget", help="LongHealth document token budget (before the system prompt)."),
    option: Optional[List[str]] = typer.Option(None, "--option", "-O", help="Backend option KEY=VALUE (repeatable)."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="OpenAI-compatible server URL(s), comma-separated for replicas."),
    concurrency: Optional[int] = typer.Option(None, "--concurrency", min=1, help="Requests in flight at once (servers)."),
    chat_layout: Optional[str] = typer.Option(None, "--chat-layout", help="auto, system, fold or plain (default: from the model's chat template)."),
    approve_endpoint: Optional[List[str]] = typer.Option(None, "--approve-endpoint", help="Allow credentialed tasks to go to this exact endpoint (see docs/serving.md)."),
    refresh: bool = typer.Option(False, "--refresh", help="Ignore answers already in the run store and ask the model again."),
    metric: Optional[List[str]] = typer.Option(None, "--metric", help="Metric setting KEY=VALUE, e.g. bertscore_model=scibert (repeatable)."),
    bootstrap: int = typer.Option(1000, "--bootstrap", min=0, help="Bootstrap resamples for the 95% confidence intervals (0: none)."),
) -> None:
    """Run tasks with a model and score them. With no data options: the bundled demo data.

    Every completion is committed to <output>/store.sqlite as it arrives: re-running
    the same command after a crash or kill resumes where it stopped.
    """
    from .datasets.locate import parse_data_args
    from .run.runner import RunConfig, run_model
    from .tasks import resolve_tasks

    config = RunConfig(
        model=model,
        tasks=resolve_tasks(tasks),
        output=output or default_output(model),
        data=parse_data_args(data),
        data_dir=data_dir,
        limit=limit,
        seed=seed,
        templates_dir=templates,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        task_options={"longhealth_budget": longhealth_budget},
        metric_config=parse_options(metric),
        bootstrap_resamples=bootstrap,
        command=["clue", *sys.argv[1:]],
    )
    options = parse_options(option)
    for key, value in (("base_url", base_url), ("concurrency", concurrency), ("chat_layout", chat_layout)):
        if value is not None:
            options[key] = value
    results = _with_progress(
        lambda progress: run_model(config, options, approved=approve_endpoint or [], refresh=refresh, on_progress=progress)
    )
    print_results(results)
    console.print(f"Results written to [bold]{config.output}[/bold] (results.json, predictions/, manifest.json)")
    failed = sum(t["diagnostics"].get("failed_requests", 0) for t in results["tasks"].values())
    if failed:
        err_console.print(f"[red]{failed} request(s) failed; re-run the same command to retry them.[/red]")
        raise typer.Exit(1)


@app.command("score")
def score_cmd(
    run_dir: Optional[Path] = typer.Argument(None, help="A run directory to score again from its store, without any model."),
    task: Optional[str] = typer.Option(None, "--task", help="Task name (see `clue tasks`)."),
    data: Optional[Path] = typer.Option(None, "--data", help="The task's dataset file."),
    predictions: Optional[Path] = typer.Option(None, "--predictions", help='JSONL of {"id": ..., "output": ...}.'),
    output: Path = typer.Option(Path("clue-score"), "--output", "-o", help="Where to write results.json and predictions/ (with --predictions)."),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="The seed the predictions were made with (decides the few-shot split)."),
    templates: Optional[Path] = typer.Option(None, "--templates", help="Prompt template folder used for the predictions."),
    metric: Optional[List[str]] = typer.Option(None, "--metric", help="Metric setting KEY=VALUE (repeatable)."),
) -> None:
    """Score without running a model: a predictions file against a dataset, or a run directory again.

    \b
    clue score --task mednli --data mli_test_v1.jsonl --predictions outputs.jsonl
    clue score clue-runs/my-model          # re-score from its store.sqlite
    """
    from .run.runner import RunConfig, evaluate, rerun_config

    if run_dir is not None:
        if task or data or predictions:
            raise UsageError("give either a run directory or --task/--data/--predictions, not both")
        from .run.store import STORE_FILENAME, StoreBackend

        config = rerun_config(run_dir, parse_options(metric))
        config.command = ["clue", *sys.argv[1:]]
        backend = StoreBackend(run_dir / STORE_FILENAME)
        try:
            results = evaluate(config, backend)
        finally:
            backend.close()
        print_results(results)
        console.print(f"Re-scored {run_dir} from its store")
        return
    if not (task and data and predictions):
        raise UsageError("clue score needs a run directory, or all of --task, --data and --predictions")
    from .backends.replay import ReplayBackend
    from .tasks import get_task

    get_task(task)
    backend = ReplayBackend.from_jsonl(predictions)
    config = RunConfig(
        model=f"predictions:{predictions.name}",
        tasks=[task],
        output=output,
        data={task: data},
        seed=seed,
        templates_dir=templates,
        metric_config=parse_options(metric),
        command=["clue", *sys.argv[1:]],
    )
    results = evaluate(config, backend)
    print_results(results)
    if backend.unmatched():
        err_console.print(f"[yellow]{len(backend.unmatched())} prediction id(s) matched no item, e.g. {backend.unmatched()[:3]}[/yellow]")
    missing = results["tasks"][task]["diagnostics"]["failed_requests"]
    if missing:
        err_console.print(f"[red]{missing} item(s) have no prediction; they are reported, not scored as zero.[/red]")
        raise typer.Exit(1)
    console.print(f"Results written to [bold]{output}[/bold]")


def _with_progress(work):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description:<16}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err_console, transient=False, disable=not err_console.is_terminal,
    ) as progress:
        bars: dict[str, Any] = {}

        def on_progress(name: str, done: int, total: int) -> None:
            if name not in bars:
                bars[name] = progress.add_task(name, total=total)
            progress.update(bars[name], completed=done)

        return work(on_progress)


def fmt_ci(ci: list[float] | None) -> str:
    return f" [{ci[0]:.1f}, {ci[1]:.1f}]" if ci else ""


def fmt(value: float | None, complete: bool = True) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" + ("" if complete else "*")


def print_results(results: dict[str, Any]) -> None:
    table = Table(title=f"CLUE results: {results['model']}")
    table.add_column("task")
    table.add_column("n", justify="right")
    table.add_column("score [95% CI]", justify="right")
    table.add_column("metrics")
    incomplete = False
    for name, t in results["tasks"].items():
        incomplete |= not t["complete"]
        metrics = ", ".join(f"{k} {v:.1f}" for k, v in t["metrics"].items())
        if t["missing_metrics"]:
            metrics += f"  (missing: {', '.join(t['missing_metrics'])})"
        table.add_row(name, str(t["n"]), fmt(t["score"], t["complete"]) + fmt_ci(t.get("ci")), metrics)
    levels_ci = results.get("levels_ci", {})
    for level, value in results["levels"].items():
        table.add_row(
            f"[bold]{level}[/bold]", "", fmt(value, results["levels_complete"][level]) + fmt_ci(levels_ci.get(level)), ""
        )
    console.print(table)
    if incomplete:
        console.print("* incomplete: a metric could not be computed or requests failed (see results.json).")


def main() -> None:
    _register_modules()
    try:
        app()
    except ClueError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()

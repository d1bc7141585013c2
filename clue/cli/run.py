"""``clue tasks``, ``clue run``, ``clue score`` and ``clue prompts``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from clue.cli.app import app
from clue.cli.console import console, fail, parse_options, resumable, say, warn
from clue.cli.progress import with_progress
from clue.cli.tables import print_table
from clue.core.errors import UsageError
from clue.core.seeding import DEFAULT_SEED


@app.command("tasks")
def tasks_cmd(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    include: list[Path] | None = typer.Option(None, "--include", help="A task file (TOML/YAML) or a folder of them, listed too (repeatable)."),
    protocol: str = typer.Option("clue", "--protocol", help="Show the settings of this protocol profile (--json: all of them)."),
) -> None:
    """List the tasks: level, metrics, access class and the file each expects (built-in, from packages, from task files)."""
    from clue.pipeline.results import settings_record
    from clue.tasks.protocols import get_protocol
    from clue.tasks.registry import all_tasks, load_task_file, plugin_errors, source_of, task_files_in

    get_protocol(protocol)
    for path in include or []:
        for file in task_files_in(path):
            load_task_file(file)
    rows = [
        {**task.describe(protocol), "source": source_of(name),
         "settings": settings_record(task.declaration.settings(protocol))}
        for name, task in all_tasks().items()
    ]
    if as_json:
        console.print_json(json.dumps(rows))
        return
    columns = ("task", "level", "access", "expected file", "metrics", "shots", "max new tokens", "source")
    cells = [
        (r["task"], str(r["level"] or "-"), r["access"], r["expected_file"], ", ".join(r["metrics"]),
         str(r["shots"]), str(r["max_new_tokens"]), r["source"])
        for r in rows
    ]
    print_table(console, f"CLUE tasks (protocol {protocol})", columns, cells, whole=("task", "expected file"))
    for problem in plugin_errors():
        warn(problem)


def _run_config(**kwargs: Any) -> Any:
    from clue.pipeline.config import RunConfig

    return RunConfig(command=["clue", *sys.argv[1:]], **kwargs)


def _suite_tasks(tasks: str, suite: str | None, protocol: str) -> tuple[list[str], str]:
    """``--tasks`` and ``--suite`` -> (task names, the suite RunConfig records): without --suite, CLUE's levels."""
    from clue.tasks.suite import DEFAULT_SUITE, check_protocol, get_suite, resolve_tasks, tasks_in_suite

    if suite is None:
        return resolve_tasks(tasks), DEFAULT_SUITE
    chosen = get_suite(suite)
    check_protocol(chosen, protocol)
    names = tasks_in_suite(resolve_tasks(tasks, suite=chosen), chosen)
    return names, chosen.name if chosen.is_builtin else chosen.source


def _task_options(longhealth_budget: int | None) -> dict[str, Any]:
    return {} if longhealth_budget is None else {"longhealth_budget": longhealth_budget}


def _protocol_layout(config: Any) -> str | None:
    """"system" when the protocol says every task gets a system role (clue-2025-01), else None (the backend decides)."""
    from clue.tasks.base import apply_overrides, parse_setting
    from clue.tasks.registry import get_task

    overrides = [parse_setting(text) for text in config.protocol_settings]
    layouts = {
        apply_overrides(get_task(name).declaration.settings(config.protocol), name, overrides).chat_layout
        for name in config.tasks
    }
    return "system" if layouts == {"system"} else None


@app.command("run")
def run_cmd(
    model: str = typer.Option("baseline", "--model", "-m", help="Model spec: baseline, openai:NAME, vllm:NAME, hf:PATH, llamacpp:GGUF, smollm2."),
    tasks: str = typer.Option("all", "--tasks", "-t", help="all, level1, level2, or a comma-separated list of tasks and task files (./my_task.toml)."),
    data: list[str] | None = typer.Option(None, "--data", help="TASK=PATH for one task's file (repeatable)."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Folder holding the tasks' files (see `clue tasks`)."),
    output: Path | None = typer.Option(None, "--output", "-o", show_default="clue-runs/<model>", help="Run directory; one model's run per directory."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Score only the first N items of each task."),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="Seed for few-shot selection, LongHealth shuffles, bootstrap."),
    templates: Path | None = typer.Option(None, "--templates", help="Folder of prompt templates that override the built-in ones."),
    max_new_tokens: int | None = typer.Option(None, "--max-new-tokens", show_default="per task, see `clue tasks`", help="Override every task's max new tokens."),
    temperature: float = typer.Option(0.0, "--temperature", help="Sampling temperature (0 = greedy, the protocol's default)."),
    longhealth_budget: int | None = typer.Option(None, "--longhealth-budget", show_default="the task's declared budget", help="LongHealth document token budget, before the system prompt."),
    option: list[str] | None = typer.Option(None, "--option", "-O", help="Backend option KEY=VALUE (repeatable)."),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible server URL(s), comma-separated for replicas."),
    concurrency: int | None = typer.Option(None, "--concurrency", min=1, help="Requests in flight at once (servers)."),
    chat_layout: str | None = typer.Option(None, "--chat-layout", show_default="auto: from the model's chat template", help="auto, system, fold or plain."),
    approve_endpoint: list[str] | None = typer.Option(None, "--approve-endpoint", help="Allow credentialed tasks to go to this exact endpoint (see docs/serving.md)."),
    refresh: bool = typer.Option(False, "--refresh", help="Ignore answers already in the run store and ask the model again."),
    force: bool = typer.Option(False, "--force", help="Write into an --output that holds another model's run, replacing its results."),
    metric: list[str] | None = typer.Option(None, "--metric", help="Metric setting KEY=VALUE, e.g. bertscore_model=scibert (repeatable)."),
    bootstrap: int = typer.Option(1000, "--bootstrap", min=0, help="Bootstrap resamples for the 95% confidence intervals (0: none)."),
    protocol: str = typer.Option("clue", "--protocol", help="Protocol profile: clue (default), clue-2024-06 or clue-2025-01 (see docs/protocols.md)."),
    protocol_setting: list[str] | None = typer.Option(None, "--protocol-setting", help="Override one protocol setting: [TASK.]KEY=VALUE (repeatable)."),
    price: str | None = typer.Option(None, "--price", help="Price for the cost columns, e.g. gpu_hour=2.5 or mtok=0.6; prompt_mtok=X and completion_mtok=Y (comma-separated) price the two kinds of tokens apart; currency=EUR (see docs/cluster.md)."),
    variants: str | None = typer.Option(None, "--variants", help="Ask under prompt variants: prompts=N,shots=N,order=N (any subset; see docs/variants.md)."),
    variant_design: str = typer.Option("crossed", "--variant-design", help="crossed (every combination) or sampled:N (the protocol's prompt and N-1 seeded others)."),
    suite: str | None = typer.Option(None, "--suite", show_default="clue", help="A suite (name or suite file, see `clue suites`): its tasks are run (--tasks: some of them) and its levels score them."),
) -> None:
    """Run tasks with a model and score them. With no data options: the bundled demo data.

    Every completion is committed to <output>/store.sqlite as it arrives: re-running the same command after a crash or kill resumes where it stopped. A run directory holds one model's run: another model is refused there unless --force is given.
    """
    from clue.pipeline.config import default_output
    from clue.pipeline.cost import parse_price
    from clue.pipeline.data import parse_data_args
    from clue.pipeline.run import run_model

    names, suite_name = _suite_tasks(tasks, suite, protocol)
    config = _run_config(
        model=model,
        tasks=names,
        suite=suite_name,
        output=output or default_output(model),
        data=parse_data_args(data),
        data_dir=data_dir,
        limit=limit,
        seed=seed,
        templates_dir=templates,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        task_options=_task_options(longhealth_budget),
        metric_config=parse_options(metric),
        bootstrap_resamples=bootstrap,
        protocol=protocol,
        protocol_settings=list(protocol_setting or []),
        price=parse_price(price),
    )
    options = parse_options(option)
    for key, value in (("base_url", base_url), ("concurrency", concurrency), ("chat_layout", chat_layout)):
        if value is not None:
            options[key] = value
    if "chat_layout" not in options and _protocol_layout(config) is not None:
        options["chat_layout"] = _protocol_layout(config)
    if variants is not None:
        with resumable(lambda: [config.output]):
            results = run_with_variants(config, variants, variant_design, options, approve_endpoint or [], refresh)
        failed = sum(t["failed_requests"] for t in results["variants"]["tasks"].values())
        if failed:
            fail(f"{failed} request(s) failed across the variants; re-run the same command to retry them.")
            raise typer.Exit(1)
        return
    with resumable(lambda: [config.output]):
        results = with_progress(
            lambda progress: run_model(config, options, approved=approve_endpoint or [], refresh=refresh, force=force,
                                       on_progress=progress)
        )
    print_results(results)
    say_reused(Path(config.output))
    say(f"Results written to {config.output} (results.json, predictions/, manifest.json)")
    failed = sum(t["diagnostics"].get("failed_requests", 0) for t in results["tasks"].values())
    if failed:
        fail(f"{failed} request(s) failed; re-run the same command to retry them.")
        raise typer.Exit(1)


def run_with_variants(
    config: Any, variants: str, design_text: str, options: dict[str, Any], approved: list[str], refresh: bool
) -> dict[str, Any]:
    """``clue run --variants``: say what will be sent, run every variant, print the spread."""
    from clue.pipeline.variants import parse_design, run_variants

    design = parse_design(variants, design_text)

    def on_plan(plan: dict[str, Any]) -> None:
        names = plan["variants"]
        say(f"{len(names)} variant(s), {plan['design']['kind']} design: {plan['requests']} requests, "
            f"{plan['distinct']} distinct prompts, {plan['stored']} already in the store: "
            f"sending {plan['to_send']} request(s) to the model.")

    results = with_progress(
        lambda progress: run_variants(config, design, options, approved=approved, refresh=refresh,
                                      on_plan=on_plan, on_progress=progress)
    )
    print_results(results)
    print_variants(results)
    say(f"Results written to {config.output} (the protocol's prompt: results.json, predictions/; "
        f"each variant: variants/<name>/)")
    return results


def print_variants(results: dict[str, Any]) -> None:
    block = results["variants"]
    columns = ("task / level", "variants", "varies", "mean", "sd", "min", "max", "flip rate (%)")
    rows: list[tuple[str, ...]] = []
    for name, t in block["tasks"].items():
        flip = t["flip"]["flip_rate"]
        rows.append((name, str(t["n_variants"]), ", ".join(t["varies"]) or "-", fmt(t["mean"]), fmt(t["sd"]),
                     fmt(t["min"]), fmt(t["max"]), "-" if flip is None else f"{flip:.1f}"))
    for level, lv in block["levels"].items():
        rows.append((level, str(lv["n_variants"]), "", fmt(lv["mean"]), fmt(lv["sd"]), fmt(lv["min"]), fmt(lv["max"]), ""))
    print_table(console, f"Across {len(block['names'])} variants ({block['design']['kind']})", columns, rows,
                right=columns[1:2] + columns[3:], whole=("task / level",))


@app.command("score")
def score_cmd(
    run_dir: Path | None = typer.Argument(None, help="A run directory to score again from its store, without any model."),
    task: str | None = typer.Option(None, "--task", help="Task name (see `clue tasks`) or task file."),
    data: Path | None = typer.Option(None, "--data", help="The task's dataset file."),
    predictions: Path | None = typer.Option(None, "--predictions", help='JSONL of {"id": ..., "output": ...}.'),
    output: Path = typer.Option(Path("clue-score"), "--output", "-o", help="Where to write results.json and predictions/ (with --predictions)."),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="The seed the predictions were made with (decides the few-shot split)."),
    templates: Path | None = typer.Option(None, "--templates", help="Prompt template folder used for the predictions."),
    metric: list[str] | None = typer.Option(None, "--metric", help="Metric setting KEY=VALUE (repeatable)."),
    protocol: str = typer.Option("clue", "--protocol", help="Protocol profile: clue (default), clue-2024-06 or clue-2025-01 (see docs/protocols.md)."),
    protocol_setting: list[str] | None = typer.Option(None, "--protocol-setting", help="Override one protocol setting: [TASK.]KEY=VALUE (repeatable)."),
) -> None:
    """Score without running a model: a predictions file against a dataset, or a run directory again.

    \b
    clue score --task mednli --data mli_test_v1.jsonl --predictions outputs.jsonl
    clue score clue-runs/my-model          # re-score from its store.sqlite
    """
    if run_dir is not None:
        if task or data or predictions:
            raise UsageError("give either a run directory or --task/--data/--predictions, not both")
        from clue.pipeline.generate import StoreBackend
        from clue.pipeline.lock import hold_run_dir
        from clue.pipeline.run import evaluate, rerun_config
        from clue.pipeline.variants import evaluate_variants, recorded_design
        from clue.store.runs import STORE_FILENAME

        if protocol != "clue" or protocol_setting:
            raise UsageError("a run directory is scored under the protocol it was run with; --protocol applies to --predictions")
        if not run_dir.is_dir():
            raise UsageError(f"{run_dir}: not a run directory (no such folder)")
        with resumable(lambda: [run_dir]), hold_run_dir(run_dir):  # a run still writing it is refused first
            config = rerun_config(run_dir, parse_options(metric))
            config.command = ["clue", *sys.argv[1:]]
            backend = StoreBackend(run_dir / STORE_FILENAME)
            design = recorded_design(run_dir)
            try:
                # A variant run is re-scored whole: every variant, and the spread across them.
                results = evaluate(config, backend) if design is None else evaluate_variants(config, design, backend)
            finally:
                backend.close()
        print_results(results)
        if design is not None:
            print_variants(results)
        say(f"Re-scored {run_dir} from its store")
        return
    if not (task and data and predictions):
        raise UsageError("clue score needs a run directory, or all of --task, --data and --predictions")
    from clue.pipeline.predictions import score_predictions
    from clue.tasks.suite import resolve_tasks

    names = resolve_tasks(task)
    if len(names) != 1:
        raise UsageError(f"--task names one task, got {', '.join(names)}")
    config = _run_config(
        model=f"predictions:{predictions.name}",
        tasks=names,
        output=output,
        data={names[0]: data},
        seed=seed,
        templates_dir=templates,
        metric_config=parse_options(metric),
        protocol=protocol,
        protocol_settings=list(protocol_setting or []),
    )
    results, matched = score_predictions(config, predictions)
    print_results(results)
    if matched.demonstrations:
        shown = ", ".join(matched.demonstrations[:5]) + (", ..." if len(matched.demonstrations) > 5 else "")
        say(f"{len(matched.demonstrations)} prediction id(s) are for the few-shot demonstrations, which are not scored "
            f"(they are the worked examples shown in every prompt): {shown}", err=True)
    if matched.unmatched:
        warn(f"{len(matched.unmatched)} prediction id(s) matched no item, e.g. {matched.unmatched[:3]}")
    missing = sum(t["diagnostics"]["failed_requests"] for t in results["tasks"].values())
    if missing:
        fail(f"{missing} item(s) have no prediction; they are reported, not scored as zero.")
        raise typer.Exit(1)
    say(f"Results written to {output}")


@app.command("prompts")
def prompts_cmd(
    tasks: str | None = typer.Option(None, "--task", "--tasks", "-t", help="Task name(s) or task file(s), level1, level2 or all (required unless --suite)."),
    output: Path = typer.Option(..., "--output", "-o", help="JSONL file to write, one request per line."),
    data: list[str] | None = typer.Option(None, "--data", help="TASK=PATH for one task's file (repeatable)."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Folder holding the tasks' files."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the first N items of each task."),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="Seed for few-shot selection and LongHealth shuffles."),
    templates: Path | None = typer.Option(None, "--templates", help="Folder of prompt templates that override the built-in ones."),
    max_new_tokens: int | None = typer.Option(None, "--max-new-tokens", show_default="per task, see `clue tasks`", help="Override every task's max new tokens."),
    longhealth_budget: int | None = typer.Option(None, "--longhealth-budget", show_default="the task's declared budget", help="LongHealth document token budget."),
    chat_layout: str = typer.Option("system", "--chat-layout", help="system, fold or plain: the layout to show the messages in."),
    context_length: int | None = typer.Option(None, "--context-length", min=1, help="Shorten documents to fit this many tokens (default: no limit)."),
    protocol: str = typer.Option("clue", "--protocol", help="Protocol profile: clue (default), clue-2024-06 or clue-2025-01 (see docs/protocols.md)."),
    protocol_setting: list[str] | None = typer.Option(None, "--protocol-setting", help="Override one protocol setting: [TASK.]KEY=VALUE (repeatable)."),
    suite: str | None = typer.Option(None, "--suite", show_default="clue", help="A suite (name or suite file, see `clue suites`): its tasks (--tasks: some of them)."),
) -> None:
    """Write the requests a run would send (messages after layout and shortening, decoding, token counts), sending nothing."""
    from clue.core.chat import parse_layout
    from clue.core.tokens import ApproxTokenizer
    from clue.pipeline.data import parse_data_args
    from clue.pipeline.prompts import write_prompts

    if tasks is None and suite is None:
        raise UsageError("clue prompts needs --tasks (task names, task files, level1, level2, all) or --suite")
    names, suite_name = _suite_tasks(tasks or "all", suite, protocol)
    layout = parse_layout(chat_layout)
    if layout is None:
        raise UsageError("clue prompts needs a definite --chat-layout: system, fold or plain")
    config = _run_config(
        model="prompts", tasks=names, suite=suite_name, output=output.parent, data=parse_data_args(data),
        data_dir=data_dir, limit=limit, seed=seed, templates_dir=templates, max_new_tokens=max_new_tokens,
        task_options=_task_options(longhealth_budget), protocol=protocol,
        protocol_settings=list(protocol_setting or []),
    )
    counts = write_prompts(config, output, layout, ApproxTokenizer(), context_length)
    shown = ", ".join(f"{name} {n}" for name, n in counts.items())
    say(f"Wrote {sum(counts.values())} requests ({shown}) to {output}")


def say_reused(run_dir: Path) -> None:
    """"N of M answers reused from the run store", from the manifest the run just wrote."""
    from clue.core.files import read_json_dict

    recorded = read_json_dict(run_dir / "manifest.json", "the run's manifest")
    total = sum(t.get("requests", 0) for t in recorded.get("tasks", {}).values())
    reused = recorded.get("reused_from_store", 0)
    if reused:
        say(f"{reused} of {total} answers reused from the run store ({run_dir / 'store.sqlite'}); "
            "--refresh asks the model again", err=True)


def fmt_ci(ci: list[float] | None) -> str:
    return f" [{ci[0]:.1f}, {ci[1]:.1f}]" if ci else ""


def fmt(value: float | None, complete: bool = True) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" + ("" if complete else "*")


def print_results(results: dict[str, Any]) -> None:
    rows: list[tuple[str, str, str, str]] = []
    incomplete = False
    for name, t in results["tasks"].items():
        incomplete |= not t["complete"]
        metrics = ", ".join(f"{k} {v:.1f}" for k, v in t["metrics"].items())
        if t["missing_metrics"]:
            metrics += f"  (missing: {', '.join(t['missing_metrics'])})"
        rows.append((name, str(t["n"]), fmt(t["score"], t["complete"]) + fmt_ci(t.get("ci")), metrics))
    levels_ci = results.get("levels_ci", {})
    for level, value in results["levels"].items():
        rows.append((level, "", fmt(value, results["levels_complete"][level]) + fmt_ci(levels_ci.get(level)), ""))
    print_table(console, f"CLUE results: {results['model']}", ("task", "n", "score [95% CI]", "metrics"), rows,
                right=("n", "score [95% CI]"), whole=("task", "score [95% CI]"))
    if incomplete:
        say("* incomplete: a metric could not be computed or requests failed (see results.json).")

"""``clue tasks``, ``clue run``, ``clue score`` and ``clue prompts``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from clue.cli.agreement import print_judged
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


def _spec(**settings: Any) -> Any:
    """The run spec from the command line's options (those not given are left to the spec's defaults)."""
    from clue.pipeline.config import RunSpec

    return RunSpec.build({k: v for k, v in settings.items() if v is not None}, where="the command line",
                         command=["clue", *sys.argv[1:]])


@app.command("run")
def run_cmd(
    model: str = typer.Option("baseline", "--model", "-m", help="Model spec: baseline, openai:NAME, vllm:NAME, hf:PATH, llamacpp:GGUF, smollm2."),
    tasks: str = typer.Option("all", "--tasks", "--task", "-t", help="all, level1, level2, or a comma-separated list of tasks and task files (./my_task.toml)."),
    data: list[str] | None = typer.Option(None, "--data", help="TASK=PATH for one task's file (repeatable)."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Folder holding the tasks' files (see `clue tasks`)."),
    output: Path | None = typer.Option(None, "--output", "-o", show_default="clue-runs/<model>", help="Run directory; one model's run per directory."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Score only the first N items of each task."),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="Seed for few-shot selection, LongHealth shuffles, bootstrap."),
    templates: Path | None = typer.Option(None, "--templates", help="Folder of prompt templates that override the built-in ones."),
    max_new_tokens: int | None = typer.Option(None, "--max-new-tokens", show_default="per task, see `clue tasks`", help="Override every task's max new tokens."),
    temperature: float = typer.Option(0.0, "--temperature", help="Sampling temperature (0 = greedy, the protocol's default)."),
    top_p: float | None = typer.Option(None, "--top-p", show_default="1: none", help="Nucleus sampling: keep the smallest set of tokens whose probability reaches P."),
    decoding_seed: int | None = typer.Option(None, "--decoding-seed", help="The backend's sampling seed (sampled decoding; recorded in the manifest)."),
    longhealth_budget: int | None = typer.Option(None, "--longhealth-budget", show_default="the task's declared budget", help="LongHealth document token budget, before the system prompt (an alias of the protocol setting longhealth.options.budget)."),
    option: list[str] | None = typer.Option(None, "--option", "-O", help="Backend option KEY=VALUE (repeatable)."),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible server URL(s), comma-separated for replicas."),
    concurrency: int | None = typer.Option(None, "--concurrency", min=1, help="Requests in flight at once (servers)."),
    chat_layout: str | None = typer.Option(None, "--chat-layout", show_default="auto: from the model's chat template", help="auto, system, fold or plain."),
    approve_endpoint: list[str] | None = typer.Option(None, "--approve-endpoint", help="Allow credentialed tasks to go to this exact endpoint (see docs/serving.md)."),
    public_task: list[str] | None = typer.Option(None, "--public-task", help="Confirm that this task file (a path) or package task (a name) is public as it declares; unconfirmed, it counts as credentialed (docs/security.md)."),
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
    judge: str | None = typer.Option(None, "--judge", help="An LLM judge of the free-text tasks: any model spec (see docs/judges.md)."),
    judge_base_url: str | None = typer.Option(None, "--judge-base-url", help="The judge's OpenAI-compatible server URL."),
    judges: Path | None = typer.Option(None, "--judges", help="A judges file (TOML): a jury of judges with spec, options, weight."),
) -> None:
    """Run tasks with a model and score them. With no data options: the bundled demo data.

    Every completion is committed to <output>/store.sqlite as it arrives: re-running the same command after a crash or kill resumes where it stopped. A run directory holds one model's run: another model is refused there unless --force is given.
    """
    from clue.api import run

    spec = _spec(
        model=model, tasks=tasks, data=data, data_dir=data_dir, output=output, limit=limit, seed=seed, templates=templates,
        max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, decoding_seed=decoding_seed,
        longhealth_budget=longhealth_budget, options=parse_options(option), base_url=base_url, concurrency=concurrency,
        chat_layout=chat_layout, approve_endpoints=approve_endpoint, public_tasks=public_task, refresh=refresh, force=force,
        metric=parse_options(metric), bootstrap=bootstrap, protocol=protocol, protocol_settings=protocol_setting,
        price=price, variants=variants, variant_design=variant_design, suite=suite,
        judge=judge, judge_base_url=judge_base_url, judges=judges,
    )
    check_data_tasks(spec)
    if spec.variants is not None:
        with resumable(lambda: [spec.output]):
            run_with_variants(spec)
        return
    with resumable(lambda: [spec.output]):
        results = with_progress(lambda progress: run(spec, on_progress=progress))
    print_results(results)
    print_judged(results)
    say_reused(Path(spec.output))
    if spec.price:
        say_cost(Path(spec.output))
    say(f"Results written to {spec.output} (results.json, predictions/, manifest.json)")
    if results.failed_requests:
        fail(f"{results.failed_requests} request(s) failed; re-run the same command to retry them.")
        raise typer.Exit(1)


def run_with_variants(spec: Any) -> None:
    """``clue run --variants``: say what will be sent, run every variant, print the spread."""
    from clue.api import run

    def on_plan(plan: dict[str, Any]) -> None:
        names = plan["variants"]
        say(f"{len(names)} variant(s), {plan['design']['kind']} design: {plan['requests']} requests, "
            f"{plan['distinct']} distinct prompts, {plan['stored']} already in the store: "
            f"sending {plan['to_send']} request(s) to the model.")

    results = with_progress(lambda progress: run(spec, on_progress=progress, on_plan=on_plan))
    print_results(results)
    print_variants(results)
    say(f"Results written to {spec.output} (the protocol's prompt: results.json, predictions/; "
        f"each variant: variants/<name>/)")
    failed = sum(t["failed_requests"] for t in (results.variants or {}).get("tasks", {}).values())
    if failed:
        fail(f"{failed} request(s) failed across the variants; re-run the same command to retry them.")
        raise typer.Exit(1)


def print_variants(results: Any) -> None:
    block = results.variants or {}
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
    task: str | None = typer.Option(None, "--tasks", "--task", "-t", help="Task name (see `clue tasks`) or task file: one task."),
    data: Path | None = typer.Option(None, "--data", help="The task's dataset file."),
    predictions: Path | None = typer.Option(None, "--predictions", help='JSONL of {"id": ..., "output": ...}.'),
    output: Path = typer.Option(Path("clue-score"), "--output", "-o", help="Where to write results.json and predictions/ (with --predictions)."),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="The seed the predictions were made with (decides the few-shot split)."),
    templates: Path | None = typer.Option(None, "--templates", help="Prompt template folder used for the predictions."),
    metric: list[str] | None = typer.Option(None, "--metric", help="Metric setting KEY=VALUE (repeatable)."),
    protocol: str = typer.Option("clue", "--protocol", help="Protocol profile: clue (default), clue-2024-06 or clue-2025-01 (see docs/protocols.md)."),
    protocol_setting: list[str] | None = typer.Option(None, "--protocol-setting", help="Override one protocol setting: [TASK.]KEY=VALUE (repeatable)."),
    judge: str | None = typer.Option(None, "--judge", help="With a run directory: judge its free-text tasks with this model spec (only new judge calls are made)."),
    judge_base_url: str | None = typer.Option(None, "--judge-base-url", help="The judge's OpenAI-compatible server URL."),
    judges: Path | None = typer.Option(None, "--judges", help="A judges file (TOML): a jury (see docs/judges.md)."),
    approve_endpoint: list[str] | None = typer.Option(None, "--approve-endpoint", help="With --judge: allow credentialed tasks to go to this exact judge endpoint."),
) -> None:
    """Score without running a model: a predictions file against a dataset, or a run directory again.

    \b
    clue score --task mednli --data mli_test_v1.jsonl --predictions outputs.jsonl
    clue score clue-runs/my-model          # re-score from its store.sqlite
    """
    if run_dir is not None:
        if task or data or predictions:
            raise UsageError("give either a run directory or --task/--data/--predictions, not both")
        from clue.api import score

        if protocol != "clue" or protocol_setting:
            raise UsageError("a run directory is scored under the protocol it was run with; --protocol applies to --predictions")
        with resumable(lambda: [run_dir]):
            results = score(run_dir, metric=parse_options(metric), command=["clue", *sys.argv[1:]], judge=judge,
                            judge_base_url=judge_base_url, judges=judges, approve_endpoints=approve_endpoint or ())
        print_results(results)
        print_judged(results)
        if results.variants is not None:
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
    spec = _spec(model=f"predictions:{predictions.name}", tasks=names, output=output, data={names[0]: data}, seed=seed,
                 templates=templates, metric=parse_options(metric), protocol=protocol, protocol_settings=protocol_setting)
    results, matched = score_predictions(spec, predictions)
    print_results(results)
    if matched.demonstrations:
        shown = ", ".join(matched.demonstrations[:5]) + (", ..." if len(matched.demonstrations) > 5 else "")
        say(f"{len(matched.demonstrations)} prediction id(s) are for the few-shot demonstrations, which are not scored "
            f"(they are the worked examples shown in every prompt): {shown}", err=True)
    if matched.unmatched:
        warn(f"{len(matched.unmatched)} prediction id(s) matched no item, e.g. {matched.unmatched[:3]}")
    missing = results.failed_requests
    if missing:
        fail(f"{missing} item(s) have no prediction; they are reported, not scored as zero.")
        raise typer.Exit(1)
    say(f"Results written to {output}")


@app.command("prompts")
def prompts_cmd(
    tasks: str | None = typer.Option(None, "--tasks", "--task", "-t", help="Task name(s) or task file(s), level1, level2 or all (required unless --suite)."),
    output: Path | None = typer.Option(None, "--output", "-o", show_default="readable text on stdout", help="JSONL file to write, one request per line (-: JSONL on stdout)."),
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
    """Show the requests a run would send (messages after layout and shortening, decoding, token counts), sending nothing.

    Without -o: each request as readable text on stdout. -o FILE: one JSON request per line (JSONL); -o -: JSONL on stdout.
    """
    from clue.core.chat import parse_layout
    from clue.core.tokens import ApproxTokenizer
    from clue.pipeline.prompts import prompt_rows, readable, write_prompts

    if tasks is None and suite is None:
        raise UsageError("clue prompts needs --tasks (task names, task files, level1, level2, all) or --suite")
    layout = parse_layout(chat_layout)
    if layout is None:
        raise UsageError("clue prompts needs a definite --chat-layout: system, fold or plain")
    to_file = output is not None and str(output) != "-"
    spec = _spec(model="prompts", tasks=tasks or "all", suite=suite, output=output.parent if to_file and output else Path("."), data=data, data_dir=data_dir, limit=limit, seed=seed,
                 templates=templates, max_new_tokens=max_new_tokens, longhealth_budget=longhealth_budget,
                 protocol=protocol, protocol_settings=protocol_setting)
    check_data_tasks(spec)
    if to_file and output is not None:
        counts = write_prompts(spec, output, layout, ApproxTokenizer(), context_length)
        shown = ", ".join(f"{name} {n}" for name, n in counts.items())
        say(f"Wrote {sum(counts.values())} requests ({shown}) to {output}")
        return
    rows, counts = prompt_rows(spec, layout, ApproxTokenizer(), context_length)
    for i, row in enumerate(rows):
        if output is None:
            sys.stdout.write(("\n" if i else "") + readable(row))
        else:
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    shown = ", ".join(f"{name} {n}" for name, n in counts.items())
    say(f"{sum(counts.values())} requests ({shown})" + ("; -o FILE writes them as JSONL" if output is None else ""), err=True)


def check_data_tasks(spec: Any) -> None:
    """``--data TASK=PATH`` for a task the run does not include is a mistake, never silently ignored."""
    stray = [name for name in spec.data if name not in spec.tasks]
    if stray:
        given = ", ".join(f"{name}={spec.data[name]}" for name in stray)
        raise UsageError(f"--data {given}: {', '.join(stray)} is not in this run (tasks: {', '.join(spec.tasks)}); "
                         f"add it to --tasks or drop that --data")


def say_cost(run_dir: Path) -> None:
    """The run's cost under --price, from the manifest the run just wrote."""
    from clue.core.results import read_manifest

    cost = read_manifest(run_dir / "manifest.json").cost or {}
    price = cost.get("price")
    if not isinstance(price, dict):
        return
    currency = price.get("currency", "")
    parts = [f"{label} {cost[key]:.4f}" for key, label in (("token_cost", "tokens"), ("gpu_cost", "GPU time"))
             if isinstance(cost.get(key), (int, float))]
    total = cost.get("total_cost")
    if isinstance(total, (int, float)):
        say(f"Cost: {total:.4f} {currency}" + (f" ({', '.join(parts)})" if len(parts) > 1 else "")
            + (", extrapolated from the answers generated in this run" if cost.get("extrapolated") else ""))
    else:
        say(f"Cost: not computed (the price {', '.join(k for k in price if k != 'currency')} needs what this run did not measure)")


def say_reused(run_dir: Path) -> None:
    """"N of M answers reused from the run store", from the manifest the run just wrote."""
    from clue.core.results import read_manifest

    recorded = read_manifest(run_dir / "manifest.json")
    total = sum(t.requests or 0 for t in recorded.tasks.values())
    reused = recorded.reused_from_store or 0
    if reused:
        say(f"{reused} of {total} answers reused from the run store ({run_dir / 'store.sqlite'}); "
            "--refresh asks the model again", err=True)


def fmt_ci(ci: list[float] | None) -> str:
    return f" [{ci[0]:.1f}, {ci[1]:.1f}]" if ci else ""


def fmt(value: float | None, complete: bool = True) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" + ("" if complete else "*")


def shown_ci(ci: list[float] | None, n: int | None, unit: str) -> tuple[str, str | None]:
    """The interval as the table shows it, and why it is not shown (results.json keeps it as computed).

    Below ``clue.stats.exact.MIN_ITEMS`` items no interval is shown; a zero-width one (every resample
    the same: one item, or one patient) is marked as such. Clustered tasks count clusters, which the
    results do not record, so for them only the zero-width rule applies here.
    """
    from clue.stats.exact import MIN_ITEMS, degenerate

    if ci is None:
        return "", None
    if unit == "item" and n is not None and n < MIN_ITEMS:
        return " [too few]", "too few"
    if degenerate(ci):
        return " [zero width]", "zero width"
    return fmt_ci(ci), None


def print_results(results: Any) -> None:
    from clue.stats.exact import MIN_ITEMS
    from clue.tasks.suite import run_suite

    rows: list[tuple[str, str, str, str]] = []
    incomplete = False
    units = (results.bootstrap or {}).get("units") or {}
    withheld: dict[str, str] = {}
    for name, t in results.tasks.items():
        incomplete |= not t.complete
        metrics = ", ".join(f"{k} {v:.1f}" for k, v in t.metrics.items())
        if t.missing_metrics:
            metrics += f"  (missing: {', '.join(t.missing_metrics)})"
        ci_text, why = shown_ci(t.ci, t.n, str(units.get(name, "item")))
        if why:
            withheld[name] = why
        rows.append((name, str(t.n), fmt(t.score, t.complete) + ci_text, metrics))
    members = run_suite(results).level_members()
    for level, value in results.levels.items():
        if value is None and results.level_ci(level) is None:
            continue  # a level the run has no score for (not all its tasks ran): no empty row
        ci_text, why = shown_ci(results.level_ci(level), None, "item")
        if any(withheld.get(t) == "too few" for t in members.get(level, ())):
            ci_text, why = " [too few]", "too few"  # a level's interval rests on its tasks'
        if why:
            withheld[level] = why
        rows.append((level, "", fmt(value, results.level_complete(level)) + ci_text, ""))
    print_table(console, f"CLUE results: {results.model}", ("task", "n", "score [95% CI]", "metrics"), rows,
                right=("n", "score [95% CI]"), whole=("task", "score [95% CI]"), layout="table")
    if incomplete:
        say("* incomplete: a metric could not be computed or requests failed (see results.json).")
    if withheld:
        say(f"[too few]: no interval below {MIN_ITEMS} items (a bootstrap of so few says nothing); [zero width]: "
            "every resample gave the same score (one item or one patient). Both are in results.json as computed.")

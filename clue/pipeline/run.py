"""One evaluation, start to finish: plan -> generate -> score -> results.

``evaluate`` runs the stages for a backend that is already loaded;
``run_model`` is ``clue run`` for one model spec (load the backend, check
egress, evaluate through the run store), shared by ``clue run`` and
``clue sweep``; ``rerun_config`` reads back what a run directory was made
with, so ``clue score RUN_DIR`` can score it again without any model.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from clue.core.errors import DataError, UsageError
from clue.core.files import sha256_file
from clue.core.preload import preload
from clue.core.records import Completion, Request
from clue.core.results import (
    MANIFEST_FILE,
    Manifest,
    PredictionRow,
    RunResults,
    TaskSummary,
    read_manifest,
    write_predictions,
    write_results,
)
from clue.core.seeding import DEFAULT_SEED
from clue.metrics.rouge import settings as rouge_settings
from clue.models import load_backend, spec_identity
from clue.models.base import Backend
from clue.pipeline.config import DEFAULT_BOOTSTRAP, LONGHEALTH_BUDGET, RunSpec
from clue.pipeline.cost import cost_parts, gpus_for
from clue.pipeline.data import locate
from clue.pipeline.egress import check_egress
from clue.pipeline.generate import stored_generate
from clue.pipeline.judge import judge_run, jury_from, open_judges
from clue.pipeline.lock import hold_run_dir
from clue.pipeline.plan import PreparedTask, plan, run_templates
from clue.pipeline.results import assemble_results, manifest, remove_other_predictions
from clue.pipeline.score import score_task
from clue.store.runs import STORE_FILENAME, RunStore
from clue.tasks.registry import get_task, restore_recorded
from clue.tasks.suite import DEFAULT_SUITE
from clue.tasks.templates import Templates

Progress = Callable[[str, int, int], None]
Generate = Callable[[Backend, list[Request]], Iterable[Completion]]


def attach_inputs(backend: Backend, prepared: Sequence[PreparedTask]) -> None:
    """Offer the backend each task's parameterless answer function and each request's structured inputs
    (``Backend.attach``: the baseline answers with them, a model ignores them); never a gold answer."""
    for p in prepared:
        backend.attach(p.task.name, p.task.baseline if p.task.has_baseline else None,
                       {c.id: c.reference.inputs for c in p.cases})


def generate_all(
    backend: Backend, prepared: Sequence[PreparedTask], generate: Generate | None, on_progress: Progress | None
) -> dict[str, Completion]:
    """Every planned request through ``generate`` (default: the backend itself), with progress per task."""
    requests = [c.request for p in prepared for c in p.cases]
    task_of = {c.id: p.task.name for p in prepared for c in p.cases}
    totals = {p.task.name: len(p.cases) for p in prepared}
    done = dict.fromkeys(totals, 0)
    completions: dict[str, Completion] = {}
    stream = generate(backend, requests) if generate else backend.generate(requests)
    for completion in stream:
        completions[completion.request_id] = completion
        name = task_of[completion.request_id]
        done[name] += 1
        if on_progress:
            on_progress(name, done[name], totals[name])
    return completions


def evaluate(
    config: RunSpec,
    backend: Backend,
    on_progress: Progress | None = None,
    generate: Generate | None = None,
) -> RunResults:
    """Run every task of ``config`` through ``backend``; write and return the results."""
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    templates = run_templates(config)
    prepared = plan(config, backend.tokenizer, lambda: backend.context_length, templates)  # asked only if needed
    attach_inputs(backend, prepared)
    t_generate = time.perf_counter()
    # While the model answers, and while the answers are scored and their predictions written (no statistic
    # needs numpy before the intervals); waited for before the run returns, so nothing is left importing.
    imported = preload(tail_modules(config))
    try:
        completions = generate_all(backend, prepared, generate, on_progress)
        generation_s = time.perf_counter() - t0
        return score_and_write(config, backend, prepared, completions, templates, started, t0, generation_s,
                               generating_s=time.perf_counter() - t_generate)
    finally:
        imported()


def tail_modules(config: RunSpec) -> list[str]:
    """What the end of a run imports, in the order it needs them: the installed versions the results record
    (asked first, by the scoring's settings), then numpy for the intervals (only when they are computed)."""
    found = ["numpy", "numpy.random", "numpy.ma"] if config.bootstrap_resamples > 0 else []
    return ["importlib.metadata", *found]


def score_and_write(
    config: RunSpec,
    backend: Backend,
    prepared: Sequence[PreparedTask],
    completions: Mapping[str, Completion],
    templates: Templates,
    started: datetime,
    t0: float,
    generation_s: float,
    generating_s: float | None = None,
) -> RunResults:
    """Score every task, write predictions, results.json and manifest.json; return the results.

    ``generation_s`` is the manifest's time from start to the last answer;
    ``generating_s`` the time the model was generating (planning excluded),
    which the cost's speed is measured on.
    """
    out = Path(config.output)
    metric_config = {"cache_path": out / "metric_cache.sqlite", **config.metric_settings}
    tasks: dict[str, TaskSummary] = {}
    rows_by_task: dict[str, list[PredictionRow]] = {}
    metric_settings: dict[str, Any] = {"rouge": rouge_settings()}
    for p in prepared:
        summary, rows, settings = score_task(p, completions, metric_config)
        tasks[p.task.name] = summary
        rows_by_task[p.task.name] = rows
        metric_settings.update(settings)
    judged = judge_scored(config, prepared, rows_by_task, tasks, out)
    for name, rows in rows_by_task.items():
        write_predictions(out, name, rows)
    remove_other_predictions(out, list(tasks))
    for p in prepared:
        metric_settings.update(p.task.scoring_settings())
    results = assemble_results(config, backend.model_id, backend.kind, prepared, tasks, rows_by_task, metric_settings)
    info = backend.info()
    note = decoding_note(info)
    if note:  # the manifest's backend.sampling says it too (results.json stays what a resumed run writes)
        print(f"note: {note}", file=sys.stderr)
    gpus = config.gpus if config.gpus is not None else gpus_for(config.model, backend.options, info)
    results.cost, run_cost = cost_parts(
        [c for p in prepared for c in p.cases], completions, backend.tokenizer, gpus=gpus, price=config.price,
        generation_s=generation_s if generating_s is None else generating_s, previous=previous_cost(out),
    )
    timing = {
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - t0, 3),
        "generation_s": round(generation_s, 3),
    }
    reused = sum(1 for c in completions.values() if c.meta.get("stored"))
    record = manifest(config, prepared, info, templates.manifest(), metric_settings, timing, reused, run_cost,
                      egress=backend.egress_record)
    if judged is not None:
        add_judging(results, record, judged)
    write_results(out, results, record)
    return results


def decoding_note(info: Mapping[str, Any]) -> str | None:
    """A server's answers that may not be greedy (``backend.sampling`` in the manifest), said in results.json."""
    sampling = info.get("sampling")
    greedy = str(sampling.get("greedy", "")) if isinstance(sampling, Mapping) else ""
    return f"answers may not be greedy ({greedy.removeprefix('may not be greedy: ')})" if greedy.startswith(
        "may not be greedy") else None


def judge_scored(config: RunSpec, prepared: Sequence[PreparedTask], rows_by_task: Mapping[str, list[PredictionRow]],
                 tasks: Mapping[str, TaskSummary], out: Path) -> dict[str, Any] | None:
    """With judges in the spec: judge the free-text tasks' scored answers (clue.pipeline.judge); else None."""
    jury = jury_from(config.judge, config.judge_base_url, config.judges)
    if jury is None:
        return None
    return judge_run(jury, [p.task for p in prepared], prepared, rows_by_task, tasks, out, config.approve_endpoints,
                     judged_model=config.model, data={p.task.name: p.path for p in prepared},
                     public_tasks=config.public_tasks)


def add_judging(results: RunResults, record: Manifest, judged: dict[str, Any]) -> None:
    """The judges, rubric hashes and judging cost into the manifest; the judges' tokens and time into the run's cost."""
    record.extra["judge"] = judged
    spent = {"calls": sum(t["calls"] for t in judged["tasks"].values()),
             "prompt_tokens": sum(t["tokens"]["prompt"] for t in judged["tasks"].values()),
             "completion_tokens": sum(t["tokens"]["completion"] for t in judged["tasks"].values()),
             "seconds": round(sum(t["seconds"] for t in judged["tasks"].values()), 3)}
    for cost in (results.cost, record.cost):
        if isinstance(cost, dict):
            cost["judge"] = spent


def run_model(config: RunSpec, *, on_progress: Progress | None = None) -> RunResults:
    """``clue run`` for one model: load the backend, check egress, evaluate through the run store.

    Backend options, approved endpoints, ``refresh`` and ``force`` come from the spec.
    A run directory holds one model's run: unless ``force``, a model whose
    identity differs from the one whose results are there is refused before
    anything loads (``check_output_model``).

    The egress guard runs before anything is sent anywhere (backends ask
    nothing of a server before it). The run directory is held exclusively
    (``clue.pipeline.lock``) from the start when it exists, else from the
    moment it is made, until the results are written. The store (``<output>/store.sqlite``) is
    opened only once every task has loaded and built, so bad data leaves no
    run directory behind; each completion is committed as it arrives, so a
    re-run resumes where a killed one stopped.
    """
    out = Path(config.output)
    with ExitStack() as held:
        if out.is_dir():  # an existing run directory: refuse a second process before loading any model
            held.enter_context(hold_run_dir(out))
            if not config.force:
                check_output_model(out, config.model, config.options)
        backend = load_backend(config.model, dict(config.options))
        held.callback(backend.close)
        guarded(backend, config)
        check_judges(config)

        def through_store(b: Backend, requests: list[Request]) -> Iterable[Completion]:
            held.enter_context(hold_run_dir(out))  # a new one: made (and locked) only once the data has loaded
            with RunStore(out / STORE_FILENAME) as store:
                yield from stored_generate(b, requests, store, refresh=config.refresh)

        return evaluate(config, backend, on_progress=on_progress, generate=through_store)


def guarded(backend: Backend, config: RunSpec) -> None:
    """The egress guard for a run: its tasks, the data files they read, the user's approvals and confirmations."""
    tasks = [get_task(t) for t in config.tasks]
    check_egress(backend, tasks, approved=list(config.approve_endpoints), data=run_data(config),
                 public_tasks=list(config.public_tasks))


def run_data(config: RunSpec) -> dict[str, Path | None]:
    """The data file each task of the run reads (None where there is none: the run stops on it later, before anything is sent)."""
    data: dict[str, Path | None] = {}
    for name in config.tasks:
        task = get_task(name)
        try:
            data[name] = locate(task, config.data, config.data_dir)[0]
        except UsageError:
            data[name] = None
    return data


def check_judges(config: RunSpec) -> None:
    """The judges pass the egress guard too, before the model or any judge is asked anything."""
    jury = jury_from(config.judge, config.judge_base_url, config.judges)
    if jury is None:
        return
    for backend in open_judges(jury, [get_task(t) for t in config.tasks], config.approve_endpoints,
                               data=run_data(config), public_tasks=config.public_tasks):
        backend.close()


def previous_cost(run_dir: Path) -> dict[str, Any] | None:
    """The cost the run directory's manifest recorded, if it has one (a re-run keeps its measured part)."""
    path = Path(run_dir) / MANIFEST_FILE
    if not path.is_file():
        return None
    try:
        return read_manifest(path).cost
    except (UsageError, DataError):
        return None


def _same_model(stored: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """A stored ``Backend.identity()`` against a spec identity: all but the chat layout, which only the loaded model knows."""
    return {k: v for k, v in stored.items() if k != "chat_layout"} == dict(wanted)


def check_output_model(output: Path, spec: str, options: Mapping[str, Any]) -> None:
    """Refuse to write one model's run over another's in the same directory.

    The run store records the identity of every model that answered there
    (``Backend.identity``); the spec's (``clue.models.spec_identity``: kind,
    model, the options that decide answers) must match the one whose results
    the directory holds, i.e. the store's models with the kind and model the
    manifest names, or any stored model when there is no manifest yet.
    """
    store_path = output / STORE_FILENAME
    if not store_path.is_file():
        return
    wanted = spec_identity(spec, options)
    with RunStore(store_path) as store:
        stored = [m["identity"] for m in store.models()]
    manifest_path = output / MANIFEST_FILE
    if manifest_path.is_file():
        backend = read_manifest(manifest_path).backend
        current = [s for s in stored if (s.get("kind"), s.get("model")) == (backend.get("backend"), backend.get("model"))]
        stored = current or stored
    if not stored or any(_same_model(s, wanted) for s in stored):
        return

    def name(identity: Mapping[str, Any]) -> str:
        rest = {k: v for k, v in identity.items() if k not in ("kind", "model", "chat_layout") and v}
        return f"{identity.get('kind')}:{identity.get('model')}" + (f" ({json.dumps(rest, sort_keys=True)})" if rest else "")

    raise UsageError(
        f"{output} holds the run of {name(stored[-1])}, not {name(wanted)}; writing there would replace its results. "
        f"Give this model its own --output (the default is clue-runs/<model>), or add --force to replace them"
    )


def rerun_config(run_dir: Path, metric_settings: dict[str, Any] | None = None, command: Sequence[str] | None = None) -> RunSpec:
    """The spec a run directory was made with, read back from its manifest.

    Used to score a run again from its store (new metric settings, a fixed
    scorer) without any model: same tasks, data files, seed, limit, decoding
    and templates, so the same requests are rebuilt.
    """
    manifest_path = Path(run_dir) / MANIFEST_FILE
    if not manifest_path.is_file():
        raise UsageError(f"{run_dir}: not a run directory (no manifest.json)")
    recorded = read_manifest(manifest_path)
    data = {}
    for name, info in recorded.tasks.items():
        restore_recorded(name, info.declaration, str(run_dir))
        path = Path(info.file)
        if not path.is_file():
            raise UsageError(f"{run_dir}: the {name} data file {path} is gone; score with --task/--data/--predictions instead")
        if sha256_file(path) != info.sha256:
            raise UsageError(f"{run_dir}: {path} has changed since the run (sha256 differs)")
        data[name] = path
    decoding = recorded.decoding
    cost = recorded.cost or {}
    settings = list(recorded.protocol_settings)
    budget = recorded.task_options.get("longhealth_budget")  # manifests before the run spec kept it apart
    if budget is not None:
        settings.append(f"{LONGHEALTH_BUDGET}={budget}")
    return RunSpec(
        model=str(recorded.backend.get("model", "unknown")),
        tasks=list(recorded.tasks),
        output=Path(run_dir),
        data=data,
        limit=recorded.limit,
        seed=DEFAULT_SEED if recorded.seed is None else recorded.seed,
        templates_dir=Path(recorded.templates_dir) if recorded.templates_dir else None,
        max_new_tokens=decoding.get("max_new_tokens_override"),
        temperature=decoding.get("temperature", 0.0),
        top_p=decoding.get("top_p"),
        decoding_seed=decoding.get("seed"),
        metric_settings=dict(metric_settings or {}),
        bootstrap_resamples=DEFAULT_BOOTSTRAP if recorded.bootstrap_resamples is None else recorded.bootstrap_resamples,
        protocol=recorded.protocol,
        protocol_settings=settings,
        price=cost.get("price"),
        gpus=cost.get("gpus"),
        command=list(command) if command is not None else list(sys.argv),
        suite=recorded_suite(recorded, run_dir),
    )


def recorded_suite(recorded: Manifest, run_dir: Path) -> str:
    """The suite a manifest records: a built-in name, or the suite file (unchanged since the run)."""
    record = recorded.suite
    if not isinstance(record, Mapping):
        return DEFAULT_SUITE
    if not record.get("file"):
        return str(record.get("name") or DEFAULT_SUITE)
    path = Path(str(record["file"]))
    if not path.is_file():
        raise UsageError(f"{run_dir}: the suite file {path} is gone")
    if sha256_file(path) != record.get("sha256"):
        raise UsageError(f"{run_dir}: the suite file {path} has changed since the run (sha256 differs)")
    return str(path)

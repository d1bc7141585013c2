"""``clue sweep CONFIG``: several models, one run directory each, through the same RunSpec as ``clue run``.

The file's keys are the run spec's settings (``RUN_KEYS``, per model ``MODEL_KEYS``); a file that
approves endpoints is refused; done models are skipped by fingerprint; where models run is the
executor's business. docs/report.md has the file format, crashes, re-runs and exit statuses.
"""

from __future__ import annotations

import gc
import json
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clue.core.errors import ClueError, UsageError
from clue.core.files import canonical_json, sha256_file, sha256_text, write_json
from clue.formats.config import read_mapping
from clue.models import spec_identity
from clue.pipeline.config import DEFAULT_BOOTSTRAP, RunSpec, default_output
from clue.pipeline.cost import gpus_for
from clue.pipeline.data import locate
from clue.pipeline.egress import EgressRefused
from clue.pipeline.executors import Executor, Finished, Job, LocalExecutor, cluster_section, cpus_per_model
from clue.pipeline.lock import hold_run_dir
from clue.pipeline.run import run_model as run_one
from clue.tasks.registry import get_task
from clue.tasks.settings import DEFAULT_PROTOCOL
from clue.tasks.suite import DEFAULT_SUITE, get_suite
from clue.tasks.userfile import FileTask

# The file's keys: the run spec's settings (clue.pipeline.config.SETTINGS) a sweep may set for every model, and
# per model; approvals and command-line-only switches are not among them.
RUN_KEYS = {
    "tasks", "data", "data_dir", "seed", "limit", "max_new_tokens", "temperature", "top_p", "decoding_seed",
    "longhealth_budget", "templates", "metric", "protocol", "protocol_settings", "bootstrap", "price", "suite",
}
SWEEP_KEYS = RUN_KEYS | {"output", "models", "cluster"}
MODEL_KEYS = {"spec", "name", "options", "tasks", "limit", "max_new_tokens", "temperature", "top_p", "decoding_seed",
              "price", "gpus"}
REFUSED_KEYS = {
    "approve_endpoints": "a sweep file cannot approve endpoints: it may come with a cloned project, and only you can "
    "approve where credentialed data goes. Use `clue sweep --approve-endpoint URL` or your own approvals file "
    "(docs/security.md)",
    "public_tasks": "a sweep file cannot confirm a task as public: it may come with a cloned project, and only you can "
    "lower what counts as credentialed. Use `clue sweep --public-task FILE` or your own approvals file "
    "(docs/security.md)",
}
MARKER = "sweep.json"  # in each run directory (clue.report.leaderboard reads the name from it)
STATUS = "sweep-status.json"


# -- the plan ---------------------------------------------------------------------------------
@dataclass
class ModelPlan:
    name: str
    run: RunSpec  # everything the model's run depends on, built by RunSpec.build from the file

    @property
    def spec(self) -> str:
        return self.run.model

    @property
    def output(self) -> Path:
        return self.run.output

    @property
    def tasks(self) -> list[str]:
        return self.run.tasks

    @property
    def options(self) -> dict[str, Any]:
        return self.run.options

    @property
    def gpus(self) -> int | None:
        return self.run.gpus

    def gpus_held(self) -> int:
        return self.gpus if self.gpus is not None else gpus_for(self.spec, self.options)


@dataclass
class SweepPlan:
    source: Path
    output: Path
    models: list[ModelPlan] = field(default_factory=list)
    cluster: dict[str, Any] = field(default_factory=dict)  # the file's 'cluster' section (clue.pipeline.executors)
    # what the file said, as given (the fingerprint of a done model is made of it, so old markers keep matching)
    longhealth_budget: int | None = None
    protocol_settings: list[str] = field(default_factory=list)

    @property
    def protocol(self) -> str:
        return self.models[0].run.protocol if self.models else DEFAULT_PROTOCOL

    @property
    def suite(self) -> str:
        return self.models[0].run.suite if self.models else DEFAULT_SUITE


def load_sweep(path: str | Path, *, protocol: str | None = None, protocol_settings: Sequence[str] = ()) -> SweepPlan:
    """Read and check a sweep file; nothing runs until the whole file is valid.

    ``protocol`` and ``protocol_settings`` are the command line's (``clue sweep --protocol``):
    the protocol replaces the file's, the settings are added to its.
    """
    path = Path(path)
    raw = read_mapping(path, "sweep file")
    where = str(path)
    _refuse_keys(raw, where)
    unknown = sorted(set(raw) - SWEEP_KEYS)
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(SWEEP_KEYS))}")
    base = path.parent.resolve()  # absolute: Ray and Slurm workers do not share this process's working directory
    models = raw.get("models")
    if not isinstance(models, list) or not models:
        raise UsageError(f"{where}: 'models' must list at least one model (each with a 'spec')")
    common = {k: raw[k] for k in RUN_KEYS if k in raw}
    common.setdefault("tasks", "all")
    if protocol is not None:
        common["protocol"] = protocol
    settings = [str(v) for v in (raw.get("protocol_settings") or [])] + list(protocol_settings)
    if settings:
        common["protocol_settings"] = settings
    output = Path(str(raw.get("output", "clue-sweep"))).expanduser()
    plan = SweepPlan(
        source=path,
        output=output if output.is_absolute() else base / output,
        cluster=cluster_section(raw.get("cluster"), where),
        longhealth_budget=raw.get("longhealth_budget"),
        protocol_settings=settings,
    )
    folders: set[str] = set()
    for i, m in enumerate(models, start=1):
        at = f"{where}: models[{i}]"
        if isinstance(m, str):
            m = {"spec": m}
        if not isinstance(m, Mapping) or not m.get("spec"):
            raise UsageError(f"{at}: needs a 'spec' (e.g. baseline, openai:NAME, hf:PATH)")
        _refuse_keys(m, at)
        extra = sorted(set(m) - MODEL_KEYS)
        if extra:
            raise UsageError(f"{at}: unknown key(s) {', '.join(extra)}; known: {', '.join(sorted(MODEL_KEYS))}")
        name = str(m.get("name") or m["spec"])
        folder = default_output(name).name
        if folder in folders:
            raise UsageError(f"{at}: two models would share the run folder {folder!r}; give them distinct names")
        folders.add(folder)
        own = {k: v for k, v in m.items() if k not in ("spec", "name")}
        run = RunSpec.build({**common, **own, "model": str(m["spec"]), "output": plan.output / folder}, where=at, base=base,
                            command=["clue", "sweep", str(path), "--only", name])
        plan.models.append(ModelPlan(name=name, run=run))
    return plan


def _refuse_keys(raw: Mapping[str, Any], where: str) -> None:
    for key in sorted(set(raw) & set(REFUSED_KEYS)):
        raise UsageError(f"{where}: '{key}' is refused: {REFUSED_KEYS[key]}")


# -- running ----------------------------------------------------------------------------------
def fingerprint(plan: SweepPlan, model: ModelPlan) -> dict[str, Any]:
    """What decides a model's results: if it is unchanged, a finished run is not repeated.

    The model's part is the backend's own spec identity (``clue.models.spec_identity``,
    the same the run store's model key starts from), so options that only say
    where or how fast a model runs (URLs, parallelism) are left out and a sweep
    restarted against servers on new ports still skips what is done.
    """
    run = model.run
    data = {}
    for name in run.tasks:
        path, _ = locate(get_task(name), run.data, run.data_dir)
        data[name] = sha256_file(path) if path.is_file() else f"missing:{path}"
    templates = None
    if run.templates_dir is not None and run.templates_dir.is_dir():
        templates = {p.name: sha256_file(p) for p in sorted(run.templates_dir.glob("*.txt"))}
    material = {
        "spec": run.model, "model": spec_identity(run.model, run.options), "tasks": run.tasks, "data": data, "seed": run.seed,
        "limit": run.limit, "max_new_tokens": run.max_new_tokens, "temperature": run.temperature,
        "longhealth_budget": plan.longhealth_budget, "templates": templates, "metric": run.metric_settings,
    }
    # A task file or its templates edited since: the run is not done (built-in tasks change with clue).
    task_files = {name: t.definition_sha256() for name in run.tasks if isinstance(t := get_task(name), FileTask)}
    if task_files:
        material["task_files"] = task_files
    if run.suite != DEFAULT_SUITE:  # absent for CLUE: old fingerprints hold
        material["suite"] = {"suite": run.suite, "levels": get_suite(run.suite).level_members()}
    if run.protocol != DEFAULT_PROTOCOL or plan.protocol_settings:  # absent for clue: old fingerprints hold
        material["protocol"] = {"name": run.protocol, "settings": plan.protocol_settings}
    # Settings added later go in only when set, so older markers still match.
    later = (("price", run.price), ("gpus", run.gpus), ("top_p", run.top_p), ("decoding_seed", run.decoding_seed))
    material.update({k: v for k, v in later if v is not None})
    if run.bootstrap_resamples != DEFAULT_BOOTSTRAP:
        material["bootstrap"] = run.bootstrap_resamples
    return {"sha256": sha256_text(canonical_json(material)), "material": material}


def _read_marker(run: Path) -> dict[str, Any] | None:
    try:
        return json.loads((run / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_done(plan: SweepPlan, model: ModelPlan) -> bool:
    marker = _read_marker(model.output)
    return bool(
        marker
        and marker.get("status") == "done"
        and marker.get("fingerprint") == fingerprint(plan, model)["sha256"]
        and (model.output / "results.json").is_file()
    )


@dataclass
class Outcome:
    name: str
    run: Path
    status: str  # "done" | "skipped" | "failed" | "refused" (by the egress guard; nothing sent)
    seconds: float = 0.0
    error: str | None = None
    failed_requests: int = 0
    detail: str | None = None  # the traceback of a crash, for the log


def run_model(
    plan: SweepPlan,
    model: ModelPlan,
    on_progress: Callable[[str, int, int], None] | None = None,
    approved: Sequence[str] = (),
    public_tasks: Sequence[str] = (),
) -> Outcome:
    """One model of the sweep, through the run store; raises on a crash, counts failed requests."""
    t0 = time.perf_counter()
    fp = fingerprint(plan, model)
    config = model.run.with_changes(approve_endpoints=list(approved), public_tasks=list(public_tasks))
    marker = {"name": model.name, "spec": model.spec, "sweep": str(plan.source), "status": "running",
              "fingerprint": fp["sha256"], "settings": fp["material"]}
    with hold_run_dir(model.output):
        # Where it runs: a sweep on a cluster shows which node and process hold the model.
        write_json(model.output / MARKER, {**marker, "host": socket.gethostname(), "pid": os.getpid()})
        try:
            results = run_one(config, on_progress=on_progress)
        finally:
            release_memory()
        failed = results.failed_requests
        status = "failed" if failed else "done"
        write_json(model.output / MARKER, {**marker, "status": status, "failed_requests": failed})
    error = f"{failed} request(s) failed; run the sweep again to retry them" if failed else None
    return Outcome(model.name, model.output, status, time.perf_counter() - t0, error, failed)


def run_model_safely(
    plan: SweepPlan,
    model: ModelPlan,
    approved: Sequence[str] = (),
    public_tasks: Sequence[str] = (),
    on_progress: Callable[[str, int, int], None] | None = None,
) -> Outcome:
    """``run_model`` as every executor runs it: a failure of the model comes back as a failed outcome.

    Only the worker's death (or Ctrl-C) escapes, so an executor retries a
    model whose worker died and never one that failed on its own. A refusal
    by the egress guard comes back as ``refused``: nothing was sent for it.
    """
    try:
        return run_model(plan, model, on_progress, approved, public_tasks)
    except KeyboardInterrupt:
        raise
    except EgressRefused as exc:  # nothing was sent for this model; the others still run
        return Outcome(model.name, model.output, "refused", error=str(exc).splitlines()[0], detail=str(exc))
    except Exception as exc:  # any failure of one model is reported, and the sweep goes on
        detail = None if isinstance(exc, ClueError) else traceback.format_exc(limit=6)  # clue's own errors are one clear line
        return Outcome(model.name, model.output, "failed", error=f"{type(exc).__name__}: {exc}", detail=detail)


def release_memory() -> None:
    """Free one model's memory before the next loads (GPU memory above all)."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and getattr(torch, "cuda", None) is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def run_sweep(
    plan: SweepPlan,
    *,
    only: Sequence[str] = (),
    force: bool = False,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
    on_progress: Callable[[str, str, int, int], None] | None = None,
    approved: Sequence[str] = (),
    executor: Executor | None = None,
    public_tasks: Sequence[str] = (),
) -> list[Outcome]:
    """Run every model of ``plan`` (one after another unless ``executor`` spreads them); a failing model never stops the others.

    Models already done are skipped here, before anything is sent to an
    executor; the outcomes come back in the order of the sweep file.
    """
    wanted = [m for m in plan.models if not only or m.name in only]
    missing = sorted(set(only) - {m.name for m in plan.models})
    if missing:
        raise UsageError(f"--only: no model named {', '.join(missing)} in {plan.source}")
    with hold_run_dir(plan.output, what="sweep output folder"):
        return _run_models(plan, wanted, force, log, on_progress, (tuple(approved), tuple(public_tasks)),
                           executor or LocalExecutor(log=log))


def _run_models(
    plan: SweepPlan,
    wanted: Sequence[ModelPlan],
    force: bool,
    log: Callable[[str], None],
    on_progress: Callable[[str, str, int, int], None] | None,
    consent: tuple[tuple[str, ...], tuple[str, ...]],
    executor: Executor,
) -> list[Outcome]:
    """``consent``: the user's approved endpoints and confirmed public tasks, handed to every model's run."""
    heads = {m.name: f"[{i}/{len(wanted)}] {m.name}" for i, m in enumerate(wanted, start=1)}
    outcomes: dict[str, Outcome] = {}
    jobs: list[Job] = []
    cpus = cpus_per_model(plan.cluster, executor.name)
    for model in wanted:
        if not force and is_done(plan, model):
            log(f"{heads[model.name]}: done before, skipped ({model.output})")
            outcomes[model.name] = Outcome(model.name, model.output, "skipped")
        else:
            jobs.append(Job(model.name, (plan, model, *consent), gpus=model.gpus_held(), cpus=cpus))
    write_status(plan, list(outcomes.values()), wanted)
    by_name = {m.name: m for m in wanted}

    def progress(job: Job) -> Callable[[str, int, int], None] | None:
        model = by_name[job.name]
        log(f"{heads[job.name]}: running {model.spec} -> {model.output}")
        if on_progress is None:
            return None
        return lambda task, done, total: on_progress(job.name, task, done, total)

    if jobs and executor.name != "local":
        for job in jobs:
            model = by_name[job.name]
            log(f"{heads[job.name]}: sent to {executor.name} ({job.gpus} GPU, {job.cpus} CPU): {model.spec} -> {model.output}")
    def record(end: Finished) -> None:
        model = by_name[end.job.name]
        head = heads[model.name]
        outcome = end.result if end.error is None else Outcome(model.name, model.output, "failed", error=end.error)
        if outcome.status == "refused":
            log(f"{head}: REFUSED: {outcome.detail or outcome.error}")
        elif outcome.status == "failed" and outcome.error and outcome.failed_requests == 0:
            log(f"{head}: FAILED: {outcome.error}")
            if outcome.detail:
                log(outcome.detail)
        else:
            log(f"{head}: {outcome.status} in {outcome.seconds:.1f} s" + (f" ({outcome.error})" if outcome.error else ""))
        if end.starts > 1:
            log(f"{head}: took {end.starts} start(s) (its worker died before)")
        outcomes[model.name] = outcome
        write_status(plan, list(outcomes.values()), wanted)

    try:
        for end in executor.run(jobs, run_model_safely, progress):
            record(end)
    except KeyboardInterrupt:
        executor.cancel()  # the interrupt may land here, between two models, rather than in the executor
        raise
    return [outcomes[m.name] for m in wanted if m.name in outcomes]


def write_status(plan: SweepPlan, outcomes: Sequence[Outcome], models: Sequence[ModelPlan]) -> None:
    seen = {o.name: o for o in outcomes}
    rows = []
    for m in models:
        o = seen.get(m.name)
        rows.append({
            "name": m.name, "spec": m.spec, "run": str(m.output),
            "status": o.status if o else "pending",
            "seconds": round(o.seconds, 3) if o else None,
            "error": o.error if o else None,
            "failed_requests": o.failed_requests if o else None,
        })
    write_json(plan.output / STATUS, {"schema": "clue.sweep/1", "config": str(plan.source), "models": rows})

"""One evaluation, start to finish: load -> build -> generate -> score -> aggregate -> write.

All tasks are loaded and built before the model sees a single request, so a
bad data file stops the run before any compute is spent. Outputs (written
atomically under the run directory):

    results.json             scores, metrics, diagnostics, levels (all in %)
    predictions/<task>.jsonl one line per scored request
    manifest.json            command, versions, seed, data and template hashes, backend
"""

from __future__ import annotations

import platform
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from .. import __version__
from ..backends.base import Backend
from ..datasets.locate import locate
from ..io import sha256_file, write_json, write_jsonl
from ..metrics import icd
from ..metrics import model as model_metrics
from ..metrics.aggregate import level_scores, task_summary
from ..metrics.confidence import add_confidence_intervals
from ..metrics.rouge import settings as rouge_settings
from ..schema import Completion, Item, Request, Scored
from ..tasks import BuildContext, Task, Templates, get_task

RESULTS_SCHEMA = "clue.results/1"


@dataclass
class RunConfig:
    model: str
    tasks: list[str]
    output: Path
    data: dict[str, Path] = field(default_factory=dict)
    data_dir: Path | None = None
    limit: int | None = None
    seed: int = 42
    templates_dir: Path | None = None
    max_new_tokens: int | None = None
    temperature: float = 0.0
    task_options: dict[str, Any] = field(default_factory=dict)
    metric_config: dict[str, Any] = field(default_factory=dict)
    bootstrap_resamples: int = 1000
    command: list[str] = field(default_factory=lambda: list(sys.argv))


@dataclass
class PreparedTask:
    task: Task
    path: Path
    source: str
    sha256: str
    items: list[Item]
    requests: list[Request]


def limit_requests(requests: Sequence[Request], limit: int | None) -> list[Request]:
    """Keep the requests of the first ``limit`` scored items (all sub-prompts of each)."""
    if limit is None:
        return list(requests)
    keep: dict[str, None] = {}
    for request in requests:
        if request.item_id not in keep and len(keep) >= limit:
            continue
        keep.setdefault(request.item_id, None)
    return [r for r in requests if r.item_id in keep]


def prepare(config: RunConfig, backend: Backend, templates: Templates) -> list[PreparedTask]:
    prepared = []
    for name in config.tasks:
        task = get_task(name)
        path, source = locate(name, task.expected_file, config.data, config.data_dir)
        items = task.load(path)
        ctx = BuildContext(
            seed=config.seed,
            tokenizer=backend.tokenizer,
            context_length=backend.context_length,
            templates=templates,
            max_new_tokens=config.max_new_tokens,
            temperature=config.temperature,
            task_options=config.task_options,
        )
        requests = limit_requests(task.build(items, ctx), config.limit)
        prepared.append(PreparedTask(task, path, source, sha256_file(path), items, requests))
    return prepared


def score_task(
    prepared: PreparedTask, completions: dict[str, Completion], metric_config: dict[str, Any]
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """Score one task's completions; returns (summary, prediction rows, metric settings)."""
    task = prepared.task
    scored: list[Scored] = []
    ok_requests: list[Request] = []
    failed = 0
    for request in prepared.requests:
        completion = completions.get(request.id)
        if completion is None or not completion.ok:
            failed += 1
            continue
        ok_requests.append(request)
        scored.append(task.score(request, completion.text or ""))
    extra = model_metrics.compute(
        task.model_metrics,
        [r.id for r in ok_requests],
        [s.parsed if isinstance(s.parsed, str) else completions[s.request_id].text or "" for s in scored],
        [str(r.gold) for r in ok_requests],
        metric_config,
    )
    for s in scored:
        s.metrics.update(extra.values.get(s.request_id, {}))
    by_id = {s.request_id: s for s in scored}
    rows = [prediction_row(r, completions.get(r.id), by_id.get(r.id)) for r in prepared.requests]
    summary = task_summary(
        task.metrics,
        scored,
        missing_metrics=list(extra.missing),
        failed=failed,
        truncated=sum(r.truncated for r in prepared.requests),
    )
    if extra.missing:
        summary["missing_reasons"] = dict(extra.missing)
    return summary, rows, extra.settings


def prediction_row(request: Request, completion: Completion | None, scored: Scored | None) -> dict[str, Any]:
    return {
        "id": request.id,
        "item_id": request.item_id,
        "subtask": request.subtask,
        "group": request.group,
        "prompt_hash": request.prompt_hash(),
        "truncated": request.truncated,
        "output": completion.text if completion else None,
        "error": (completion.error if completion else "no completion"),
        "parsed": scored.parsed if scored else None,
        "gold": request.gold,
        "metrics": scored.metrics if scored else None,
        "diagnostics": scored.diagnostics if scored else None,
    }


def evaluate(
    config: RunConfig,
    backend: Backend,
    on_progress: Callable[[str, int, int], None] | None = None,
    generate: Callable[[Backend, list[Request]], Iterable[Completion]] | None = None,
) -> dict[str, Any]:
    """Run every task of ``config`` through ``backend``; write and return the results."""
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    templates = Templates(config.templates_dir)
    prepared = prepare(config, backend, templates)

    all_requests = [r for p in prepared for r in p.requests]
    totals = {p.task.name: len(p.requests) for p in prepared}
    done = {name: 0 for name in totals}
    completions: dict[str, Completion] = {}
    stream = generate(backend, all_requests) if generate else backend.generate(all_requests)
    task_of = {r.id: r.task for r in all_requests}
    for completion in stream:
        completions[completion.request_id] = completion
        name = task_of[completion.request_id]
        done[name] += 1
        if on_progress:
            on_progress(name, done[name], totals[name])
    generation_s = time.perf_counter() - t0

    out = Path(config.output)
    metric_config = {"cache_path": out / "metric_cache.sqlite", **config.metric_config}
    tasks: dict[str, Any] = {}
    rows_by_task: dict[str, list[dict[str, Any]]] = {}
    metric_settings: dict[str, Any] = {"rouge": rouge_settings()}
    for p in prepared:
        summary, rows, settings = score_task(p, completions, metric_config)
        tasks[p.task.name] = summary
        rows_by_task[p.task.name] = rows
        metric_settings.update(settings)
        write_jsonl(out / "predictions" / f"{p.task.name}.jsonl", rows)
    if any(p.task.name == "medisumcode" for p in prepared):
        metric_settings["icd10cm"] = icd.edition()

    levels, levels_complete = level_scores(tasks)
    results = {
        "schema": RESULTS_SCHEMA,
        "model": backend.model_id,
        "backend": backend.kind,
        "seed": config.seed,
        "tasks": tasks,
        "levels": levels,
        "levels_complete": levels_complete,
        "metric_settings": metric_settings,
    }
    if config.bootstrap_resamples > 0:
        add_confidence_intervals(results, rows_by_task, seed=config.seed, n_resamples=config.bootstrap_resamples)
    write_json(out / "results.json", results)
    manifest = {
        "schema": "clue.manifest/1",
        "clue_version": __version__,
        "command": config.command,
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - t0, 3),
        "generation_s": round(generation_s, 3),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
        "seed": config.seed,
        "limit": config.limit,
        "templates_dir": str(config.templates_dir) if config.templates_dir else None,
        "decoding": {"temperature": config.temperature, "max_new_tokens_override": config.max_new_tokens},
        "bootstrap_resamples": config.bootstrap_resamples,
        "reused_from_store": sum(1 for c in completions.values() if c.meta.get("stored")),
        "task_options": config.task_options,
        "backend": backend.info(),
        "tasks": {
            p.task.name: {
                "file": str(p.path),
                "source": p.source,
                "sha256": p.sha256,
                "access": p.task.access,
                "items": len(p.items),
                "requests": len(p.requests),
                "truncated": sum(r.truncated for r in p.requests),
            }
            for p in prepared
        },
        "templates": templates.manifest(),
        "metric_settings": metric_settings,
    }
    write_json(out / "manifest.json", manifest)
    return results


def run_model(
    config: RunConfig,
    options: dict[str, Any] | None = None,
    *,
    approved: Sequence[str] = (),
    refresh: bool = False,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """``clue run`` for one model: load the backend, check egress, evaluate through the run store.

    The egress guard runs before anything is sent anywhere (backends ask
    nothing of a server before it). The store (``<output>/store.sqlite``) is
    opened only once every task has loaded and built, so bad data leaves no
    run directory behind; each completion is committed as it arrives, so a
    re-run resumes where a killed one stopped.
    """
    from ..backends import load_backend
    from ..backends.egress import check_egress
    from .store import STORE_FILENAME, RunStore, stored_generate

    backend = load_backend(config.model, options or {})
    try:
        check_egress(backend, [get_task(t) for t in config.tasks], approved=list(approved))

        def generate(b: Backend, requests: list[Request]) -> Iterable[Completion]:
            Path(config.output).mkdir(parents=True, exist_ok=True)
            with RunStore(Path(config.output) / STORE_FILENAME) as store:
                yield from stored_generate(b, requests, store, refresh=refresh)

        return evaluate(config, backend, on_progress=on_progress, generate=generate)
    finally:
        backend.close()


def package_versions() -> dict[str, str]:
    import importlib.metadata as md

    versions = {}
    for name in ("numpy", "pandas", "openpyxl", "rouge-score", "simple-icd-10-cm", "nltk"):
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            continue
    return versions


def rerun_config(run_dir: Path, metric_config: dict[str, Any] | None = None) -> RunConfig:
    """The configuration a run directory was made with, read back from its manifest.

    Used to score a run again from its store (new metric settings, a fixed
    scorer) without any model: same tasks, data files, seed, limit, decoding
    and templates, so the same requests are rebuilt.
    """
    from ..errors import UsageError
    from ..io import read_json_dict

    manifest_path = Path(run_dir) / "manifest.json"
    if not manifest_path.is_file():
        raise UsageError(f"{run_dir}: not a run directory (no manifest.json)")
    manifest = read_json_dict(manifest_path, "the run's manifest")
    data = {}
    for name, info in manifest["tasks"].items():
        path = Path(info["file"])
        if not path.is_file():
            raise UsageError(f"{run_dir}: the {name} data file {path} is gone; score with --task/--data/--predictions instead")
        if sha256_file(path) != info["sha256"]:
            raise UsageError(f"{run_dir}: {path} has changed since the run (sha256 differs)")
        data[name] = path
    decoding = manifest.get("decoding", {})
    return RunConfig(
        model=manifest["backend"].get("model", "unknown"),
        tasks=list(manifest["tasks"]),
        output=Path(run_dir),
        data=data,
        limit=manifest.get("limit"),
        seed=manifest["seed"],
        templates_dir=Path(manifest["templates_dir"]) if manifest.get("templates_dir") else None,
        max_new_tokens=decoding.get("max_new_tokens_override"),
        temperature=decoding.get("temperature", 0.0),
        task_options=manifest.get("task_options", {}),
        metric_config=dict(metric_config or {}),
        bootstrap_resamples=manifest.get("bootstrap_resamples", 1000),
    )

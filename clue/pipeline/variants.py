"""Variant runs: the same evaluation under several wordings, demonstration draws and answer orders.

``clue run --variants prompts=4,shots=3,order=5``: every question under each variant of a design,
identical prompts sent once through the run store, each variant written as a complete run under
``variants/<name>/`` and the spread across them in results.json's ``variants`` block (docs/variants.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from itertools import product
from pathlib import Path
from typing import Any

from clue.core.errors import UsageError
from clue.core.files import sha256_file, write_json
from clue.core.records import Completion, Request
from clue.core.results import (
    MANIFEST_FILE,
    PREDICTIONS_FOLDER,
    Manifest,
    PredictionRow,
    RunResults,
    read_manifest,
    read_predictions,
    read_run,
    write_predictions,
    write_results,
)
from clue.core.seeding import rng
from clue.models import load_backend
from clue.models.base import Backend
from clue.pipeline.config import RunSpec
from clue.pipeline.data import locate
from clue.pipeline.generate import stored_generate
from clue.pipeline.plan import PreparedTask, build_context, limit_cases, protocol_overrides, run_templates
from clue.pipeline.run import Generate, Progress, attach_inputs, guarded, score_and_write
from clue.stats.variants import flip_rate, spread
from clue.store.runs import STORE_FILENAME, RunStore, model_key, request_key
from clue.tasks.base import Task
from clue.tasks.registry import get_task
from clue.tasks.settings import apply_overrides
from clue.tasks.suite import run_suite, suite_levels
from clue.tasks.templates import Templates
from clue.tasks.variant import Variant, base_request_id

AXES = ("prompts", "shots", "order")
VARIANTS_FOLDER = "variants"


@dataclass(frozen=True)
class Design:
    """How many values each axis takes, and whether every combination is run or a seeded sample."""

    prompts: int = 1
    shots: int = 1
    order: int = 1
    sample: int | None = None  # None: crossed

    @property
    def kind(self) -> str:
        return "crossed" if self.sample is None else "sampled"

    def crossed(self) -> list[Variant]:
        return [
            Variant(wording=w, shots=s, order=o, shot_draws=self.shots)
            for w, s, o in product(range(self.prompts), range(self.shots), range(self.order))
        ]

    def variants(self, seed: int) -> list[Variant]:
        """The variants this design runs: all combinations, or the protocol's and a seeded sample of the rest."""
        grid = self.crossed()
        if self.sample is None or self.sample >= len(grid):
            return grid
        rest = rng(seed, "variants", "design").sample(grid[1:], self.sample - 1)
        return [grid[0], *sorted(rest, key=lambda v: (v.wording, v.shots, v.order))]

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "sample": self.sample, "axes": {a: getattr(self, a) for a in AXES}}


def recorded_design(run_dir: Path) -> Design | None:
    """The design a run directory was made with (its manifest's "variants"), or None for a plain run."""
    path = Path(run_dir) / MANIFEST_FILE
    described = (read_manifest(path).variants or {}).get("design") if path.is_file() else None
    if not described:
        return None
    return Design(**{a: int(described["axes"][a]) for a in AXES}, sample=described.get("sample"))


def parse_design(variants: str, design: str = "crossed") -> Design:
    """``prompts=4,shots=3,order=5`` (any subset) and ``crossed`` or ``sampled:N``."""
    values: dict[str, int] = {}
    for part in (p.strip() for p in variants.split(",") if p.strip()):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in AXES:
            raise UsageError(f"--variants: {part!r} is not AXIS=N with AXIS one of {', '.join(AXES)}")
        if key in values:
            raise UsageError(f"--variants: {key} given twice")
        try:
            values[key] = int(value)
        except ValueError:
            raise UsageError(f"--variants: {key}={value!r} is not a whole number") from None
        if values[key] < 1:
            raise UsageError(f"--variants: {key}={values[key]}; each axis needs at least 1 (the protocol's own)")
    if not values:
        raise UsageError("--variants needs at least one of prompts=N, shots=N, order=N")
    kind, _, n = design.partition(":")
    if kind == "crossed" and not n:
        return Design(**values)
    if kind == "sampled":
        try:
            sample = int(n)
        except ValueError:
            raise UsageError(f"--variant-design sampled:N needs a whole number N, not {n!r}") from None
        if sample < 1:
            raise UsageError("--variant-design sampled:N needs N of at least 1")
        return Design(**values, sample=sample)
    raise UsageError(f"--variant-design: {design!r}; use crossed or sampled:N")


def effective(variant: Variant, task: Task, shots: int) -> Variant:
    """The variant as ``task`` asks it: axes it lacks fall to 0, answer orders wrap round its count."""
    return Variant(
        wording=variant.wording,
        shots=variant.shots if shots else 0,
        order=variant.order % task.answer_orders(),
        shot_draws=variant.shot_draws if shots else 1,
    )


def varying_axes(variants: Iterable[Variant]) -> list[str]:
    chosen = list(variants)
    return [a for a, field in zip(AXES, ("wording", "shots", "order")) if len({getattr(v, field) for v in chosen}) > 1]


@dataclass
class VariantPlan:
    """Every task built under every variant it has; ``of[task][variant name]`` is the prepared task asked."""

    design: Design
    variants: list[Variant]
    prepared: dict[tuple[str, str], PreparedTask]  # (task, effective variant name)
    of: dict[str, dict[str, str]]  # task -> global variant name -> effective variant name
    templates: dict[int, Templates]  # wording -> the templates it used
    asked: dict[tuple[str, str], Variant]  # (task, effective variant name) -> that variant

    def distinct(self) -> list[PreparedTask]:
        return list(self.prepared.values())

    def for_variant(self, variant: Variant) -> list[PreparedTask]:
        return [self.prepared[(task, names[variant.name])] for task, names in self.of.items()]

    def requests(self) -> list[Request]:
        return [c.request for p in self.distinct() for c in p.cases]


def plan_variants(config: RunSpec, design: Design, backend: Backend) -> VariantPlan:
    """Load each task once and build it under each distinct variant (before any model sees anything)."""
    variants = design.variants(config.seed)
    overrides = protocol_overrides(config)
    base = run_templates(config)
    templates = {w: base.for_wording(w) for w in range(design.prompts)}
    prepared: dict[tuple[str, str], PreparedTask] = {}
    of: dict[str, dict[str, str]] = {}
    asked: dict[tuple[str, str], Variant] = {}
    for name in config.tasks:
        task = get_task(name)
        if design.prompts > task.wordings():
            raise UsageError(
                f"{name} has {task.wordings()} wordings (its own and {task.wordings() - 1} alternatives); "
                f"prompts={design.prompts} asks for more"
            )
        path, source = locate(task, config.data, config.data_dir)
        digest = sha256_file(path)
        items = task.load(path)
        shots = apply_overrides(task.declaration.settings(config.protocol), name, overrides).shots
        of[name] = {}
        for variant in variants:
            own = effective(variant, task, shots)
            of[name][variant.name] = own.name
            asked[(name, own.name)] = own
            if (name, own.name) in prepared:
                continue
            ctx = build_context(task, config, backend.tokenizer, lambda: backend.context_length, templates[own.wording],
                                overrides, own)
            cases = limit_cases(task.build(items, ctx), config.limit)
            prepared[(name, own.name)] = PreparedTask(task, path, source, digest, items, cases, task.settings(ctx))
    return VariantPlan(design, variants, prepared, of, templates, asked)


def deduplicated(inner: Generate) -> Generate:
    """Send each distinct prompt once (by the run store's request key) and answer every request that has it."""

    def generate(backend: Backend, requests: list[Request]) -> Iterator[Completion]:
        layout = backend.layout
        first: dict[str, Request] = {}
        copies: dict[str, list[str]] = {}
        for request in requests:
            key = request_key(request, layout)
            first.setdefault(key, request)
            copies.setdefault(key, []).append(request.id)
        key_of = {r.id: k for k, r in first.items()}
        for completion in inner(backend, list(first.values())):
            for request_id in copies[key_of[completion.request_id]]:
                yield replace(completion, request_id=request_id)

    return generate


def count_requests(requests: Sequence[Request], backend: Backend, store_path: Path | None) -> dict[str, int]:
    """How many requests a variant run has, how many distinct prompts, and how many of those it will send."""
    keys = {request_key(r, backend.layout) for r in requests}
    stored = 0
    if store_path is not None and store_path.is_file():
        with RunStore(store_path) as store:
            answered = store.answers(model_key(backend.identity()))
        stored = sum(1 for k in keys if k in answered)
    return {"requests": len(requests), "distinct": len(keys), "stored": stored, "to_send": len(keys) - stored}


def evaluate_variants(
    config: RunSpec,
    design: Design,
    backend: Backend,
    *,
    generate: Generate | None = None,
    store_path: Path | None = None,
    on_plan: Callable[[dict[str, Any]], None] | None = None,
    on_progress: Progress | None = None,
) -> RunResults:
    """Plan, generate (each distinct prompt once), score each variant, write its run and the summary."""
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    vplan = plan_variants(config, design, backend)
    distinct = vplan.distinct()
    requests = vplan.requests()
    counts = count_requests(requests, backend, store_path)
    if on_plan:
        on_plan({"variants": [v.name for v in vplan.variants], "design": design.describe(), **counts})
    attach_inputs(backend, distinct)
    send = deduplicated(generate or (lambda b, rs: b.generate(rs)))
    task_of = {c.id: p.task.name for p in distinct for c in p.cases}
    totals: dict[str, int] = {}
    for p in distinct:
        totals[p.task.name] = totals.get(p.task.name, 0) + len(p.cases)
    done = dict.fromkeys(totals, 0)
    completions: dict[str, Completion] = {}
    for completion in send(backend, requests):
        completions[completion.request_id] = completion
        name = task_of[completion.request_id]
        done[name] += 1
        if on_progress:
            on_progress(name, done[name], totals[name])
    generation_s = time.perf_counter() - t0
    out = Path(config.output)
    metric_config = {"cache_path": out / "metric_cache.sqlite", **config.metric_settings}
    per_variant: dict[str, RunResults] = {}
    for variant in vplan.variants:
        sub = replace(config, output=out / VARIANTS_FOLDER / variant.name, metric_settings=metric_config)
        per_variant[variant.name] = score_and_write(
            sub, backend, vplan.for_variant(variant), completions, vplan.templates[variant.wording],
            started, t0, generation_s,
        )
        note_variant(sub.output, variant, design)
    summary = summarise(out, vplan, per_variant, counts)
    return write_top(out, vplan.variants[0], summary)


def note_variant(run_dir: Path, variant: Variant, design: Design) -> None:
    """Record in a variant's manifest which variant it is."""
    path = run_dir / MANIFEST_FILE
    manifest = read_manifest(path)
    manifest.variant = {"name": variant.name, "wording": variant.wording, "shots": variant.shots,
                        "order": variant.order, "shot_draws": variant.shot_draws, "design": design.describe()}
    write_json(path, manifest.to_json())


def variant_rows(run_dir: Path, task: str) -> dict[str, PredictionRow]:
    """A variant's prediction rows of one task, keyed by request id without the variant suffix."""
    return {base_request_id(row.id): row for row in read_predictions(run_dir / PREDICTIONS_FOLDER / f"{task}.jsonl")}


def summarise(out: Path, vplan: VariantPlan, per_variant: Mapping[str, RunResults], counts: Mapping[str, int]) -> dict[str, Any]:
    """The "variants" block of results.json: the design, and per task and level the spread over variants."""
    names = [v.name for v in vplan.variants]
    tasks: dict[str, Any] = {}
    for task, of in vplan.of.items():
        # One representative global variant per distinct prompt of the task.
        first: dict[str, str] = {}
        for global_name, own in of.items():
            first.setdefault(own, global_name)
        scores = {own: per_variant[g].tasks[task].score for own, g in first.items()}
        rows = [variant_rows(out / VARIANTS_FOLDER / g, task) for g in first.values()]
        binary = list(get_task(task).declaration.paired_binary)
        varies = varying_axes(vplan.asked[(task, own)] for own in first)
        failed = sum(per_variant[g].tasks[task].failed_requests for g in first.values())
        tasks[task] = {
            **spread(list(scores.values())),
            "scores": scores,
            "failed_requests": failed,
            "varies": varies,
            "flip": flip_rate(rows, binary),
            "variant_of": dict(of),
        }
    levels: dict[str, Any] = {}
    for level in suite_levels(run_suite(per_variant[names[0]])):  # the run's suite's levels
        values = {n: per_variant[n].levels.get(level) for n in names}
        if any(v is None for v in values.values()):
            continue
        levels[level] = {**spread(list(values.values())), "scores": values}
    return {
        "design": vplan.design.describe(),
        "names": names,
        "default": names[0],
        "folder": VARIANTS_FOLDER,
        "requests": dict(counts),
        "varies": varying_axes(vplan.variants),
        "tasks": tasks,
        "levels": levels,
    }


def write_top(out: Path, default: Variant, summary: dict[str, Any]) -> RunResults:
    """The run directory's own files: the protocol's variant, with the variants block added."""
    source = read_run(out / VARIANTS_FOLDER / default.name)
    results, manifest = source.results, source.manifest or Manifest()
    results.variants = summary
    for task in results.tasks:
        write_predictions(out, task, source.predictions(task))
    manifest.variants = {"design": summary["design"], "names": summary["names"], "folder": VARIANTS_FOLDER}
    write_results(out, results, manifest)
    return results


def run_variants(
    config: RunSpec,
    design: Design,
    *,
    on_plan: Callable[[dict[str, Any]], None] | None = None,
    on_progress: Progress | None = None,
) -> RunResults:
    """``clue run --variants``: load the backend, check egress, evaluate every variant through the run store."""
    backend = load_backend(config.model, dict(config.options))
    store_path = Path(config.output) / STORE_FILENAME
    try:
        guarded(backend, config)
        return evaluate_variants(
            config, design, backend, generate=through_store(store_path, refresh=config.refresh),
            store_path=None if config.refresh else store_path, on_plan=on_plan, on_progress=on_progress,
        )
    finally:
        backend.close()


def through_store(store_path: Path, *, refresh: bool = False) -> Generate:
    """Generation through the run store at ``store_path`` (opened only when generation starts)."""

    def generate(backend: Backend, requests: list[Request]) -> Iterable[Completion]:
        store_path.parent.mkdir(parents=True, exist_ok=True)
        with RunStore(store_path) as store:
            yield from stored_generate(backend, requests, store, refresh=refresh)

    return generate

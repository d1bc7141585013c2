"""The items behind a pair's verdict: where the biomedical model and its base differ most, side by side.

For each compared pair and each task whose items the page may show (the same
gates as the run item browser: ``--show-items`` for public tasks, and
``--allow-credentialed-items`` for credentialed ones), every paired request
with: the prompt as sent (the messages after the chat layout), both outputs,
the gold answer, both per-item scores (the mean of the task's metrics, in
points) and their difference, sorted by how much they differ. Each row is
labelled "bio wrong, base right", "bio right, base wrong" (on a right/wrong
metric; on other tasks: "bio lower", "bio higher") or "same", which the page
filters by. For runs made with prompt variants, each side's score under every
variant shows the items that flip with the wording.

The prompt is not stored in a run (only its hash): it is rebuilt from the
run's manifest and data file without any model (``clue.pipeline.run.rerun_config``,
``clue.pipeline.plan.plan``) and shown only when the rebuilt request's hash is
the one recorded for the item; otherwise the row says why there is no prompt.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from clue.core.chat import ChatLayout
from clue.core.errors import ClueError
from clue.core.results import PredictionRow
from clue.pipeline.generate import StoreBackend
from clue.pipeline.plan import plan, run_templates
from clue.pipeline.prompts import prompt_row
from clue.pipeline.run import rerun_config
from clue.pipeline.variants import VARIANTS_FOLDER, variant_rows
from clue.report.leaderboard import Entry
from clue.report.pairs import PairResult
from clue.report.taskinfo import task_info

PAIR_ITEM_FIELDS = ("id", "label", "difference", "score_base", "score_biomedical", "output_base", "output_biomedical",
                    "gold", "metrics_base", "metrics_biomedical", "prompt", "prompt_note", "variants_base",
                    "variants_biomedical", "flips")
STORE_FILE = "store.sqlite"


def item_score(row: PredictionRow, metrics: Sequence[str]) -> float | None:
    """An item's score in points: the mean of the task's metrics it has (None when unscored)."""
    values = [v for m in metrics if (v := (row.metrics or {}).get(m)) is not None and math.isfinite(v)]
    return 100.0 * sum(values) / len(values) if values else None


def label(bio: PredictionRow, base: PredictionRow, binary: Sequence[str], diff: float | None) -> str:
    for m in binary:
        a, b = (base.metrics or {}).get(m), (bio.metrics or {}).get(m)
        if a is not None and b is not None:
            if b < 0.5 <= a:
                return "bio wrong, base right"
            if a < 0.5 <= b:
                return "bio right, base wrong"
            return "same"
    if diff is None or abs(diff) < 1e-9:
        return "same"
    return "bio lower" if diff < 0 else "bio higher"


def rebuilt_prompts(entry: Entry, tasks: Sequence[str]) -> tuple[dict[str, dict[str, Any]], str | None]:
    """Request id -> the prompt as sent (messages after the layout, and its hash), rebuilt without a model;
    or why it could not be."""
    if entry.path is None:
        return {}, "no run folder"
    store = Path(entry.path) / STORE_FILE
    if not store.is_file():
        return {}, "the run has no store to read the model's context and chat layout from"
    try:
        config = rerun_config(Path(entry.path), command=[])
        config = replace(config, tasks=[t for t in config.tasks if t in tasks])
        backend = StoreBackend(store)
        try:
            prepared = plan(config, backend.tokenizer, lambda: backend.context_length, run_templates(config))
            layout = backend.layout or ChatLayout(str(entry.manifest.backend.get("chat_layout") or "system")
                                                  if entry.manifest else "system")
            out: dict[str, dict[str, Any]] = {}
            for p in prepared:
                for case in p.cases:
                    row = prompt_row(p.task.name, case, layout, backend.tokenizer)
                    out[case.request.id] = {"messages": row.get("messages"), "prompt": row.get("prompt"),
                                            "prompt_hash": row["prompt_hash"]}
        finally:
            backend.store.close()
    except (ClueError, OSError, ValueError) as exc:
        return {}, f"the prompts could not be rebuilt ({exc})"
    return out, None


def show_prompt(rebuilt: Mapping[str, Any] | None, recorded_hash: str | None, why: str | None) -> tuple[Any, str]:
    if rebuilt is None:
        return None, why or "not rebuilt"
    if recorded_hash and rebuilt["prompt_hash"] != recorded_hash:
        return None, "the rebuilt prompt's hash differs from the run's: not shown (data or templates changed)"
    return (rebuilt["messages"] if rebuilt["messages"] is not None else rebuilt["prompt"]), "as sent (hash checked)"


def variant_scores(entry: Entry, task: str, metrics: Sequence[str]) -> dict[str, dict[str, float | None]]:
    """Item id -> variant -> score, for a run made with ``clue run --variants``; {} otherwise."""
    names = (entry.results.variants or {}).get("names") or []
    if entry.path is None or len(names) < 2:
        return {}
    out: dict[str, dict[str, float | None]] = {}
    for name in names:
        try:
            rows = variant_rows(Path(entry.path) / VARIANTS_FOLDER / name, task)
        except (ClueError, OSError):
            continue
        for rid, row in rows.items():
            out.setdefault(rid, {})[name] = item_score(row, metrics)
    return out


def flips(by_variant: Mapping[str, float | None]) -> bool:
    """Whether an item's score changes with the variant (right under one wording, wrong under another)."""
    values = {round(v, 6) for v in by_variant.values() if v is not None}
    return len(values) > 1


def pair_items(results: Sequence[PairResult], allowed: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """pair label -> task -> rows (``PAIR_ITEM_FIELDS``); ``allowed``: run name -> tasks the page may show."""
    out: dict[str, Any] = {}
    prompts_cache: dict[str, tuple[dict[str, dict[str, Any]], str | None]] = {}
    for r in results:
        if r.comparison is None:
            continue
        tasks = [t for t in r.comparison.tasks
                 if t in allowed.get(r.biomedical.name, ()) and t in allowed.get(r.base.name, ())]
        if not tasks:
            continue
        if r.biomedical.name not in prompts_cache:
            prompts_cache[r.biomedical.name] = rebuilt_prompts(r.biomedical, tasks)
        prompts, why = prompts_cache[r.biomedical.name]
        key = f"{r.biomedical.name} vs {r.base.name}"
        for task in tasks:
            info = task_info(task, r.base.manifest)
            metrics = list(r.comparison.tasks[task].get("metrics") or [])
            binary = [m for m in info.get("paired_binary") or () if m in metrics]
            bio_rows = {row.id: row for row in r.biomedical.prediction_rows(task)}
            base_rows = {row.id: row for row in r.base.prediction_rows(task)}
            var_bio, var_base = variant_scores(r.biomedical, task, metrics), variant_scores(r.base, task, metrics)
            rows = []
            for rid, bio in bio_rows.items():
                base = base_rows.get(rid)
                if base is None:
                    continue
                sb, sa = item_score(bio, metrics), item_score(base, metrics)
                diff = None if sa is None or sb is None else sb - sa
                prompt, note = show_prompt(prompts.get(rid), bio.prompt_hash, why)
                vb, va = var_bio.get(rid, {}), var_base.get(rid, {})
                rows.append([rid, label(bio, base, binary, diff), diff, sa, sb,
                             f"[failed: {base.error}]" if base.error else base.output,
                             f"[failed: {bio.error}]" if bio.error else bio.output,
                             bio.gold, base.metrics, bio.metrics, prompt, note, va or None, vb or None,
                             flips(vb) or flips(va)])
            rows.sort(key=lambda row: -abs(row[2]) if row[2] is not None else 0.0)
            out.setdefault(key, {})[task] = rows
    return out

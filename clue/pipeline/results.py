"""Results: task summaries into levels and intervals, and the files a run leaves behind.

Outputs (written atomically under the run directory):

    results.json             scores, metrics, diagnostics, levels (all in %)
    predictions/<task>.jsonl one line per scored request
    manifest.json            command, versions, seed, data and template hashes, backend
"""

from __future__ import annotations

import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from clue import __version__
from clue.core.files import write_json, write_jsonl
from clue.core.versions import installed_versions
from clue.pipeline.config import MANIFEST_SCHEMA, RESULTS_SCHEMA, RunConfig
from clue.pipeline.plan import PreparedTask
from clue.stats.aggregate import level_scores
from clue.stats.confidence import add_confidence_intervals
from clue.tasks.registry import levels as declared_levels

# Packages whose versions decide scores; recorded in every manifest.
SCORING_PACKAGES = ("numpy", "pandas", "openpyxl", "rouge-score", "simple-icd-10-cm", "nltk")


def assemble_results(
    config: RunConfig,
    model: str,
    backend_kind: str,
    prepared: Sequence[PreparedTask],
    tasks: dict[str, Any],
    rows_by_task: Mapping[str, list[dict[str, Any]]],
    metric_settings: dict[str, Any],
) -> dict[str, Any]:
    """The results dict: task summaries, level scores and, unless turned off, bootstrap intervals."""
    levels_declared = declared_levels()
    levels, levels_complete = level_scores(tasks, levels_declared)
    results: dict[str, Any] = {
        "schema": RESULTS_SCHEMA,
        "model": model,
        "backend": backend_kind,
        "seed": config.seed,
        "tasks": tasks,
        "levels": levels,
        "levels_complete": levels_complete,
        "metric_settings": metric_settings,
    }
    if config.bootstrap_resamples > 0:
        units = {p.task.name: p.task.declaration.resampling_unit for p in prepared}
        add_confidence_intervals(
            results, rows_by_task, seed=config.seed, n_resamples=config.bootstrap_resamples,
            levels=levels_declared, units=units,
        )
    return results


def manifest(
    config: RunConfig,
    prepared: Sequence[PreparedTask],
    backend_info: dict[str, Any],
    templates: dict[str, Any],
    metric_settings: dict[str, Any],
    timing: dict[str, Any],
    reused_from_store: int,
) -> dict[str, Any]:
    """What a run was: command, versions, seed, data and template hashes, backend, timing."""
    return {
        "schema": MANIFEST_SCHEMA,
        "clue_version": __version__,
        "command": config.command,
        **timing,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": installed_versions(SCORING_PACKAGES),
        "seed": config.seed,
        "limit": config.limit,
        "protocol": config.protocol,
        "templates_dir": str(config.templates_dir) if config.templates_dir else None,
        "decoding": {"temperature": config.temperature, "max_new_tokens_override": config.max_new_tokens},
        "bootstrap_resamples": config.bootstrap_resamples,
        "reused_from_store": reused_from_store,
        "task_options": config.task_options,
        "backend": backend_info,
        "tasks": {
            p.task.name: {
                "file": str(p.path),
                "source": p.source,
                "sha256": p.sha256,
                "access": p.task.access,
                "items": len(p.items),
                "requests": len(p.cases),
                "truncated": p.truncated,
                "declaration": p.task.describe(config.protocol),
            }
            for p in prepared
        },
        "templates": templates,
        "metric_settings": metric_settings,
    }


def write_predictions(out: Path, task: str, rows: list[dict[str, Any]]) -> None:
    write_jsonl(Path(out) / "predictions" / f"{task}.jsonl", rows)


def remove_other_predictions(out: Path, tasks: Sequence[str]) -> list[Path]:
    """Remove ``predictions/<task>.jsonl`` of tasks this run did not score; returns what went.

    A run folder re-run with fewer tasks must not keep the old tasks'
    predictions beside a results.json that no longer lists them: predictions/
    holds exactly the tasks of results.json. Nothing is lost: the answers stay
    in store.sqlite, and running those tasks again into this folder rebuilds
    the same files without asking the model. Only ``*.jsonl`` files directly
    in predictions/ are touched.
    """
    folder = Path(out) / "predictions"
    keep = {f"{t}.jsonl" for t in tasks}
    removed = []
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        if path.name not in keep and path.is_file():
            path.unlink()
            removed.append(path)
    return removed


def write_run(out: Path, results: dict[str, Any], manifest_data: dict[str, Any]) -> None:
    write_json(Path(out) / "results.json", results)
    write_json(Path(out) / "manifest.json", manifest_data)

"""Fake runs: run directories written by hand, with known scores (the report, sweep and cluster tests)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from clue.core.results import RunResults, TaskSummary
from clue.stats.aggregate import level_scores
from clue.tasks import get_task
from clue.tasks.suite import CLUE

# the published June 2024 rows, as shipped in the package (clue/report/data/published/)
PUBLISHED_CSV = Path(__file__).resolve().parents[2] / "clue" / "report" / "data" / "published" / "clue-2024-06.csv"
SHARED_PUBLISHED_CSV = Path(__file__).resolve().parents[3] / "shared" / "data" / "published" / "clue-2024-06.csv"


def write_run(
    folder: Path, model: str, per_task: dict[str, dict[str, Sequence[float]]], *, group_size: int | None = None
) -> Path:
    """A run directory as ``clue run`` writes it: per_task[task][metric] = per-item values in [0, 1].

    Scores are computed the project's way (mean per metric, mean of metrics),
    so results.json agrees with the prediction rows exactly.
    """
    from statistics import fmean

    tasks: dict[str, TaskSummary] = {}
    manifest_tasks: dict[str, Any] = {}
    (folder / "predictions").mkdir(parents=True, exist_ok=True)
    for task, metrics in per_task.items():
        n = len(next(iter(metrics.values())))
        rows = []
        for i in range(n):
            group = f"patient_{i // group_size:02d}" if group_size else None
            rows.append({
                "id": f"{task}/item-{i:04d}", "item_id": f"item-{i:04d}", "subtask": None, "group": group,
                "prompt_hash": f"{i:064x}", "truncated": False, "output": f"answer {i}", "error": None,
                "parsed": f"answer {i}", "gold": f"gold {i}",
                "metrics": {m: float(v[i]) for m, v in metrics.items()}, "diagnostics": {},
            })
        (folder / "predictions" / f"{task}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        means = {m: 100.0 * fmean(v) for m, v in metrics.items()}
        expected = get_task(task).metrics
        tasks[task] = TaskSummary(
            score=fmean(means.values()), n=n, metrics=means, diagnostics={"truncated_prompts": 0, "failed_requests": 0},
            complete=set(means) == set(expected), missing_metrics=[m for m in expected if m not in means],
        )
        manifest_tasks[task] = {"access": get_task(task).access, "items": n, "requests": n, "truncated": 0}
    level_values, complete = level_scores(tasks, CLUE.level_members())
    results = RunResults(model=model, backend="handmade", seed=42, tasks=tasks, levels=level_values,
                         levels_complete=complete, metric_settings={})
    (folder / "results.json").write_text(json.dumps(results.to_json()))
    (folder / "manifest.json").write_text(json.dumps({"schema": "clue.manifest/1", "tasks": manifest_tasks,
                                                      "backend": {"chat_layout": "system"}, "limit": None}))
    return folder


def accuracy(n: int, correct: int) -> list[float]:
    return [1.0 if i < correct else 0.0 for i in range(n)]


def level1_tasks(mednli_correct: int, n: int = 500) -> dict[str, dict[str, list[float]]]:
    """Level-1 tasks where only MedNLI differs between runs built with different ``mednli_correct``."""
    summary = [((i * 37) % 100) / 100 for i in range(60)]
    return {
        "mednli": {"accuracy": accuracy(n, mednli_correct)},
        "meqsum": {m: summary for m in get_task("meqsum").metrics},
        "problem_summary": {m: summary for m in get_task("problem_summary").metrics},
    }



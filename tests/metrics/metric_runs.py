"""Fake runs for the metric tests: results and prediction rows shaped like the runner's, from per-item metric values."""

from __future__ import annotations

import json
from pathlib import Path


def run_results(model: str, rows_by_task: dict[str, list[dict]]) -> dict:
    """A results dict shaped like the runner's, computed from prediction rows."""
    from statistics import fmean

    from clue.core.results import RunResults, TaskSummary
    from clue.stats.aggregate import level_scores, mean_by_key
    from clue.tasks.suite import CLUE

    tasks = {}
    for task, rows in rows_by_task.items():
        scored = [r["metrics"] for r in rows if r["metrics"] is not None]
        metrics = mean_by_key(scored)
        tasks[task] = TaskSummary(score=fmean(metrics.values()) if metrics else None, n=len(scored), metrics=metrics)
    levels, complete = level_scores(tasks, CLUE.level_members())
    return RunResults(model=model, backend="test", seed=42, tasks=tasks, levels=levels, levels_complete=complete,
                      metric_settings={}).to_json()


def write_run(path: Path, model: str, rows_by_task: dict[str, list[dict]]) -> Path:
    """A run directory (results.json + predictions/<task>.jsonl) like the runner writes."""
    (path / "predictions").mkdir(parents=True, exist_ok=True)
    for task, rows in rows_by_task.items():
        (path / "predictions" / f"{task}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (path / "results.json").write_text(json.dumps(run_results(model, rows_by_task)), encoding="utf-8")
    return path


def rows(task: str, values: list[dict | None], group_size: int | None = None) -> list[dict]:
    """Prediction rows for ``task`` with the given per-row metric dicts (None = failed)."""
    out = []
    for i, metrics in enumerate(values):
        group = f"patient_{i // group_size:02d}" if group_size else None
        subtask = next(iter(metrics)) if (metrics and task == "longhealth") else None
        out.append({"id": f"{task}/{i}", "item_id": str(i if not group_size else i // 3), "subtask": subtask,
                    "group": group, "output": "x", "error": None if metrics is not None else "failed",
                    "metrics": metrics})
    return out


def full_run(seed: int, shift: float = 0.0) -> dict[str, list[dict]]:
    """All six tasks at roughly their real sizes, random per-item values (``shift`` added to B-like runs)."""
    import numpy as np

    gen = np.random.default_rng(seed)
    clip = lambda x: float(min(1.0, max(0.0, x)))  # noqa: E731
    summary = ("rouge1", "rouge2", "rougeL", "bertscore", "umls_f1")
    sizes = {"mednli": 1419, "meqsum": 997, "problem_summary": 234, "medisumqa": 415, "medisumcode": 499}
    out = {
        "mednli": rows("mednli", [{"accuracy": float(gen.random() < 0.6 + shift)} for _ in range(sizes["mednli"])]),
        "meqsum": rows("meqsum", [{m: clip(gen.random() * 0.6 + shift) for m in summary[:4]} for _ in range(sizes["meqsum"])]),
        "problem_summary": rows("problem_summary", [{m: clip(gen.random() * 0.5 + shift) for m in summary} for _ in range(sizes["problem_summary"])]),
        "medisumqa": rows("medisumqa", [{m: clip(gen.random() * 0.5 + shift) for m in summary} for _ in range(sizes["medisumqa"])]),
        "medisumcode": rows("medisumcode", [{m: clip(gen.random() * 0.4 + shift) for m in ("em_f1", "ap_f1", "valid")} for _ in range(sizes["medisumcode"])]),
    }
    lh = []
    for p in range(20):
        skill = gen.random() * 0.5 + 0.3 + shift
        for q in range(300):
            sub = ("task1", "task2", "task3")[q % 3]
            lh.append({"id": f"longhealth/p{p}q{q // 15}/{sub}/{q}", "item_id": f"p{p}q{q // 15}", "subtask": sub,
                       "group": f"patient_{p + 1:02d}", "output": "x", "error": None,
                       "metrics": {sub: float(gen.random() < skill)}})
    out["longhealth"] = lh
    return out

"""Bootstrap speed: 10,000 resamples for every task of a full-size run, and a paired comparison.

Target (issue 4): both together under 2 s on 2 cores. Synthetic rows at the
real sizes (MedNLI 1,419, MeQSum 997, Problem Summary 234, MeDiSumQA 415,
MeDiSumCode 499, LongHealth 6,000 prompts in 20 patients).

    python bench/bench_stats.py [--resamples 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from clue.report.compare import compare_runs
from clue.stats.aggregate import level_scores, mean_by_key
from clue.stats.confidence import add_confidence_intervals
from clue.tasks import suite_levels as declared_levels

SIZES = {"mednli": 1419, "meqsum": 997, "problem_summary": 234, "medisumqa": 415, "medisumcode": 499}
METRICS = {
    "mednli": ("accuracy",),
    "meqsum": ("rouge1", "rouge2", "rougeL", "bertscore"),
    "problem_summary": ("rouge1", "rouge2", "rougeL", "bertscore", "umls_f1"),
    "medisumqa": ("rouge1", "rouge2", "rougeL", "bertscore", "umls_f1"),
    "medisumcode": ("em_f1", "ap_f1", "valid"),
}


def synthetic_run(seed: int) -> dict[str, list[dict]]:
    gen = np.random.default_rng(seed)
    data: dict[str, list[dict]] = {}
    for task, n in SIZES.items():
        values = gen.random((n, len(METRICS[task])))
        if task == "mednli":
            values = (values < 0.7).astype(float)
        data[task] = [{"id": f"{task}/{i}", "item_id": str(i), "group": None, "subtask": None,
                       "metrics": dict(zip(METRICS[task], map(float, row)))} for i, row in enumerate(values)]
    rows = []
    for p in range(20):
        right = gen.random(300) < gen.uniform(0.3, 0.9)
        for q in range(300):
            sub = ("task1", "task2", "task3")[q % 3]
            rows.append({"id": f"longhealth/{p}/{q}", "item_id": f"p{p}q{q // 15}", "group": f"patient_{p:02d}",
                         "subtask": sub, "metrics": {sub: float(right[q])}})
    data["longhealth"] = rows
    return data


def results_for(data: dict[str, list[dict]]) -> dict:
    tasks = {}
    for task, rows in data.items():
        metrics = mean_by_key(r["metrics"] for r in rows)
        tasks[task] = {"score": float(np.mean(list(metrics.values()))), "metrics": metrics, "complete": True}
    levels, complete = level_scores(tasks, declared_levels())
    return {"model": "synthetic", "tasks": tasks, "levels": levels, "levels_complete": complete}


def write_run(folder: Path, data: dict[str, list[dict]]) -> None:
    (folder / "predictions").mkdir(parents=True)
    for task, rows in data.items():
        with open(folder / "predictions" / f"{task}.jsonl", "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in rows)
    (folder / "results.json").write_text(json.dumps(results_for(data)), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resamples", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    run_a, run_b = synthetic_run(1), synthetic_run(2)
    n_rows = sum(len(r) for r in run_a.values())
    print(f"rows per run: {n_rows}; resamples: {args.resamples}; cpus: {os.cpu_count()}")
    ci_times, cmp_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        write_run(Path(tmp) / "a", run_a)
        write_run(Path(tmp) / "b", run_b)
        for _ in range(args.repeat):
            results = results_for(run_a)
            t0 = time.perf_counter()
            add_confidence_intervals(results, run_a, seed=42, n_resamples=args.resamples,
                                     levels=declared_levels(), units={"longhealth": "patient"})
            ci_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            comparison = compare_runs(Path(tmp) / "a", Path(tmp) / "b", seed=42, n_resamples=args.resamples)
            cmp_times.append(time.perf_counter() - t0)
    ci, cmp_ = min(ci_times), min(cmp_times)
    print(f"confidence intervals, all six tasks + levels: {ci:.3f} s (best of {args.repeat})")
    print(f"paired comparison incl. reading both runs:    {cmp_:.3f} s (best of {args.repeat})")
    print(f"together: {ci + cmp_:.3f} s  (target < 2 s) -> {'OK' if ci + cmp_ < 2 else 'SLOW'}")
    print("overall CI:", [round(x, 2) for x in results["levels_ci"]["overall"]])
    print(comparison["levels"]["overall"]["verdict"])


if __name__ == "__main__":
    main()

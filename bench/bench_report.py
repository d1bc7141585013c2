"""How long ``clue report`` takes at the study's scale: 24 full-size runs, the 12 pairs, 10,000 resamples.

    python bench/bench_report.py [--runs-dir DIR] [--resamples 10000] [--show-items]

Writes synthetic run directories with the real tasks' sizes (MedNLI 1,422
items, MeQSum 1,000, Problem Summary 237, MeDiSumQA 416, MeDiSumCode 500,
LongHealth 6,000 prompts over 20 patients), named after the study's models,
then times each stage of the report. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from clue.core.records import Scored
from clue.report.pairs import load_pairs
from clue.stats.aggregate import level_scores, task_summary
from clue.tasks import CLUE, get_task

SIZES = {"mednli": 1422, "meqsum": 1000, "problem_summary": 237, "medisumqa": 416, "medisumcode": 500, "longhealth": 6000}


def write_run(folder: Path, model: str, skill: float, rnd: random.Random) -> None:
    tasks = {}
    (folder / "predictions").mkdir(parents=True, exist_ok=True)
    for task, n in SIZES.items():
        metrics = get_task(task).metrics
        rows, scored = [], []
        for i in range(n):
            if task == "longhealth":
                sub = metrics[(i // 5) % 3]
                values = {sub: float(rnd.random() < skill)}
                group = f"patient_{i % 20:02d}"
            elif task == "mednli":
                values, group = {"accuracy": float(rnd.random() < skill)}, None
            else:
                values, group = {m: min(1.0, max(0.0, rnd.gauss(skill * 0.6, 0.15))) for m in metrics}, None
            rid = f"{task}/{i}"
            rows.append({"id": rid, "item_id": str(i // 15 if task == "longhealth" else i), "subtask": None,
                         "group": group, "prompt_hash": "0" * 64, "truncated": False, "output": "x" * 200,
                         "error": None, "parsed": "x", "gold": "y", "metrics": values, "diagnostics": {}})
            scored.append(Scored(rid, rows[-1]["item_id"], "x", values, {}))
        (folder / "predictions" / f"{task}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        tasks[task] = task_summary(metrics, scored)
    level_values, complete = level_scores(tasks, CLUE.level_members())
    (folder / "results.json").write_text(json.dumps({"schema": "clue.results/1", "model": model, "backend": "bench",
                                                     "seed": 42, "tasks": tasks, "levels": level_values,
                                                     "levels_complete": complete}))
    (folder / "manifest.json").write_text(json.dumps({"tasks": {t: {"access": get_task(t).access} for t in SIZES}}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs-dir", type=Path)
    parser.add_argument("--resamples", type=int, default=10000)
    parser.add_argument("--show-items", action="store_true")
    args = parser.parse_args()
    root = args.runs_dir or Path(tempfile.mkdtemp(prefix="clue-bench-report-"))
    names = sorted({n for p in load_pairs("clue").pairs for n in (p.biomedical, p.base)})
    rnd = random.Random(0)
    t0 = time.perf_counter()
    runs = []
    for name in names:
        folder = root / name.replace("/", "_")
        if not (folder / "results.json").is_file():
            write_run(folder, name, rnd.uniform(0.4, 0.8), rnd)
        runs.append(folder)
    print(f"{len(runs)} runs ({sum(SIZES.values())} prediction rows each) ready in {time.perf_counter() - t0:.1f} s: {root}")

    from clue.report import figures, html
    from clue.report.leaderboard import load_run
    from clue.report.pairs import compare_pairs

    t = time.perf_counter()
    entries = [load_run(r) for r in runs]
    print(f"load runs + bootstrap CIs (1,000 resamples each): {time.perf_counter() - t:.2f} s")
    t = time.perf_counter()
    pairs = compare_pairs(load_pairs("clue"), entries, n_resamples=args.resamples)
    print(f"compare {len(pairs)} pairs ({args.resamples} paired resamples): {time.perf_counter() - t:.2f} s")
    t = time.perf_counter()
    figures.write_figures(entries, pairs, root / "report" / "figures")
    print(f"figures: {time.perf_counter() - t:.2f} s")
    t = time.perf_counter()
    report = html.build_report(runs, html.ReportOptions(out=root / "report", pairs="clue",
                                                        n_resamples=args.resamples, show_items=args.show_items))
    size = report.files["report.html"].stat().st_size
    print(f"whole report (all of the above again, end to end): {time.perf_counter() - t:.2f} s; "
          f"report.html {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()

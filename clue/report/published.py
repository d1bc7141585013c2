"""Published reference rows: the per-task metrics the study's website showed in June 2024.

The file (``data/published/clue-2024-06.csv``, shipped in the package with
SOURCE.md: published figures, copied as published) has one row per model and one
column per task metric, named ``<task>_<metric>`` with this project's task and
metric names (``mednli_accuracy``, ``meqsum_rouge1``, ..., ``longhealth_task3``).
An empty cell means the model has no result there (4k-context models have no
level-2 tasks).

The rows are aggregated with the project's own rules, not copied: a task's
score is the mean of its metric columns (all of them, or the task is left
out), and levels come from ``clue.stats.aggregate.level_scores``. That the
published level scores come out again is the check that both sides mean the
same thing by "score" (tests/report/test_published.py).
"""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path
from statistics import fmean
from typing import Any

from clue.core.errors import DataError
from clue.core.results import RunResults, TaskSummary
from clue.report.leaderboard import Entry
from clue.stats.aggregate import level_scores
from clue.tasks.registry import all_tasks
from clue.tasks.suite import CLUE

# Published tables shipped with clue (``data/published/``, with SOURCE.md saying where they come from).
SHIPPED = {"clue-2024-06": "clue-2024-06.csv"}
DEFAULT_PUBLISHED = "clue-2024-06"


def published_path(spec: str | Path | None = None) -> Path:
    """The CSV to read: a shipped table by name (none given: ``clue-2024-06``), else the path as given."""
    name = DEFAULT_PUBLISHED if spec is None or str(spec) == "" else str(spec)
    if name in SHIPPED:
        return Path(str(resources.files("clue.report") / "data" / "published" / SHIPPED[name]))
    return Path(spec)  # type: ignore[arg-type]


def column_map() -> dict[str, tuple[str, str]]:
    """CSV column -> (task, metric) for every metric of every task."""
    return {f"{name}_{metric}": (name, metric) for name, task in all_tasks().items() for metric in task.metrics}


def results_from_metrics(model: str, metrics_by_task: dict[str, dict[str, float]]) -> RunResults:
    """Results from complete per-task metrics (in %), aggregated by the project's own rules."""
    tasks: dict[str, TaskSummary] = {}
    for task, declared in all_tasks().items():
        values = metrics_by_task.get(task, {})
        if not values:
            continue
        tasks[task] = TaskSummary(score=fmean(values[m] for m in declared.metrics), n=None,
                                  metrics={m: values[m] for m in declared.metrics})
    scores, complete = level_scores(tasks, CLUE.level_members())  # the published table is CLUE's
    return RunResults(model=model, backend="published", tasks=tasks, levels=scores, levels_complete=complete)


def load_published(path: str | Path | None = None) -> list[Entry]:
    """Read the published CSV into leaderboard entries (``source = "published"``).

    ``path``: a file, or the name of a shipped table (``clue-2024-06``, also the default).
    """
    path = published_path(path)
    columns = column_map()
    try:
        fh = open(path, encoding="utf-8", newline="")
    except OSError as exc:
        raise DataError(path, f"cannot read the published results ({exc.strerror or exc})") from exc
    entries: list[Entry] = []
    with fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        if "model" not in header:
            raise DataError(path, "no 'model' column; is this the published CLUE results file?")
        unknown = [c for c in header if c != "model" and c not in columns]
        if unknown:
            raise DataError(path, f"unknown column(s) {', '.join(unknown)}; expected <task>_<metric> names")
        for lineno, row in enumerate(reader, start=2):
            model = (row.get("model") or "").strip()
            if not model:
                raise DataError(path, "empty model name", record=f"row {lineno}", field="model")
            by_task: dict[str, dict[str, float]] = {}
            for col, (task, metric) in columns.items():
                cell = (row.get(col) or "").strip()
                if not cell:
                    continue
                try:
                    by_task.setdefault(task, {})[metric] = float(cell)
                except ValueError:
                    raise DataError(path, f"not a number: {cell!r}", record=f"row {lineno} ({model})", field=col) from None
            for task, values in list(by_task.items()):
                expected = all_tasks()[task].metrics
                if len(values) != len(expected):
                    missing = [m for m in expected if m not in values]
                    raise DataError(path, f"{task} has some metrics but not {', '.join(missing)}",
                                    record=f"row {lineno} ({model})")
            entries.append(Entry(name=model, source="published", results=results_from_metrics(model, by_task)))
    return entries


def reproduced_table(entries: list[Entry]) -> list[dict[str, Any]]:
    """(model, level 1, level 2, overall) rounded as published: what the report's note shows."""
    out = []
    for e in entries:
        levels = {lv: e.level(lv) for lv in ("level1", "level2", "overall")}
        out.append({"model": e.name, **{lv: None if v is None else round(v, 2) for lv, v in levels.items()}})
    return out

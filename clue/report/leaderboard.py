"""The leaderboard: one row per model, task scores with their 95% intervals, the levels, written as Markdown,
CSV and JSON (with each run's cost and speed, which ``cost.md`` shows as a table); docs/report.md.

A row is an ``Entry``: a run folder (``source = "run"``) or a published row (``source = "published"``,
``clue.report.published``); both carry a typed ``RunResults``. CSV and JSON keep the unrounded floats;
an incomplete score is marked ``*`` and ``complete = false``, never hidden.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clue.core.access import CREDENTIALED
from clue.core.files import read_json_dict, write_json
from clue.core.results import PREDICTIONS_FOLDER, Manifest, PredictionRow, RunResults, TaskSummary, read_predictions, read_run
from clue.core.seeding import DEFAULT_SEED
from clue.pipeline.lock import LOCK_FILENAME
from clue.pipeline.sweep import MARKER as SWEEP_MARKER
from clue.pipeline.sweep import STATUS as SWEEP_STATUS
from clue.report.tables import csv_text, fmt_score, md_text, write_text
from clue.report.taskinfo import level_order, level_title, task_info, task_order, task_title
from clue.stats.confidence import add_confidence_intervals
from clue.tasks.declaration import DiagnosticColumn
from clue.tasks.registry import all_tasks
from clue.tasks.suite import run_suite, suite_levels


def name_key(name: str) -> str:
    """Names compare case-insensitively and ignoring punctuation: "internistai/base-7b-v0.2"
    matches the run folder "internistai_base-7b-v0.2"."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


@dataclass
class Entry:
    """One leaderboard row: a run, or a published reference row."""

    name: str
    source: str  # "run" | "published"
    results: RunResults
    path: Path | None = None
    manifest: Manifest | None = None
    extra_names: list[str] = field(default_factory=list)
    _rows: dict[str, list[PredictionRow]] = field(default_factory=dict, repr=False)

    @property
    def model(self) -> str:
        return self.results.model or self.name

    @property
    def published(self) -> bool:
        return self.source == "published"

    @property
    def label(self) -> str:
        return f"{self.name} (published)" if self.published else self.name

    def aliases(self) -> set[str]:
        """Every name a pairs file may use for this entry, normalised with ``name_key``."""
        names = [self.name, self.model, self.model.rsplit("/", 1)[-1], *self.extra_names]
        if self.path is not None:
            names.append(self.path.name)
        return {name_key(n) for n in names if n}

    # -- reading scores -------------------------------------------------------------
    def task(self, task: str) -> TaskSummary | None:
        return self.results.tasks.get(task)

    def level(self, level: str) -> float | None:
        return self.results.levels.get(level)

    def score(self, column: str) -> tuple[float | None, list[float] | None, bool]:
        """(score, 95% interval, complete) of a task or a level."""
        if column in self.results.levels:
            return self.level(column), self.results.level_ci(column), self.results.level_complete(column)
        t = self.task(column)
        return (t.score, t.ci, t.complete) if t else (None, None, False)

    @property
    def cost(self) -> dict[str, Any]:
        """The run's cost (``clue.pipeline.cost``): the manifest's measured part over results.json's; {} if none."""
        recorded = self.manifest.cost if self.manifest is not None else None
        return {**(recorded or {}), **(self.results.cost or {})}

    def access(self, task: str) -> str:
        """The task's access class as the run recorded it; unknown counts as credentialed."""
        recorded = self.manifest.tasks.get(task) if self.manifest is not None else None
        if recorded is not None and recorded.access:
            return recorded.access
        return str(task_info(task).get("access") or CREDENTIALED)

    def prediction_rows(self, task: str) -> list[PredictionRow]:
        """The run's prediction rows of a task ([] for published rows and tasks without a file)."""
        if self.path is None:
            return []
        if task not in self._rows:
            file = self.path / PREDICTIONS_FOLDER / f"{task}.jsonl"
            self._rows[task] = read_predictions(file) if file.is_file() else []
        return self._rows[task]


def run_folders(paths: Sequence[str | Path]) -> list[Path]:
    """The run folders among ``paths``: a sweep output folder's own files, which ``clue report sweeps/june/*``
    brings along (``sweep-status.json``, the lock file), are not runs and are left out."""
    return [Path(p) for p in paths if not (Path(p).is_file() and Path(p).name in (SWEEP_STATUS, LOCK_FILENAME))]


def load_run(path: str | Path, *, with_ci: bool = True, n_resamples: int = 1000) -> Entry:
    """Read a run directory. A run whose results carry no intervals gets them here
    (bootstrap over its prediction rows), so older runs show CIs too."""
    run = read_run(Path(path))
    name = run.path.name
    marker = run.path / SWEEP_MARKER
    if marker.is_file():
        name = str(read_json_dict(marker, "the sweep marker").get("name") or name)
    entry = Entry(name=name, source="run", results=run.results, path=run.path, manifest=run.manifest)
    results = run.results
    if with_ci and not results.has_intervals:
        rows = {task: entry.prediction_rows(task) for task in results.tasks}
        units = {task: str(task_info(task, run.manifest).get("resampling_unit") or "item") for task in results.tasks}
        add_confidence_intervals(results, rows, seed=results.seed if results.seed is not None else DEFAULT_SEED,
                                 n_resamples=n_resamples, levels=suite_levels(run_suite(results)), units=units)
    return entry


def unique_names(entries: list[Entry]) -> None:
    """Two runs called alike (two folders named ``baseline``) get their parent folder added."""
    seen: dict[str, int] = {}
    for e in entries:
        seen[e.label] = seen.get(e.label, 0) + 1
    for e in entries:
        if seen[e.label] > 1 and e.path is not None:
            e.name = f"{e.path.parent.name}/{e.name}"


# -- like with like ------------------------------------------------------------------------------
#: the protocol the published table was made with (TIO-IKIM/CLUE at ff75877), on the public releases
PUBLISHED_PROTOCOL = "clue-2024-06"


def scored_on(e: Entry) -> dict[str, Any]:
    """What an entry was scored on: its results' record, or (older runs) what its manifest says."""
    if e.results.scored_on is not None:
        return dict(e.results.scored_on)
    tasks = list(e.results.tasks)
    if e.published:
        return {"protocol": PUBLISHED_PROTOCOL, "protocol_settings": [], "limit": None,
                "data": {t: {"kind": "release", "check": "the published table"} for t in tasks}}
    m = e.manifest if e.manifest is not None else Manifest()
    data: dict[str, Any] = {}
    for t in tasks:
        info = m.tasks.get(t)
        sha = info.sha256 if info else None
        kind = "demo" if info and info.source == "demo" else ("file" if sha else "unrecorded")
        data[t] = {"kind": kind, "sha256": sha}
    return {"protocol": m.protocol, "protocol_settings": list(m.protocol_settings), "limit": m.limit, "data": data}


def data_key(record: Mapping[str, Any]) -> str:
    kind = str(record.get("kind") or "unrecorded")
    return kind if kind in ("release", "unrecorded") else f"{kind}:{record.get('sha256')}"


def differences(a: Entry, b: Entry) -> list[str]:
    """Why ``a``'s numbers cannot be ranked with ``b``'s; empty when they can."""
    sa, sb = scored_on(a), scored_on(b)
    out = []
    suite_a, suite_b = run_suite(a.results), run_suite(b.results)
    if (suite_a.name, suite_a.level_members()) != (suite_b.name, suite_b.level_members()):  # group by suite
        out.append(f"suite {suite_a.name} (not {suite_b.name})")
    if sa.get("protocol") != sb.get("protocol"):
        out.append(f"protocol {sa.get('protocol')} (not {sb.get('protocol')})")
    if list(sa.get("protocol_settings") or []) != list(sb.get("protocol_settings") or []):
        out.append(f"protocol settings changed ({', '.join(sa.get('protocol_settings') or []) or 'none'})")
    if sa.get("limit") != sb.get("limit"):
        out.append(f"--limit {sa.get('limit')}" if sa.get("limit") else "all items (no --limit)")
    da, db = sa.get("data") or {}, sb.get("data") or {}
    by_kind: dict[str, list[str]] = {}
    for task in [t for t in da if t in db]:
        if data_key(da[task]) != data_key(db[task]):
            by_kind.setdefault(str(da[task].get("kind") or "unrecorded"), []).append(task)
    words = {"demo": "demo data", "file": "another data file", "unrecorded": "data not recorded",
             "release": "the release"}
    for kind, tasks in by_kind.items():
        out.append(f"{words.get(kind, kind)} for {', '.join(tasks)}")
    if a.published or b.published:
        out.extend(metric_differences(a, b))
    return out


def metric_differences(a: Entry, b: Entry) -> list[str]:
    """Tasks both score where one lacks a metric the other has: the task score is then another mean.

    Applied against published rows (a MeQSum-only reference run without BERTScore is not ranked with the
    published MeQSum scores); two runs of the user's stay together, the incomplete one marked ``*``.
    """
    out = []
    for task in [t for t in a.results.tasks if t in b.results.tasks]:
        missing_a = set(a.results.tasks[task].missing_metrics)
        missing_b = set(b.results.tasks[task].missing_metrics)
        if missing_a - missing_b:
            out.append(f"{task} scored without {', '.join(sorted(missing_a - missing_b))}")
        elif missing_b - missing_a:
            out.append(f"{task} scored with {', '.join(sorted(missing_b - missing_a))} (which the others lack)")
    return out


def group_entries(entries: Iterable[Entry]) -> list[list[Entry]]:
    """Entries in groups whose members were scored alike (same protocol, limit and data on shared tasks).

    The group holding the published rows comes first (else the largest); the rest follow by size.
    """
    groups: list[list[Entry]] = []
    for e in entries:
        for group in groups:
            if all(not differences(e, other) for other in group):
                group.append(e)
                break
        else:
            groups.append([e])
    return sorted(groups, key=lambda g: (not any(e.published for e in g), -len(g)))


def describe_scored_on(e: Entry) -> str:
    s = scored_on(e)
    kinds: dict[str, list[str]] = {}
    for task, record in (s.get("data") or {}).items():
        kinds.setdefault(str(record.get("kind") or "unrecorded"), []).append(task)
    data = "; ".join(f"{kind}: {', '.join(tasks)}" if len(kinds) > 1 else kind for kind, tasks in kinds.items())
    text = f"protocol {s.get('protocol')}, data {data or '-'}"
    if s.get("protocol_settings"):
        text += f", settings {', '.join(s['protocol_settings'])}"
    if s.get("limit"):
        text += f", --limit {s['limit']}"
    return text


def sort_entries(entries: Iterable[Entry]) -> list[Entry]:
    """Best overall first; rows without an overall score after, by level 1, then by name."""

    def key(e: Entry) -> tuple:
        overall, l1 = e.level("overall"), e.level("level1")
        return (overall is None, -(overall or 0.0), l1 is None, -(l1 or 0.0), e.name.lower())

    return sorted(entries, key=key)


def entry_levels(entries: Sequence[Entry]) -> tuple[str, ...]:
    """The level columns: those of the entries' suites (clue.tasks.suite; CLUE's unless a run records another)."""
    return level_order(*(e.results for e in entries))


def tasks_present(entries: Sequence[Entry]) -> list[str]:
    present = {t for e in entries for t in e.results.tasks}
    order = task_order()
    return [t for t in order if t in present] + sorted(present - set(order))


# -- rows -------------------------------------------------------------------------------
def ranked(entries: Sequence[Entry]) -> list[tuple[int, int, Entry, str]]:
    """(group, rank in the group, entry, why the group is apart from the first) in table order.

    Only entries scored alike are ranked together: group 1 holds the published
    rows (or the largest group); every other group is ranked on its own, with
    the reason it is not ranked with group 1.
    """
    groups = group_entries(entries)
    # the first group's entry with the most tasks: the reasons name every task whose data differs
    first = max(groups[0], key=lambda e: len(e.results.tasks)) if groups else None
    out = []
    for g, group in enumerate(groups, start=1):
        apart = "" if g == 1 or first is None else "; ".join(differences(group[0], first))
        out += [(g, rank, e, apart) for rank, e in enumerate(sort_entries(group), start=1)]
    return out


def leaderboard_rows(entries: Sequence[Entry]) -> list[dict[str, Any]]:
    """One flat dict per entry (the CSV's rows; the JSON nests the same numbers)."""
    tasks = tasks_present(entries)
    rows = []
    for group, rank, e, apart in ranked(entries):
        row: dict[str, Any] = {"rank": rank, "group": group, "name": e.name, "source": e.source, "model": e.model,
                               "backend": e.results.backend, "scored_on": describe_scored_on(e),
                               "apart": apart}
        for col in [*tasks, *entry_levels(entries)]:
            put_score(row, col, *e.score(col))
        row["n"] = {t: s.n if (s := e.task(t)) else None for t in tasks}
        row.update(cost_columns(e))
        rows.append(row)
    return rows


def put_score(row: dict[str, Any], col: str, score: float | None, ci: Sequence[float] | None, complete: bool) -> None:
    row[col] = score
    row[f"{col}_ci_low"] = ci[0] if ci else None
    row[f"{col}_ci_high"] = ci[1] if ci else None
    row[f"{col}_complete"] = complete if score is not None else None


# Cost and speed of each run (clue.pipeline.cost); empty for published rows and runs made before clue recorded it.
COST_COLUMNS = ("prompt_tokens", "completion_tokens", "generation_s", "tokens_per_s", "gpus", "gpu_hours", "cost", "currency")


def cost_columns(e: Entry) -> dict[str, Any]:
    cost = e.cost
    price = cost.get("price") or {}
    return {
        "prompt_tokens": cost.get("prompt_tokens"), "completion_tokens": cost.get("completion_tokens"),
        "generation_s": cost.get("generation_s"), "tokens_per_s": cost.get("tokens_per_s"), "gpus": cost.get("gpus"),
        "gpu_hours": cost.get("gpu_hours"), "cost": cost.get("total_cost", cost.get("token_cost")),
        "currency": price.get("currency") if price else None,
    }


# The cost table's columns (cost.md, the HTML page): key -> title.
COST_TITLES = {"prompt_tokens": "prompt tokens", "completion_tokens": "completion tokens", "generation_s": "generation (s)",
               "tokens_per_s": "tokens/s", "gpus": "GPUs", "gpu_hours": "GPU-hours", "cost": "cost"}


def fmt_cost(value: Any, column: str, currency: str | None = None) -> str:
    """One cost-table cell: counts with thousands separators, times and rates to one decimal."""
    if value is None:
        return "–"
    if column in ("prompt_tokens", "completion_tokens", "gpus"):
        return f"{int(value):,}"
    if column == "gpu_hours":
        return f"{float(value):.3f}"
    if column == "cost":
        return f"{float(value):.4f} {currency or ''}".strip()
    return f"{float(value):.1f}"


def cost_markdown(entries: Sequence[Entry]) -> str:
    """Tokens, speed, GPU time and cost of each run, in leaderboard order."""
    lines = ["| model | " + " | ".join(COST_TITLES.values()) + " |", "|---|" + "---:|" * len(COST_TITLES)]
    for row in leaderboard_rows(entries):
        if row["source"] == "published":
            continue
        cells = [fmt_cost(row[col], col, row["currency"]) for col in COST_TITLES]
        lines.append("| " + " | ".join([md_text(row["name"]), *cells]) + " |")
    lines += [
        "",
        "Tokens: the engine's counts where the backend reports them, else the backend's tokenizer (see results.json `cost`).",
        "Generation time, tokens/s and GPU-hours are measured (manifest.json `cost`); a resumed run's time is",
        "extrapolated from the part it generated. GPU-hours: GPUs held x generation time. Cost: from the run's --price.",
    ]
    return "\n".join(lines) + "\n"


def leaderboard_json(entries: Sequence[Entry]) -> dict[str, Any]:
    out = []
    for row in leaderboard_rows(entries):
        item = {k: row[k] for k in ("rank", "group", "name", "source", "model", "backend", "scored_on", "apart")}
        item["tasks"] = {}
        for t in tasks_present(entries):
            if row[t] is None:
                continue
            item["tasks"][t] = {"score": row[t], "ci": _ci_pair(row, t), "complete": row[f"{t}_complete"],
                                "n": row["n"].get(t)}
        item["levels"] = {lv: {"score": row[lv], "ci": _ci_pair(row, lv), "complete": row[f"{lv}_complete"]}
                          for lv in entry_levels(entries)}
        item["cost"] = {k: row[k] for k in COST_COLUMNS}
        out.append(item)
    return {"schema": "clue.leaderboard/1", "tasks": tasks_present(entries), "levels": list(entry_levels(entries)), "rows": out}


def _ci_pair(row: Mapping[str, Any], col: str) -> list[float] | None:
    lo, hi = row.get(f"{col}_ci_low"), row.get(f"{col}_ci_high")
    return None if lo is None or hi is None else [lo, hi]


def leaderboard_csv(entries: Sequence[Entry]) -> str:
    tasks = tasks_present(entries)
    header = ["rank", "group", "name", "source", "model", "backend", "scored_on", "apart"]
    for col in [*tasks, *entry_levels(entries)]:
        header += [col, f"{col}_ci_low", f"{col}_ci_high", f"{col}_complete"]
    return csv_text([*header, *COST_COLUMNS], leaderboard_rows(entries))


def leaderboard_markdown(entries: Sequence[Entry]) -> str:
    tasks = tasks_present(entries)
    cols = [*tasks, *entry_levels(entries)]
    manifests = [e.manifest for e in entries]
    runs = [e.results for e in entries]
    # Titles come from task files and suites, so they are data: shown literally, never markup or a column break.
    head = ["#", "model", *(md_text(task_title(t, *manifests)) for t in tasks),
            *(md_text(level_title(lv, *runs)) for lv in entry_levels(entries))]
    lines: list[str] = []
    group = 0
    for row in leaderboard_rows(entries):
        if row["group"] != group:
            group = row["group"]
            if lines:
                lines.append("")
            lines.append(f"Scored on: {md_text(row['scored_on'])}" + ("" if group == 1 else
                         f". Not ranked with the first table: {md_text(row['apart'])}."))
            lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * len(cols)]
        name = md_text(row["name"]) + (" *(published)*" if row["source"] == "published" else "")
        cells = [fmt_score(row[c], row[f"{c}_complete"], _ci_pair(row, c)) for c in cols]
        lines.append("| " + " | ".join([str(row["rank"]), name, *cells]) + " |")
    lines += [
        "",
        "Scores in %, [95% bootstrap interval] where the run has one. `*` incomplete: a metric could not be",
        "computed or requests failed (see the run's results.json). Published rows: as published in June 2024,",
        "aggregated by this project's code; they have no intervals; they were scored under the protocol",
        f"{PUBLISHED_PROTOCOL} on the public releases. Rows are ranked only with rows scored on the same data,",
        "under the same protocol and --limit; each other group has its own table and the reason it is apart.",
    ]
    return "\n".join(lines) + "\n"


# -- diagnostics side by side ---------------------------------------------------------------
# Format failures are separated from wrong answers here: a model can know the answer and still
# lose it to the format. Each task declares its own columns; two totals close the table.
TOTALS = (
    DiagnosticColumn("truncated_prompts", "truncated prompts", "diagnostics.truncated_prompts"),
    DiagnosticColumn("failed_requests", "failed requests", "diagnostics.failed_requests"),
)


def diagnostic_columns() -> list[tuple[str, DiagnosticColumn]]:
    """(task, column) for every registered task's declared diagnostics, then the totals (task "")."""
    columns = [(name, col) for name, task in all_tasks().items() for col in task.declaration.diagnostics]
    return columns + [("", col) for col in TOTALS]


def diagnostic_value(summary: TaskSummary | None, source: str) -> Any:
    invert = source.startswith("invert:")
    part, _, name = source.removeprefix("invert:").partition(".")
    values = {"diagnostics": summary.diagnostics, "metrics": summary.metrics}.get(part, {}) if summary else {}
    value = values.get(name)
    if invert and value is not None:
        return 100.0 - value
    return value


def diagnostics_row(e: Entry) -> dict[str, Any]:
    row: dict[str, Any] = {"name": e.name, "source": e.source}
    tasks = e.results.tasks
    for task, col in diagnostic_columns():
        if task:
            value = diagnostic_value(tasks.get(task), col.source)
        else:  # a total over the run's tasks
            values = [diagnostic_value(t, col.source) for t in tasks.values()]
            value = sum(v for v in values if v is not None) if any(v is not None for v in values) else None
        row[col.key] = value
    return row


def diagnostics_rows(entries: Sequence[Entry]) -> list[dict[str, Any]]:
    """Runs first (they have every diagnostic), then published rows (task 3 and valid codes only)."""
    ordered = sort_entries(entries)
    return [diagnostics_row(e) for e in [*(e for e in ordered if not e.published), *(e for e in ordered if e.published)]]


def diagnostics_markdown(entries: Sequence[Entry]) -> str:
    columns = [col for _, col in diagnostic_columns()]
    head = ["model", *(col.title for col in columns)]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * len(columns)]
    for row in diagnostics_rows(entries):
        name = md_text(row["name"]) + (" *(published)*" if row["source"] == "published" else "")
        cells = [fmt_diag(row[col.key]) for col in columns]
        lines.append("| " + " | ".join([name, *cells]) + " |")
    lines += ["", "Rates in % of scored prompts; counts are prompts. `–`: not run (or not published)."]
    return "\n".join(lines) + "\n"


def fmt_diag(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return str(value)
    return f"{value:.1f}"


def diagnostics_csv(entries: Sequence[Entry]) -> str:
    return csv_text(["name", "source", *(col.key for _, col in diagnostic_columns())], diagnostics_rows(entries))


def write_leaderboard(entries: Sequence[Entry], out: Path) -> dict[str, Path]:
    """leaderboard.{md,csv,json} and diagnostics.{md,csv} under ``out``."""
    out = Path(out)
    files = {
        "leaderboard.md": write_text(out / "leaderboard.md", leaderboard_markdown(entries)),
        "leaderboard.csv": write_text(out / "leaderboard.csv", leaderboard_csv(entries)),
        "diagnostics.md": write_text(out / "diagnostics.md", diagnostics_markdown(entries)),
        "diagnostics.csv": write_text(out / "diagnostics.csv", diagnostics_csv(entries)),
        "cost.md": write_text(out / "cost.md", cost_markdown(entries)),
    }
    write_json(out / "leaderboard.json", {**leaderboard_json(entries), "diagnostics": diagnostics_rows(entries)})
    files["leaderboard.json"] = out / "leaderboard.json"
    return files

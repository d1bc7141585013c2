"""The typed record of a run: what results.json, manifest.json and predictions/<task>.jsonl hold.

Each file has one writer (``to_json``) and one reader (``from_json``, which
checks every field it knows and names the file, record and field when one is
not what it should be); ``read_run`` reads a whole run folder. Keys a record
does not know are kept and written back as they were, so a newer clue's files
survive an older one. The schema is versioned and documented in docs/results.md.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from clue.core.errors import DataError
from clue.core.files import read_json_dict, read_jsonl, write_json, write_jsonl

RESULTS_SCHEMA = "clue.results/1"
MANIFEST_SCHEMA = "clue.manifest/1"
RESULTS_FILE = "results.json"
MANIFEST_FILE = "manifest.json"
PREDICTIONS_FOLDER = "predictions"

Json = Any  # a value as json.load gives it
Interval = list[float]  # [low, high], in points (%)


class Problem(ValueError):
    """A field that is not what it should be; ``where`` is the field's path inside the record."""

    def __init__(self, where: str, message: str):
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


# -- field checks: each returns the value or raises Problem ---------------------------------------
def _number(value: Json, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Problem(where, f"expected a number, found {type(value).__name__}")
    return value  # kept as int or float: written back exactly as read


def _opt_number(value: Json, where: str) -> float | None:
    return None if value is None else _number(value, where)


def _int(value: Json, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Problem(where, f"expected a whole number, found {type(value).__name__}")
    return value


def _opt_int(value: Json, where: str) -> int | None:
    return None if value is None else _int(value, where)


def _bool(value: Json, where: str) -> bool:
    if not isinstance(value, bool):
        raise Problem(where, f"expected true or false, found {type(value).__name__}")
    return value


def _str(value: Json, where: str) -> str:
    if not isinstance(value, str):
        raise Problem(where, f"expected text, found {type(value).__name__}")
    return value


def _opt_str(value: Json, where: str) -> str | None:
    return None if value is None else _str(value, where)


def _object(value: Json, where: str) -> dict[str, Json]:
    if not isinstance(value, dict):
        raise Problem(where, f"expected an object, found {type(value).__name__}")
    return value


def _opt_object(value: Json, where: str) -> dict[str, Json] | None:
    return None if value is None else _object(value, where)


def _list(value: Json, where: str) -> list[Json]:
    if not isinstance(value, list):
        raise Problem(where, f"expected a list, found {type(value).__name__}")
    return value


def _str_list(value: Json, where: str) -> list[str]:
    return [_str(v, f"{where}[{i}]") for i, v in enumerate(_list(value, where))]


def _interval(value: Json, where: str) -> Interval | None:
    if value is None:
        return None
    items = _list(value, where)
    if len(items) != 2:
        raise Problem(where, f"expected [low, high], found {len(items)} values")
    return [_number(v, f"{where}[{i}]") for i, v in enumerate(items)]


def _numbers(value: Json, where: str) -> dict[str, float]:
    return {k: _number(v, f"{where}.{k}") for k, v in _object(value, where).items()}


def _opt_numbers(value: Json, where: str) -> dict[str, float | None]:
    return {k: _opt_number(v, f"{where}.{k}") for k, v in _object(value, where).items()}


def _bools(value: Json, where: str) -> dict[str, bool]:
    return {k: _bool(v, f"{where}.{k}") for k, v in _object(value, where).items()}


def _intervals(value: Json, where: str) -> dict[str, Interval | None]:
    return {k: _interval(v, f"{where}.{k}") for k, v in _object(value, where).items()}


def _any(value: Json, where: str) -> Json:
    return value


# -- the records ------------------------------------------------------------------------------------
R = TypeVar("R", bound="Record")


def spec(key: str | None = None, check: Callable[[Json, str], Any] = _any, *, omit: str = "never",
         default: Any = MISSING, factory: Callable[[], Any] | None = None, required: bool = False) -> Any:
    """A record field: its JSON key (default: the field's name), its check, whether a file must have it,
    and when the key is left out on writing (``omit``: "never", "none" when the value is None)."""
    meta = {"key": key, "check": check, "omit": omit, "required": required}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class Record:
    """A JSON object with typed fields in a fixed key order; unknown keys kept in ``extra``.

    Subclasses declare their fields with ``spec``.
    """

    KIND: ClassVar[str] = "record"
    extra: dict[str, Json] = field(default_factory=dict, kw_only=True)  # keys this record does not know, kept as read

    @classmethod
    @functools.cache  # per record class: read for every row written and read (1,000 prediction rows a run)
    def _fields(cls) -> tuple[tuple[str, str, Callable[[Json, str], Any], str, bool], ...]:
        out = []
        for f in fields(cls):
            if f.name == "extra":
                continue
            required = f.metadata.get("required", False) or (f.default is MISSING and f.default_factory is MISSING)
            out.append((f.name, f.metadata.get("key") or f.name, f.metadata.get("check", _any),
                        f.metadata.get("omit", "never"), required))
        return tuple(out)

    @classmethod
    def from_json(cls: type[R], data: Json, where: str = "") -> R:
        obj = _object(data, where or cls.KIND)
        values: dict[str, Any] = {}
        known = set()
        for name, key, check, _omit, required in cls._fields():
            known.add(key)
            path = f"{where}.{key}" if where else key
            if key not in obj:
                if required:
                    raise Problem(path, "missing")
                continue
            values[name] = check(obj[key], path)
        record = cls(**values)
        record.extra = {k: v for k, v in obj.items() if k not in known}
        return record

    def to_json(self) -> dict[str, Json]:
        out: dict[str, Json] = {}
        for name, key, _check, omit, _required in self._fields():
            value = getattr(self, name)
            if omit == "none" and value is None:
                continue
            out[key] = value.to_json() if isinstance(value, Record) else _plain(value)
        out.update(self.extra)
        return out


def _plain(value: Any) -> Json:
    """Nested records inside dicts and lists as JSON."""
    if isinstance(value, Record):
        return value.to_json()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _records(kind: type[R]) -> Callable[[Json, str], dict[str, R]]:
    def check(value: Json, where: str) -> dict[str, R]:
        return {k: kind.from_json(v, f"{where}.{k}") for k, v in _object(value, where).items()}

    return check


@dataclass
class TaskSummary(Record):
    """One task's numbers in results.json: score, metrics, diagnostics and intervals (all in %)."""

    KIND: ClassVar[str] = "task summary"
    score: float | None = spec(check=_opt_number)
    n: int | None = spec(check=_opt_int)
    metrics: dict[str, float] = spec(check=_numbers, factory=dict)
    diagnostics: dict[str, float] = spec(check=_numbers, factory=dict)
    complete: bool = spec(check=_bool, default=True)
    missing_metrics: list[str] = spec(check=_str_list, factory=list)
    missing_reasons: dict[str, Json] | None = spec(check=_opt_object, omit="none", default=None)
    # intervals: absent (None) until computed; once computed ``metric_ci`` is a dict, ``ci`` may still be None
    ci: Interval | None = spec(check=_interval, default=None)
    metric_ci: dict[str, Interval | None] | None = spec(check=_intervals, omit="none", default=None)
    variants: dict[str, Json] | None = spec(check=_opt_object, omit="none", default=None)

    @property
    def has_intervals(self) -> bool:
        return self.metric_ci is not None

    @property
    def failed_requests(self) -> int:
        """Requests that got no answer (never scored as zero)."""
        return int(self.diagnostics.get("failed_requests", 0))

    def to_json(self) -> dict[str, Json]:
        out = super().to_json()
        if self.metric_ci is None:
            out.pop("ci", None)
        return out


@dataclass
class RunResults(Record):
    """results.json: every task's summary, the suite's levels, their intervals, what it was scored on, its cost."""

    KIND: ClassVar[str] = "results"
    schema: str = spec(check=_str, default=RESULTS_SCHEMA)
    model: str = spec(check=_str, default="")
    backend: str | None = spec(check=_opt_str, default=None)
    seed: int | None = spec(check=_opt_int, omit="none", default=None)
    suite: dict[str, Json] | None = spec(check=_opt_object, omit="none", default=None)  # absent: the CLUE suite
    tasks: dict[str, TaskSummary] = spec(check=_records(TaskSummary), factory=dict, required=True)
    levels: dict[str, float | None] = spec(check=_opt_numbers, factory=dict)
    levels_complete: dict[str, bool] = spec(check=_bools, factory=dict)
    metric_settings: dict[str, Json] | None = spec(check=_opt_object, omit="none", default=None)
    scored_on: dict[str, Json] | None = spec(check=_opt_object, omit="none", default=None)
    levels_ci: dict[str, Interval | None] | None = spec(check=_intervals, omit="none", default=None)
    bootstrap: dict[str, Json] | None = spec(check=_opt_object, omit="none", default=None)
    cost: dict[str, Json] | None = spec(check=_opt_object, omit="none", default=None)
    variants: dict[str, Json] | None = spec(check=_opt_object, omit="none", default=None)

    def __post_init__(self) -> None:
        if not self.schema.startswith("clue.results/"):
            raise Problem("schema", f"{self.schema!r} is not a clue results schema")

    @property
    def failed_requests(self) -> int:
        """Requests of the protocol's prompt that got no answer, over every task."""
        return sum(t.failed_requests for t in self.tasks.values())

    @property
    def has_intervals(self) -> bool:
        return all(t.has_intervals for t in self.tasks.values())

    def level_ci(self, level: str) -> Interval | None:
        return (self.levels_ci or {}).get(level)

    def level_complete(self, level: str) -> bool:
        return bool(self.levels_complete.get(level))


@dataclass
class ManifestTask(Record):
    """One task's entry in manifest.json: its file, how many items and requests, its declaration and settings."""

    KIND: ClassVar[str] = "manifest task"
    file: str = spec(check=_str, default="")
    source: str | None = spec(check=_opt_str, default=None)
    sha256: str | None = spec(check=_opt_str, default=None)
    access: str | None = spec(check=_opt_str, default=None)
    items: int | None = spec(check=_opt_int, default=None)
    requests: int | None = spec(check=_opt_int, default=None)
    truncated: int | None = spec(check=_opt_int, default=None)
    declaration: dict[str, Json] = spec(check=_object, factory=dict)
    settings: dict[str, Json] | None = spec(check=_opt_object, omit="none", default=None)


@dataclass
class Manifest(Record):
    """manifest.json: what a run was (command, versions, seed, data and template hashes, backend, timing, cost)."""

    KIND: ClassVar[str] = "manifest"
    schema: str = spec(check=_str, default=MANIFEST_SCHEMA)
    clue_version: str | None = spec(check=_opt_str, default=None)
    command: list[str] = spec(check=_str_list, factory=list)
    started: str | None = spec(check=_opt_str, omit="none", default=None)
    finished: str | None = spec(check=_opt_str, omit="none", default=None)
    duration_s: float | None = spec(check=_opt_number, omit="none", default=None)
    generation_s: float | None = spec(check=_opt_number, omit="none", default=None)
    python: str | None = spec(check=_opt_str, default=None)
    platform: str | None = spec(check=_opt_str, default=None)
    packages: dict[str, Json] = spec(check=_object, factory=dict)
    seed: int | None = spec(check=_opt_int, default=None)
    limit: int | None = spec(check=_opt_int, default=None)
    protocol: str = spec(check=_str, default="clue")
    protocol_settings: list[str] = spec(check=_str_list, factory=list)
    suite: dict[str, Json] | None = spec(check=_opt_object, omit="none", default=None)  # absent: the CLUE suite
    templates_dir: str | None = spec(check=_opt_str, default=None)
    decoding: dict[str, Json] = spec(check=_object, factory=dict)
    bootstrap_resamples: int | None = spec(check=_opt_int, default=None)
    reused_from_store: int | None = spec(check=_opt_int, omit="none", default=None)
    task_options: dict[str, Json] = spec(check=_object, factory=dict)
    backend: dict[str, Json] = spec(check=_object, factory=dict)
    tasks: dict[str, ManifestTask] = spec(check=_records(ManifestTask), factory=dict)
    templates: dict[str, Json] = spec(check=_object, factory=dict)
    metric_settings: dict[str, Json] = spec(check=_object, factory=dict)
    cost: dict[str, Json] | None = spec(check=_opt_object, omit="none", default=None)
    variants: dict[str, Json] | None = spec(check=_opt_object, omit="none", default=None)  # a variant run's design
    variant: dict[str, Json] | None = spec(check=_opt_object, omit="none", default=None)  # which variant this folder is
    # which approval let credentialed data go to each endpoint that needed one; absent when none did
    egress: dict[str, Json] | None = spec(check=_opt_object, omit="none", default=None)

    def __post_init__(self) -> None:
        if not self.schema.startswith("clue.manifest/"):
            raise Problem("schema", f"{self.schema!r} is not a clue manifest schema")

    def declaration(self, task: str) -> dict[str, Json]:
        """The task's declaration as the run recorded it ({} if not recorded)."""
        recorded = self.tasks.get(task)
        return dict(recorded.declaration) if recorded else {}


@dataclass
class PredictionRow(Record):
    """One line of predictions/<task>.jsonl: a request, its output, what was parsed and scored."""

    KIND: ClassVar[str] = "prediction row"
    id: str = spec(check=_str, required=True, default="")
    item_id: str | None = spec(check=_opt_str, default=None)
    subtask: str | None = spec(check=_opt_str, default=None)
    group: str | None = spec(check=_opt_str, default=None)
    prompt_hash: str | None = spec(check=_opt_str, default=None)
    truncated: bool = spec(check=_bool, default=False)
    output: str | None = spec(check=_opt_str, default=None)
    error: str | None = spec(check=_opt_str, default=None)
    parsed: Json = spec(default=None)
    gold: Json = spec(default=None)
    metrics: dict[str, float | None] | None = spec(check=lambda v, w: None if v is None else _opt_numbers(v, w), default=None)
    diagnostics: dict[str, Json] | None = spec(check=_opt_object, default=None)

    @property
    def scored(self) -> bool:
        """Scored rows have metrics; a failed request's row has none (and is never a zero)."""
        return self.metrics is not None

    @property
    def unit(self) -> str:
        """What the bootstrap resamples this row with: its group (a cluster, e.g. a patient), else its item."""
        if self.group is not None:
            return self.group
        return self.item_id if self.item_id is not None else self.id


# -- files ------------------------------------------------------------------------------------------
def _read(kind: type[R], path: Path, what: str) -> R:
    data = read_json_dict(path, what)
    try:
        return kind.from_json(data)
    except Problem as exc:
        raise DataError(path, exc.message, field=exc.where) from None


def read_results(path: str | Path) -> RunResults:
    """A results.json, checked field by field."""
    return _read(RunResults, Path(path), "the run's results")


def read_manifest(path: str | Path) -> Manifest:
    return _read(Manifest, Path(path), "the run's manifest")


def read_predictions(path: str | Path) -> list[PredictionRow]:
    """A predictions/<task>.jsonl, checked row by row (the line is named on error)."""
    rows = []
    for lineno, raw in read_jsonl(path):
        try:
            rows.append(PredictionRow.from_json(raw))
        except Problem as exc:
            raise DataError(path, exc.message, record=f"line {lineno}", field=exc.where) from None
    return rows


def write_results(out: str | Path, results: RunResults, manifest: Manifest) -> None:
    write_json(Path(out) / RESULTS_FILE, results.to_json())
    write_json(Path(out) / MANIFEST_FILE, manifest.to_json())


def write_predictions(out: str | Path, task: str, rows: Sequence[PredictionRow]) -> None:
    write_jsonl(Path(out) / PREDICTIONS_FOLDER / f"{task}.jsonl", (row.to_json() for row in rows))


@dataclass
class Run:
    """A run folder as read: its results, its manifest (None for a folder without one), its predictions on demand."""

    path: Path
    results: RunResults
    manifest: Manifest | None = None
    _rows: dict[str, list[PredictionRow]] = field(default_factory=dict, repr=False)

    @property
    def model(self) -> str:
        return self.results.model

    @property
    def tasks(self) -> dict[str, TaskSummary]:
        return self.results.tasks

    def predictions_path(self, task: str) -> Path:
        return self.path / PREDICTIONS_FOLDER / f"{task}.jsonl"

    def predictions(self, task: str) -> list[PredictionRow]:
        """The task's prediction rows ([] when the run has no file for it)."""
        if task not in self._rows:
            path = self.predictions_path(task)
            self._rows[task] = read_predictions(path) if path.is_file() else []
        return self._rows[task]

    def rows_by_id(self, task: str) -> dict[str, PredictionRow]:
        return {row.id: row for row in self.predictions(task)}


def read_run(path: str | Path) -> Run:
    """A run folder: results.json (required), manifest.json (if there), predictions read when asked for."""
    run = Path(path)
    results_path = run / RESULTS_FILE
    if not results_path.is_file():
        raise DataError(results_path, "not found; is this a clue run folder?")
    results = read_results(results_path)
    manifest_path = run / MANIFEST_FILE
    manifest = read_manifest(manifest_path) if manifest_path.is_file() else None
    return Run(path=run, results=results, manifest=manifest)

"""The declaration model: what clue knows about a task (its files, release, metrics, settings per protocol)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from clue.core.errors import UsageError
from clue.metrics.metric import BatchMetric, Metric
from clue.metrics.registry import get_metric
from clue.tasks.settings import DEFAULT_PROTOCOL, Settings


@dataclass(frozen=True)
class Release:
    """Where a task's real data file comes from, and what is known about it.

    ``kind`` is "public" (a plain download), "physionet" (a credentialed
    download) or "build" (made locally from MIMIC-IV). A sha256 is given only
    where it was verified against the real file; otherwise fetched files are
    checked by the task's loader and the hash seen is reported, never invented.
    """

    kind: str
    source: str  # human-readable origin
    url_path: str | None = None  # below the host base (GitHub raw or PhysioNet files)
    sha256: str | None = None
    records: int | None = None  # expected record count, where known
    license: str = ""
    page: str = ""  # where a person reads about and signs for the data
    physionet_project: str | None = None  # slug/version, for PhysioNet downloads


@dataclass(frozen=True)
class DataFiles:
    """The file a task reads: its expected name, format, other accepted names, the bundled demo."""

    expected: str
    format: str
    alternatives: tuple[str, ...] = ()  # other names a data folder may hold it under
    demo: str | None = None  # a file in the task's demo/ folder


@dataclass(frozen=True)
class DiagnosticColumn:
    """A diagnostic the leaderboard shows beside the scores: ``source`` is
    ``diagnostics.<key>``, ``metrics.<key>`` or ``invert:metrics.<key>`` (100 minus it)."""

    key: str
    title: str
    source: str


# The kinds of task the report splits the pooled verdict by (docs/report.md, "by task kind").
TASK_KINDS = ("classification", "multiple choice", "free text", "coding")


@dataclass(frozen=True)
class Declaration:
    """Everything clue knows about a task, in one place."""

    name: str
    title: str
    level: int | None  # CLUE level (1 or 2); None: outside the level scores
    access: str  # clue.core.access: public or credentialed
    metrics: tuple[str, ...]  # registered metric names (clue.metrics.registry), averaged into the task score
    files: DataFiles
    protocols: Mapping[str, Settings]
    resampling_unit: str = "item"  # what the bootstrap resamples; not "item": rows' ``group``
    release: Release | None = None
    diagnostics: tuple[DiagnosticColumn, ...] = ()
    description: str = ""
    # what sort of task it is, for the report's split by task kind (TASK_KINDS); "" when undeclared.
    # Not in describe(): the manifest's bytes stay as they were (the report reads it through taskinfo).
    kind: str = ""
    # the metrics as objects, resolved from the registry when the declaration is made
    metric_objects: tuple[Metric, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind and self.kind not in TASK_KINDS:
            raise ValueError(f"{self.name}: kind {self.kind!r} is none of {', '.join(TASK_KINDS)}")
        object.__setattr__(self, "metric_objects", tuple(get_metric(name) for name in self.metrics))

    @property
    def metric_names(self) -> tuple[str, ...]:
        """The metrics averaged into the task score, in declared order (the same as ``metrics``)."""
        return self.metrics

    @property
    def model_metrics(self) -> tuple[str, ...]:
        """Of the metrics, those that need model weights (computed in batches after generation)."""
        return tuple(m.name for m in self.metric_objects if m.needs_model)

    @property
    def paired_binary(self) -> tuple[str, ...]:
        """Of the metrics, the per-request right/wrong ones: McNemar's test in comparisons."""
        return tuple(m.name for m in self.metric_objects if m.binary)

    @property
    def item_metrics(self) -> tuple[Metric, ...]:
        """The metrics scored per item, from its parsed answer."""
        return tuple(m for m in self.metric_objects if not m.batch)

    @property
    def batch_metrics(self) -> tuple[BatchMetric, ...]:
        """The metrics scored over all of the task's outputs at once."""
        return tuple(m for m in self.metric_objects if isinstance(m, BatchMetric))

    def settings(self, protocol: str = DEFAULT_PROTOCOL) -> Settings:
        try:
            return self.protocols[protocol]
        except KeyError:
            known = ", ".join(self.protocols)
            raise UsageError(f"{self.name}: no settings for protocol {protocol!r}; known: {known}") from None

    def describe(self, protocol: str = DEFAULT_PROTOCOL) -> dict[str, Any]:
        settings = self.settings(protocol)
        return {
            "task": self.name,
            "title": self.title,
            "level": self.level,
            "access": self.access,
            "expected_file": self.files.expected,
            "format": self.files.format,
            "metrics": list(self.metrics),
            "model_metrics": list(self.model_metrics),
            "paired_binary": list(self.paired_binary),
            "resampling_unit": self.resampling_unit,
            "shots": settings.shots,
            "max_new_tokens": settings.max_new_tokens,
        }

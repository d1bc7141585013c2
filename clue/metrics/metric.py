"""The Metric type: what a metric scores, how it aggregates, and the rules it follows under a protocol.

docs/metrics.md describes each attribute and how to add a metric.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from clue.store.metric_cache import MetricCache

# The answer kinds an item metric scores (``Metric.answer``); "" : a task's own scoring only.
LABELS, CHOICE, TEXT, CODES = "label", "choice", "text", "icd10"
ANSWER_KINDS = (LABELS, CHOICE, TEXT, CODES)


class Metric:
    """One metric. A subclass sets the class attributes and implements ``score`` (per item) or ``load`` (batch).

    ``score`` gets an item's parsed answer (as its answer kind parses it), the
    gold answer and the output text it was parsed from, and returns a value in
    [0, 1]. Model-based metrics (``batch``) score all of a task's outputs at
    once instead: ``load`` returns the scorer the pipeline runs over them.
    """

    name: str = ""
    title: str = ""
    answer: str = ""  # the answer kind it scores (ANSWER_KINDS); "" for a metric only its task computes
    aggregation: str = "mean"  # how the per-item values make the task's value
    higher_is_better: bool = True
    binary: bool = False  # 0 or 1 per request: McNemar's test in comparisons
    batch: bool = False  # scored over all of a task's outputs at once, after generation
    needs_model: bool = False  # needs model weights or a model (the task is incomplete without them)

    def score(self, parsed: Any, gold: Any, output: str) -> float:
        raise NotImplementedError(f"metric {self.name!r} is scored in batches (load), not per item")

    def __repr__(self) -> str:
        return f"<metric {self.name}>"


class BatchScorer(Protocol):
    """A batch metric loaded with the run's settings (BERTScore, UMLS-F1)."""

    def settings(self) -> dict[str, Any]:
        """Everything recorded in results.json (paths, versions, hashes)."""

    def value_settings(self, references: Sequence[str]) -> dict[str, Any]:
        """The subset that decides the values: the metric cache's key."""

    def score(self, predictions: list[str], references: list[str]) -> list[float]:
        """One value per pair, in [0, 1] for the default settings."""


class BatchMetric(Metric):
    """A metric scored over all of a task's outputs at once (usually with model weights)."""

    batch = True
    needs_model = True
    option_keys: Mapping[str, str] = {}  # ``--metric KEY=VALUE`` keys it reads -> one-line description
    option_prefix: str = ""  # a misspelt key with this prefix is an error, not a default

    def load(self, config: Mapping[str, Any], cache: MetricCache) -> BatchScorer:
        """The scorer for these settings; raises MetricUnavailable saying what to install or configure."""
        raise NotImplementedError

    def status(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``{"metric", "ready", "detail"}``: whether it can run here, loading and hashing nothing."""
        return {"metric": self.name, "ready": True, "detail": ""}

    # -- per-protocol rules (``settings``: the task's clue.tasks.settings.Settings) --------------
    def protocol_config(self, settings: Any, config: Mapping[str, Any]) -> dict[str, Any]:
        """The run's metric settings as this protocol has them for the task (default: unchanged)."""
        return dict(config)

    def protocol_texts(
        self, settings: Any, predictions: list[str], references: list[str]
    ) -> tuple[list[str], list[str], dict[str, Any]]:
        """The texts this metric sees under the protocol, and what was done to them (for the record)."""
        return predictions, references, {}

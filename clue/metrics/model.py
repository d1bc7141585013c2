"""Metrics that need model weights (BERTScore, UMLS-F1), computed in batches.

They run over all of a task's outputs at once, after generation. When a
metric cannot run (its extra is not installed, no model is configured), it is
reported as missing and the task is marked incomplete: a score is never
silently averaged over fewer metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence


@dataclass
class ModelMetricResult:
    values: dict[str, dict[str, float]] = field(default_factory=dict)  # request id -> {metric: value}
    missing: dict[str, str] = field(default_factory=dict)  # metric -> why it was not computed
    settings: dict[str, Any] = field(default_factory=dict)  # metric -> recorded settings


def compute(
    metric_names: Sequence[str],
    request_ids: Sequence[str],
    predictions: Sequence[str],
    references: Sequence[str],
    config: dict[str, Any] | None = None,
) -> ModelMetricResult:
    result = ModelMetricResult()
    for name in metric_names:
        result.missing[name] = "not available in this version of clue"
    return result

"""Batch metrics (BERTScore, UMLS-F1, any registered ``BatchMetric``): computed over all of a task's outputs.

A metric that cannot run here is reported missing with a one-line reason, never
averaged over fewer metrics; values are cached (docs/metrics.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from clue.core.errors import UsageError
from clue.metrics.common import MetricUnavailable
from clue.metrics.metric import BatchMetric, BatchScorer
from clue.metrics.registry import batch_metrics, find_metric
from clue.store.metric_cache import MetricCache, cached_values


@dataclass
class ModelMetricResult:
    values: dict[str, dict[str, float]] = field(default_factory=dict)  # request id -> {metric: value}
    missing: dict[str, str] = field(default_factory=dict)  # metric -> why it was not computed
    settings: dict[str, Any] = field(default_factory=dict)  # metric -> recorded settings


def metric_option_keys() -> dict[str, str]:
    """Every ``--metric`` key this module reads, with a one-line description."""
    return {key: text for metric in batch_metrics() for key, text in metric.option_keys.items()}


def check_options(config: Mapping[str, Any]) -> None:
    """Reject a misspelt metric key rather than silently scoring with the default."""
    known = metric_option_keys()
    prefixes = tuple(m.option_prefix for m in batch_metrics() if m.option_prefix)
    for key in config:
        if key.startswith(prefixes) and key not in known:
            raise UsageError(f"unknown metric setting {key!r}; known: {', '.join(sorted(known))}")


def load_metric(name: str, config: Mapping[str, Any], cache: MetricCache) -> BatchScorer:
    """The loaded scorer of the batch metric ``name``; raises MetricUnavailable with the reason it cannot run."""
    metric = find_metric(name)
    if not isinstance(metric, BatchMetric):
        raise MetricUnavailable(f"no model metric named {name!r} in this version of clue")
    return metric.load(config, cache)


def compute(
    metric_names: Sequence[str],
    request_ids: Sequence[str],
    predictions: Sequence[str],
    references: Sequence[str],
    config: dict[str, Any] | None = None,
) -> ModelMetricResult:
    config = dict(config or {})
    check_options(config)
    result = ModelMetricResult()
    preds = [p if isinstance(p, str) else "" for p in predictions]
    refs = [str(r) for r in references]
    with MetricCache(config.get("cache_path")) as cache:
        for name in metric_names:
            try:
                metric = load_metric(name, config, cache)
                key_settings = {"metric": name, **metric.value_settings(refs)}
                values, _computed = cached_values(cache, name, key_settings, preds, refs, metric.score)
            except MetricUnavailable as exc:
                result.missing[name] = str(exc)
                continue
            except (UsageError, KeyboardInterrupt):
                raise
            except Exception as exc:  # a broken model folder must not lose a finished run
                result.missing[name] = f"{name} failed: {type(exc).__name__}: {exc}".splitlines()[0]
                continue
            for request_id, value in zip(request_ids, values):
                result.values.setdefault(request_id, {})[name] = value
            result.settings[name] = metric.settings()
    return result


def metric_status(config: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Whether each batch metric can run with these settings, and with what; loads and hashes nothing."""
    config = dict(config or {})
    check_options(config)
    return [metric.status(config) for metric in batch_metrics()]

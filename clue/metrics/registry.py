"""The metric registry: every metric a task can name, the built-in ones first, then installed packages' ones.

A package adds metrics through the entry-point group ``clue.metrics`` (read only
when a name is not found among those registered); docs/metrics.md shows how.
"""

from __future__ import annotations

import warnings

from clue.core.errors import UsageError
from clue.metrics.bertscore import BertScoreMetric
from clue.metrics.choice import ChoiceAccuracy
from clue.metrics.icd import ApproximateF1, ExactMatchF1, ValidCodes
from clue.metrics.labels import LabelAccuracy
from clue.metrics.metric import BatchMetric, Metric
from clue.metrics.rouge import Rouge
from clue.metrics.umls import UmlsMetric

ENTRY_POINT_GROUP = "clue.metrics"

_METRICS: dict[str, Metric] = {}
_PLUGINS: dict[str, bool] = {"read": False}
_PLUGIN_ERRORS: list[str] = []


def register_metric(metric: Metric, *, replace: bool = False) -> Metric:
    """Add a metric under its name; a name already taken is an error unless ``replace``."""
    if not metric.name:
        raise UsageError(f"{type(metric).__name__}: a metric needs a name")
    if metric.name in _METRICS and not replace and _METRICS[metric.name] is not metric:
        raise UsageError(f"a metric named {metric.name!r} is already registered ({type(_METRICS[metric.name]).__name__})")
    _METRICS[metric.name] = metric
    return metric


def unregister_metric(name: str) -> None:
    """Remove a metric (tests that register their own)."""
    _METRICS.pop(name, None)


def get_metric(name: str) -> Metric:
    found = find_metric(name)
    if found is None:
        raise UsageError(f"unknown metric {name!r}; known: {', '.join(_METRICS)}")
    return found


def find_metric(name: str) -> Metric | None:
    """The metric registered as ``name``; installed packages' metrics are read the first time a name is missing."""
    if name not in _METRICS:
        load_plugin_metrics()
    return _METRICS.get(name)


def load_plugin_metrics() -> list[str]:
    """Register the metrics of the ``clue.metrics`` entry points (once); returns what could not be loaded."""
    if _PLUGINS["read"]:
        return list(_PLUGIN_ERRORS)
    _PLUGINS["read"] = True
    import importlib.metadata as md  # only when a name is missing: start-up stays light

    for ep in md.entry_points(group=ENTRY_POINT_GROUP):
        where = f"metric entry point {ep.name!r} ({ep.value})"
        try:
            obj = ep.load()
            metric = obj() if isinstance(obj, type) else obj
            if not isinstance(metric, Metric):
                raise TypeError(f"{ep.value} is not a clue.metrics.metric.Metric (subclass or instance)")
            if metric.name in _METRICS and type(_METRICS[metric.name]) is not type(metric):
                raise UsageError(f"the name {metric.name!r} is taken by {type(_METRICS[metric.name]).__name__}")
            _METRICS.setdefault(metric.name, metric)
        except Exception as exc:  # a broken package must not stop the built-in metrics
            message = f"{where} could not be loaded: {type(exc).__name__}: {exc}"
            _PLUGIN_ERRORS.append(message)
            warnings.warn(message, stacklevel=2)
    return list(_PLUGIN_ERRORS)


def all_metrics() -> tuple[Metric, ...]:
    """Every registered metric, in registration order."""
    return tuple(_METRICS.values())


def batch_metrics() -> tuple[BatchMetric, ...]:
    return tuple(m for m in _METRICS.values() if isinstance(m, BatchMetric))


# The built-in metrics: one line each.
register_metric(LabelAccuracy())
register_metric(ChoiceAccuracy())
register_metric(Rouge("rouge1"))
register_metric(Rouge("rouge2"))
register_metric(Rouge("rougeL"))
register_metric(BertScoreMetric())
register_metric(UmlsMetric())
register_metric(ExactMatchF1())
register_metric(ApproximateF1())
register_metric(ValidCodes())
# LongHealth's three subtasks: right/wrong per prompt, scored by its own task only (no answer kind)
register_metric(ChoiceAccuracy("task1", answer="", title="task 1 accuracy"))
register_metric(ChoiceAccuracy("task2", answer="", title="task 2 accuracy"))
register_metric(ChoiceAccuracy("task3", answer="", title="task 3 accuracy"))

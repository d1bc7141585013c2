"""The metric registry: every metric a task can name, the built-in ones first, in the study's order."""

from __future__ import annotations

from clue.core.errors import UsageError
from clue.metrics.bertscore import BertScoreMetric
from clue.metrics.choice import ChoiceAccuracy
from clue.metrics.icd import ApproximateF1, ExactMatchF1, ValidCodes
from clue.metrics.labels import LabelAccuracy
from clue.metrics.metric import BatchMetric, Metric
from clue.metrics.rouge import Rouge
from clue.metrics.umls import UmlsMetric

_METRICS: dict[str, Metric] = {}


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
    try:
        return _METRICS[name]
    except KeyError:
        raise UsageError(f"unknown metric {name!r}; known: {', '.join(_METRICS)}") from None


def find_metric(name: str) -> Metric | None:
    return _METRICS.get(name)


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

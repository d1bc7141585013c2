"""Score: parse and score each completion, add the model-based metrics, summarise a task.

A request that failed (or got no completion) is counted, never scored as zero.
A reasoning model's answer is scored without its reasoning (the backend keeps
the two apart); an answer lost because the token limit ended inside the
reasoning is counted in the diagnostics (``reasoning_unfinished``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from clue.core.records import Case, Completion, Scored
from clue.core.results import PredictionRow, TaskSummary
from clue.metrics import model as model_metrics
from clue.metrics.metric import BatchMetric
from clue.metrics.registry import batch_metrics
from clue.pipeline.plan import PreparedTask
from clue.stats.aggregate import task_summary
from clue.tasks.base import clean_output
from clue.tasks.settings import Settings


def score_task(
    prepared: PreparedTask, completions: Mapping[str, Completion], metric_config: dict[str, Any]
) -> tuple[TaskSummary, list[PredictionRow], dict[str, Any]]:
    """Score one task's completions; returns (summary, prediction rows, metric settings)."""
    task = prepared.task
    settings = prepared.settings
    metric_config = task_metric_config(settings, metric_config, task.declaration.batch_metrics)
    scored: list[Scored] = []
    ok_cases: list[Case] = []
    failed = 0
    for case in prepared.cases:
        completion = completions.get(case.id)
        if completion is None or not completion.ok:
            failed += 1
            continue
        ok_cases.append(case)
        scored.append(task.score(case.reference, clean_output(completion.text or "", settings)))
    predictions = [
        s.parsed if isinstance(s.parsed, str) else clean_output(completions[s.request_id].text or "", settings)
        for s in scored
    ]
    references = [str(c.reference.gold) for c in ok_cases]
    ids = [c.id for c in ok_cases]
    extra = batch_values(task.declaration.batch_metrics, settings, ids, predictions, references, metric_config)
    for s in scored:
        s.metrics.update(extra.values.get(s.request_id, {}))
    by_id = {s.request_id: s for s in scored}
    rows = [prediction_row(c, completions.get(c.id), by_id.get(c.id)) for c in prepared.cases]
    summary = task_summary(
        task.metrics,
        scored,
        missing_metrics=list(extra.missing),
        failed=failed,
        truncated=prepared.truncated,
        extra_diagnostics=reasoning_diagnostics([completions[c.id] for c in ok_cases]),
    )
    if extra.missing:
        summary.missing_reasons = dict(extra.missing)
    return summary, rows, extra.settings


def reasoning_diagnostics(completions: list[Completion]) -> dict[str, int]:
    """For a reasoning model (its completions carry ``reasoning`` in their meta): answers lost to it.

    ``reasoning_unfinished`` counts completions whose token limit ended inside
    the reasoning, so their answer is empty (scored, as the model's answer).
    """
    if not any("reasoning" in c.meta for c in completions):
        return {}
    return {"reasoning_unfinished": sum(1 for c in completions if c.meta.get("reasoning_unfinished"))}


def batch_values(
    metrics: Sequence[BatchMetric],
    settings: Settings,
    ids: list[str],
    predictions: list[str],
    references: list[str],
    metric_config: dict[str, Any],
) -> model_metrics.ModelMetricResult:
    """The batch metrics' values, each over the texts its protocol rules give it (e.g. lower-cased).

    Metrics that see the texts as they are run together first (also when there
    are none: the run's metric settings are checked); the others after, grouped
    by what was done to their texts, which goes into their recorded settings.
    """
    groups: list[tuple[dict[str, Any], list[str], list[str], list[str]]] = [({}, [], predictions, references)]
    for metric in metrics:
        preds, refs, note = metric.protocol_texts(settings, predictions, references)
        for group in groups:
            if group[0] == note:
                group[1].append(metric.name)
                break
        else:
            groups.append((note, [metric.name], preds, refs))
    result = model_metrics.ModelMetricResult()
    for n, (note, names, preds, refs) in enumerate(groups):
        if n and not names:
            continue
        part = model_metrics.compute(names, ids, preds, refs, metric_config)
        for request_id, values in part.values.items():
            result.values.setdefault(request_id, {}).update(values)
        result.missing.update(part.missing)
        result.settings.update({name: {**value, **note} for name, value in part.settings.items()})
    return result


def task_metric_config(
    settings: Settings, metric_config: dict[str, Any], metrics: Sequence[BatchMetric] | None = None
) -> dict[str, Any]:
    """The run's metric settings as the protocol has them for this task (e.g. its BERTScore model, unless the run names one)."""
    config = metric_config
    for metric in batch_metrics() if metrics is None else metrics:
        config = metric.protocol_config(settings, config)
    return config


def prediction_row(case: Case, completion: Completion | None, scored: Scored | None) -> PredictionRow:
    reference = case.reference
    return PredictionRow(
        id=case.id,
        item_id=reference.item_id,
        subtask=reference.subtask,
        group=reference.group,
        prompt_hash=case.request.prompt_hash(),
        truncated=reference.truncated,
        output=completion.text if completion else None,
        error=(completion.error if completion else "no completion"),
        parsed=scored.parsed if scored else None,
        gold=reference.gold,
        metrics=dict(scored.metrics) if scored else None,
        diagnostics=scored.diagnostics if scored else None,
    )

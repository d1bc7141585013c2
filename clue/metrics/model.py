"""Metrics that need model weights (BERTScore, UMLS-F1), computed in batches.

They run over all of a task's outputs at once, after generation. When a
metric cannot run (its extra is not installed, no model is configured or found
on this machine), it is reported as missing with a one-line reason naming what
to install or configure, and the task is marked incomplete: a score is never
silently averaged over fewer metrics.

Settings come from ``clue run --metric KEY=VALUE`` (see ``docs/metrics.md``):
``bertscore_*`` keys for BERTScore, ``umls_*`` keys for UMLS-F1, plus
``cache_path`` (the runner's ``<run dir>/metric_cache.sqlite``). Values are
read from and written to that cache, so re-scoring recomputes only new pairs
and a model is loaded only when something is missing from the cache.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from clue.core.errors import UsageError
from clue.metrics import bertscore, umls
from clue.metrics.common import MetricUnavailable
from clue.store.metric_cache import MetricCache, cached_values


class ModelMetric(Protocol):
    name: str

    def settings(self) -> dict[str, Any]:
        """Everything recorded in results.json (paths, versions, hashes)."""

    def value_settings(self, references: Sequence[str]) -> dict[str, Any]:
        """The subset that decides the values: the metric cache's key."""

    def score(self, predictions: list[str], references: list[str]) -> list[float]:
        """One value per pair, in [0, 1] for the default settings."""


@dataclass
class ModelMetricResult:
    values: dict[str, dict[str, float]] = field(default_factory=dict)  # request id -> {metric: value}
    missing: dict[str, str] = field(default_factory=dict)  # metric -> why it was not computed
    settings: dict[str, Any] = field(default_factory=dict)  # metric -> recorded settings


def metric_option_keys() -> dict[str, str]:
    """Every ``--metric`` key this module reads, with a one-line description."""
    return {**bertscore.OPTION_KEYS, **umls.OPTION_KEYS}


def check_options(config: Mapping[str, Any]) -> None:
    """Reject a misspelt metric key rather than silently scoring with the default."""
    known = metric_option_keys()
    for key in config:
        if key.startswith(("bertscore_", "umls_")) and key not in known:
            raise UsageError(f"unknown metric setting {key!r}; known: {', '.join(sorted(known))}")


def load_metric(name: str, config: Mapping[str, Any], cache: MetricCache) -> ModelMetric:
    """The metric object for ``name``; raises MetricUnavailable with the reason it cannot run."""
    if name == "bertscore":
        return bertscore.BertScore(bertscore.BertScoreConfig.from_options(config), cache)
    if name == "umls_f1":
        return umls.UmlsF1(umls.UmlsConfig.from_options(config), cache)
    raise MetricUnavailable(f"no model metric named {name!r} in this version of clue")


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
    """Whether each model metric can run with these settings, and with what; loads and hashes nothing."""
    config = dict(config or {})
    check_options(config)
    rows: list[dict[str, Any]] = []
    try:
        missing = bertscore.missing_packages()
        if missing:
            raise MetricUnavailable(f"not installed: {', '.join(missing)} (pip install 'clue-eval[bertscore]')")
        cfg = bertscore.BertScoreConfig.from_options(config)
        found = bertscore.resolve_model(cfg.model, cfg.layer)
        rows.append({"metric": "bertscore", "ready": True,
                     "detail": f"{found.repo or found.name}, layer {found.layer}, from {found.path}"})
    except MetricUnavailable as exc:
        rows.append({"metric": "bertscore", "ready": False, "detail": str(exc)})
    try:
        missing = umls.missing_packages()
        if missing:
            raise MetricUnavailable(f"not installed: {', '.join(missing)} (see docs/metrics.md)")
        cfg_u = umls.UmlsConfig.from_options(config)
        if not umls.pipeline_available(cfg_u.pipeline):
            raise MetricUnavailable(f"spaCy pipeline {cfg_u.pipeline} not installed: pip install {umls.EN_CORE_SCI_SM_URL}")
        files = umls.locate_linker(cfg_u)
        rows.append({"metric": "umls_f1", "ready": True,
                     "detail": f"pipeline {cfg_u.pipeline}, linker {files.ann_index.parent}, knowledge base {files.kb}"})
    except MetricUnavailable as exc:
        rows.append({"metric": "umls_f1", "ready": False, "detail": str(exc)})
    return rows

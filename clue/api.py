"""The Python API: the functions ``clue run``, ``clue score`` and ``clue compare`` call, returning typed records.

``import clue`` exposes them (``clue.evaluate``, ``clue.score``, ``clue.read_run``, ``clue.compare``);
docs/api.md has a notebook-sized example and the settings every front door shares.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from clue.core.errors import UsageError
from clue.core.results import Run, RunResults, read_run
from clue.core.seeding import DEFAULT_SEED
from clue.pipeline.config import RunSpec
from clue.pipeline.generate import StoreBackend
from clue.pipeline.lock import hold_run_dir
from clue.pipeline.run import evaluate as evaluate_with
from clue.pipeline.run import rerun_config, run_model
from clue.pipeline.variants import evaluate_variants, parse_design, recorded_design, run_variants
from clue.report.compare import Comparison, compare_runs
from clue.store.runs import STORE_FILENAME

__all__ = ["Comparison", "Run", "RunResults", "RunSpec", "compare", "evaluate", "read_run", "run", "score"]

Progress = Callable[[str, int, int], None]
PlanNote = Callable[[dict[str, Any]], None]


def evaluate(
    model: str = "baseline",
    tasks: str | Sequence[str] = "all",
    data: Mapping[str, str | Path] | None = None,
    output: str | Path | None = None,
    *,
    on_progress: Progress | None = None,
    **settings: Any,
) -> RunResults:
    """Run ``tasks`` with ``model`` and score them: the run ``clue run`` makes, with the same files.

    ``settings`` take the command line's option names with ``_`` for ``-`` (``limit=5``,
    ``protocol="clue-2024-06"``, ``base_url=...``, ``options={...}``; docs/api.md lists them).
    Task files and suite files are accepted wherever a task name is.
    """
    return run(RunSpec.from_python(model, tasks, data, output, **settings), on_progress=on_progress)


def run(spec: RunSpec, *, on_progress: Progress | None = None, on_plan: PlanNote | None = None) -> RunResults:
    """One model's run from a built spec (``clue run`` and ``clue sweep`` come here)."""
    if spec.variants is not None:
        design = parse_design(spec.variants, spec.variant_design)
        return run_variants(spec, design, on_plan=on_plan, on_progress=on_progress)
    return run_model(spec, on_progress=on_progress)


def score(run_dir: str | Path, *, metric: Mapping[str, Any] | None = None, command: Sequence[str] | None = None,
          judge: str | None = None, judge_base_url: str | None = None, judges: str | Path | None = None,
          approve_endpoints: Sequence[str] = ()) -> RunResults:
    """Score a run directory again from its store, without any model (``clue score RUN_DIR``).

    The same requests are rebuilt from what the manifest recorded; ``metric``
    changes metric settings (e.g. ``{"bertscore_model": "scibert"}``); ``judge`` /
    ``judges`` judge the free-text tasks (only judge calls not in the judge store are made).
    """
    folder = Path(run_dir)
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a run directory (no such folder)")
    with hold_run_dir(folder):  # a run still writing it is refused first
        spec = rerun_config(folder, dict(metric or {}), command)
        spec.judge, spec.judge_base_url = judge, judge_base_url
        spec.judges = Path(judges) if judges is not None else None
        spec.approve_endpoints = list(approve_endpoints)
        backend = StoreBackend(folder / STORE_FILENAME)
        design = recorded_design(folder)
        try:
            # A variant run is re-scored whole: every variant, and the spread across them.
            return evaluate_with(spec, backend) if design is None else evaluate_variants(spec, design, backend)
        finally:
            backend.close()


def compare(run_a: str | Path, run_b: str | Path, *, seed: int = DEFAULT_SEED, n_resamples: int = 10000) -> Comparison:
    """Run B against run A on their shared items (``clue compare A B``): paired differences per task and level."""
    return compare_runs(Path(run_a), Path(run_b), seed=seed, n_resamples=n_resamples)

"""Real runs in this process, through the library function that ``clue run`` calls (no command line).

For tests where a run is the set-up, not what is tested. ``evaluate`` takes
the arguments the Python API ``clue.evaluate(model=..., tasks=[...], data=None,
output=None, **settings)`` will take; once that API exists, this wrapper (and
every call marked ``# API: clue.evaluate``) can call it instead.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def evaluate(model: str = "baseline", tasks: Sequence[str] = ("all",), data: dict[str, str | os.PathLike[str]] | None = None,
             output: str | os.PathLike[str] | None = None, *, options: dict[str, Any] | None = None,
             **settings: Any) -> dict[str, Any]:
    """``clue run --model MODEL --tasks TASKS --output OUTPUT``: the results dict ``run_model`` returns.

    ``settings`` are ``RunConfig`` fields (``limit``, ``bootstrap_resamples``, ...);
    ``options`` the backend options (``-O``, ``--base-url``).
    """
    # API: clue.evaluate
    from clue.pipeline.config import RunConfig, default_output
    from clue.pipeline.run import run_model
    from clue.tasks.registry import resolve_tasks

    out = Path(output) if output is not None else default_output(model)
    config = RunConfig(model=model, tasks=resolve_tasks(list(tasks)), output=out,
                       data={task: Path(path) for task, path in (data or {}).items()},
                       command=["clue", "run", "--model", model, "--tasks", ",".join(tasks), "--output", str(out)], **settings)
    return run_model(config, options or {})


def failed_requests(results: dict[str, Any]) -> int:
    """The requests that failed in a run (``clue run`` exits 1 when there are any)."""
    return sum(t["diagnostics"].get("failed_requests", 0) for t in results["tasks"].values())

"""What one evaluation is asked to do: the run's configuration, and where its files go."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clue.core.seeding import DEFAULT_SEED
from clue.tasks.base import DEFAULT_PROTOCOL

RESULTS_SCHEMA = "clue.results/1"
MANIFEST_SCHEMA = "clue.manifest/1"
DEFAULT_BOOTSTRAP = 1000
RUNS_ROOT = Path("clue-runs")


@dataclass
class RunConfig:
    model: str
    tasks: list[str]
    output: Path
    data: dict[str, Path] = field(default_factory=dict)
    data_dir: Path | None = None
    limit: int | None = None
    seed: int = DEFAULT_SEED
    templates_dir: Path | None = None
    max_new_tokens: int | None = None
    temperature: float = 0.0
    task_options: dict[str, Any] = field(default_factory=dict)  # e.g. longhealth_budget
    metric_config: dict[str, Any] = field(default_factory=dict)
    bootstrap_resamples: int = DEFAULT_BOOTSTRAP
    protocol: str = DEFAULT_PROTOCOL
    # --protocol-setting [TASK.]KEY=VALUE, as given (recorded in the manifest)
    protocol_settings: list[str] = field(default_factory=list)
    price: dict[str, Any] | None = None  # clue.pipeline.cost.parse_price; None: no price
    gpus: int | None = None  # GPUs the model holds; None: from the spec (clue.pipeline.cost.gpus_for)
    command: list[str] = field(default_factory=lambda: list(sys.argv))
    suite: str = "clue"  # the suite whose levels score the run: a built-in name or a suite file (clue.tasks.suite)


def default_output(model: str) -> Path:
    """``clue-runs/<model>``, with the model spec made into a folder name."""
    slug = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in model).strip("_") or "model"
    return RUNS_ROOT / slug

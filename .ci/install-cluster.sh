#!/usr/bin/env bash
# Packages for `clue sweep --executor ray|slurm` and its tests (tests/cluster); run inside the active venv.
# Ray's core wheel only (no dashboard, no ray[default]) and submitit (pure Python, no Slurm needed:
# the tests use its LocalExecutor). Without them the cluster tests skip with the reason.
set -euo pipefail

python -m pip install --quiet -e '.[ray,slurm]'
python -c "import ray, submitit; print('ray', ray.__version__, '/ submitit', submitit.__version__)"

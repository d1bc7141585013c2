"""The GPU benchmark script runs on a CPU machine with --dry-run (the numbers come from a machine with a GPU)."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers.cli import REPO


def test_the_gpu_ratio_benchmark_runs_with_dry_run():
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "bench_gpu_ratio.py"), "--dry-run"],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "hf: backend vs plain generate loop" in proc.stdout
    assert "clue's metric vs bert_score.score" in proc.stdout
    bad = subprocess.run([sys.executable, str(REPO / "bench" / "bench_gpu_ratio.py"), "--dry-run", "--arch", "nope"],
                         capture_output=True, text=True, timeout=120, cwd=REPO)
    assert bad.returncode != 0 and "unknown --arch" in bad.stderr

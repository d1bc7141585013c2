"""The benchmark scripts still run: the GPU one with --dry-run on a CPU machine (its numbers come from a machine
with a GPU), the start-up one on a few requests (its numbers come from its full run; nothing here is timed)."""

from __future__ import annotations

import subprocess
import sys

import pytest

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


def test_the_startup_benchmark_prints_its_table_on_a_few_requests():
    pytest.importorskip("aiohttp", reason="the start-up benchmark's stub server and bare loop need aiohttp (the [test] extra)")
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "bench_startup.py"), "--n", "12", "--rounds", "1",
                           "--concurrency", "4", "--tokens", "1"],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| | start s | first req s | req/s 0 ms | req/s 105 ms | client CPU ms/req |" in proc.stdout
    rows = [line for line in proc.stdout.splitlines() if line.startswith(("| bare |", "| clue |"))]
    assert len(rows) == 2
    assert "clue: start" in proc.stdout and "x the loop's" in proc.stdout

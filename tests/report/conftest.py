"""Fixtures for the report and sweep tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.fake_runs import level1_tasks, write_run


@pytest.fixture(scope="session")
def gap_runs(tmp_path_factory) -> tuple[Path, Path]:
    """A base and its biomedical model: MedNLI 70% vs 60% on the same 500 items (a 10-point gap)."""
    root = tmp_path_factory.mktemp("gap")
    base = write_run(root / "Meta-Llama-3-8B-Instruct", "meta-llama/Meta-Llama-3-8B-Instruct", level1_tasks(350))
    bio = write_run(root / "openbio", "aaditya/Llama3-OpenBioLLM-8B", level1_tasks(300))
    return base, bio

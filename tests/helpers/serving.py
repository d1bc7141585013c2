"""Helpers for the serving tests (a module name of its own: every test folder has a conftest)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def need_serving_packages() -> None:
    """Skip (not fail) where the optional serving packages are absent: the suite passes without them."""
    pytest.importorskip("httpx", reason="the OpenAI-compatible backend needs httpx (.ci/install-serving.sh)")
    pytest.importorskip("aiohttp", reason="the fake OpenAI-compatible server needs aiohttp (.ci/install-serving.sh)")


def write_mednli(path: Path, n: int) -> Path:
    """A synthetic MedNLI file in the real format (no MIMIC text)."""
    labels = ["entailment", "neutral", "contradiction"]
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            record = {
                "pairID": f"pair-{i:04d}",
                "sentence1": f"Synthetic patient {i} reports mild headache since morning item-{i} .",
                "sentence2": f"The synthetic patient {i} has a headache.",
                "gold_label": labels[i % 3],
            }
            fh.write(json.dumps(record) + "\n")
    return path

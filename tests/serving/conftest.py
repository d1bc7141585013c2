"""Shared fixtures for the serving tests: the fake OpenAI-compatible server and synthetic data."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # fakeserver.py sits beside the tests

pytest.importorskip("httpx", reason="the OpenAI-compatible backend needs httpx (.ci/install-serving.sh)")
pytest.importorskip("aiohttp", reason="the fake OpenAI-compatible server needs aiohttp (.ci/install-serving.sh)")

from fakeserver import FakeServer  # noqa: E402


@pytest.fixture
def serve() -> Iterator[Callable[..., FakeServer]]:
    """Start fake servers on 127.0.0.1 (ephemeral ports); all are stopped after the test."""
    started: list[FakeServer] = []

    def start(**settings) -> FakeServer:
        settings.setdefault("max_seconds", 60.0)
        settings.setdefault("max_requests", 5_000)
        server = FakeServer(**settings).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def write_mednli(path: Path, n: int) -> Path:
    """A synthetic MedNLI file in the real format (no MIMIC text)."""
    labels = ["entailment", "neutral", "contradiction"]
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(
                json.dumps(
                    {
                        "pairID": f"pair-{i:04d}",
                        "sentence1": f"Synthetic patient {i} reports mild headache since morning item-{i} .",
                        "sentence2": f"The synthetic patient {i} has a headache.",
                        "gold_label": labels[i % 3],
                    }
                )
                + "\n"
            )
    return path

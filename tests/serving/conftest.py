"""Fixtures for the serving tests: the fake OpenAI-compatible server."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # fakeserver.py and serving_helpers.py sit beside the tests

from serving_helpers import need_serving_packages  # noqa: E402


@pytest.fixture
def serve() -> Iterator[Callable[..., Any]]:
    """Start fake servers on 127.0.0.1 (ephemeral ports); all are stopped after the test."""
    need_serving_packages()
    from fakeserver import FakeServer

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

"""Fixtures shared by several test folders: the fake OpenAI-compatible server (serving, security, tasks).

The helper modules behind them live in ``tests.helpers``; fixtures used by one
folder only stay in that folder's conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.helpers.serving import need_serving_packages


@pytest.fixture
def serve() -> Iterator[Callable[..., Any]]:
    """Start fake servers on 127.0.0.1 (ephemeral ports); all are stopped after the test."""
    need_serving_packages()
    from tests.helpers.fakeserver import FakeServer

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


"""Fixtures for the security tests: a socket that must hear nothing, and no user approvals.

The fake OpenAI-compatible server (``serve``) is in tests/conftest.py.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest


class Listener:
    """A TCP socket on 127.0.0.1 that counts every connection it is offered, and closes it unanswered.

    A test that expects a refusal points the refused address at this port
    (``0.0.0.0:PORT`` reaches it; so would a pinned ``127.0.0.1``) and checks
    that ``connections`` stays 0.
    """

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.received = b""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            conn.settimeout(0.2)
            try:
                self.received += conn.recv(65536)
            except OSError:
                pass
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    sock = Listener()
    yield sock
    sock.close()


@pytest.fixture(autouse=True)
def no_user_approvals(tmp_path, monkeypatch):
    """The user's own approvals file and proxy settings must not leak into the tests."""
    monkeypatch.setenv("CLUE_APPROVED_ENDPOINTS", str(tmp_path / "no-approvals.toml"))
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy",
                 "no_proxy", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)

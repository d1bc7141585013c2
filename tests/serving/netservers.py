"""Bare servers on 127.0.0.1 for the network-layer tests: an HTTP/1.1 server whose every connection a test
scripts (plain or TLS), a CONNECT/SOCKS5 relay, and a self-signed certificate made with the openssl command."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest


def read_request(conn: socket.socket) -> bytes:
    """One HTTP request (head and Content-Length body), or b"" when the client closed the connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        body += chunk
    return head + b"\r\n\r\n" + body


def answer(text: str = "entailment") -> bytes:
    """A 200 chat-completion answer on a kept-alive connection."""
    body = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                    "finish_reason": "stop"}]}).encode()
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)) + body


def serve_until_closed(conn: socket.socket, index: int = 0) -> None:
    """Answer every request on the connection until the client closes it."""
    while read_request(conn):
        conn.sendall(answer())


class RawServer:
    """An HTTP/1.1 server on 127.0.0.1: connection i (from 0) is handed to ``handle(conn, i)`` in its own thread.

    With ``tls``, each connection is wrapped first; a handshake the client refuses ends that connection.
    """

    def __init__(self, handle: Callable[[socket.socket, int], None], tls: ssl.SSLContext | None = None) -> None:
        self.handle = handle
        self.tls = tls
        self.connections = 0
        self.handshake_errors: list[str] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._loop, daemon=True)
        self._accept.start()

    def url(self, scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}/v1"

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:  # the 0.2 s accept timeout, or the socket closed
                continue
            index = self.connections
            self.connections += 1
            thread = threading.Thread(target=self._run, args=(conn, index), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _run(self, conn: socket.socket, index: int) -> None:
        conn.settimeout(20)
        try:
            if self.tls is not None:
                try:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError) as exc:
                    self.handshake_errors.append(str(exc))
                    return
            self.handle(conn, index)
        except OSError:
            pass  # the client went away
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._accept.join(5)
        self.sock.close()
        for thread in self._threads:
            thread.join(5)


class Relay:
    """A proxy on 127.0.0.1 that tunnels: HTTP ``CONNECT host:port`` or SOCKS5 (no authentication, CONNECT)."""

    def __init__(self) -> None:
        self.tunnels: list[tuple[str, str, int]] = []  # (kind, host, port)
        self.server = RawServer(self._tunnel)
        self.port = self.server.port

    def _tunnel(self, conn: socket.socket, index: int) -> None:
        first = conn.recv(1)
        if first == b"\x05":
            kind, target = "socks5", self._socks5(conn)
        else:
            kind, target = "connect", self._connect(conn, first)
        if target is None:
            return
        self.tunnels.append((kind, *target))
        with socket.create_connection(target, timeout=20) as upstream:
            if kind == "socks5":
                conn.sendall(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + self.port.to_bytes(2, "big"))
            else:
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            back = threading.Thread(target=_pipe, args=(upstream, conn), daemon=True)
            back.start()
            _pipe(conn, upstream)
            back.join(20)

    @staticmethod
    def _connect(conn: socket.socket, first: bytes) -> tuple[str, int] | None:
        head = first
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(4096)
            if not chunk:
                return None
            head += chunk
        method, authority, _ = head.split(b"\r\n")[0].decode().split(" ")
        assert method == "CONNECT", head
        host, _, port = authority.rpartition(":")
        return host.strip("[]"), int(port)

    @staticmethod
    def _socks5(conn: socket.socket) -> tuple[str, int] | None:
        methods = _exactly(conn, _exactly(conn, 1)[0])
        assert 0 in methods, methods  # no authentication
        conn.sendall(b"\x05\x00")
        version, command, _, kind = _exactly(conn, 4)
        assert (version, command) == (5, 1), (version, command)
        if kind == 1:
            host = socket.inet_ntoa(_exactly(conn, 4))
        elif kind == 3:
            host = _exactly(conn, _exactly(conn, 1)[0]).decode()
        else:
            host = socket.inet_ntop(socket.AF_INET6, _exactly(conn, 16))
        return host, int.from_bytes(_exactly(conn, 2), "big")

    def close(self) -> None:
        self.server.close()


def _exactly(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise OSError("the client closed the tunnel")
        data += chunk
    return data


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def self_signed(folder: Path) -> tuple[Path, Path]:
    """(certificate, key) for 127.0.0.1 and localhost, made here with the openssl command; skips without it."""
    if not shutil.which("openssl"):
        pytest.skip("needs the openssl command to make a test certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=clue-test-server",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return cert, key


def server_tls(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context

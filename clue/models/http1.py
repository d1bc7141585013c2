"""clue's own HTTP/1.1 client for the requests a run sends: asyncio only, no anyio, no per-request pool scan.

The OpenAI-compatible backend's workers send every direct (unproxied)
request through it on Python 3.11+; requests through a proxy keep httpx.
Against a server that answers at once, httpx/httpcore/h11 took 60% of the
client's CPU per request (httpcore asks anyio's ``current_async_library`` for
every lock and cancel shield, and scans its pool); this client writes the
request in one piece and reads the answer with a plain byte search, through
the same network layer (``clue.models.netio``, pinned to the addresses the
egress guard checked). bench/bench_startup.py measures it; docs/serving.md,
"clue's HTTP/1.1 client", has the whole contract.

What it does: one keep-alive connection per origin per client (a client
belongs to one worker, which has one request in flight); answers framed by
``Content-Length``, ``chunked`` or the end of the connection; ``gzip`` and
``deflate`` bodies decoded; ``1xx`` interim answers skipped; a kept connection
the server closed while it was idle is replaced before the next request (no
system call: the loop has seen its end). A request is never sent twice here: a
connection that fails after the request went out fails that attempt, and the
backend's retries (which count it) decide, as with httpx. TLS uses the
caller's context, with the host name for SNI and the certificate check, as
httpcore does.

Errors are httpcore's classes (netio raises them for connecting, reading and
writing; a malformed answer is ``RemoteProtocolError``), so callers classify
them as they classify httpx's; httpcore is imported only when one is raised.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from clue.models import netio

NAME = f"clue.models.http1 (HTTP/1.1 on {netio.NAME})"  # what a manifest records as the client
READ_SIZE = 65536
MAX_HEAD = 65536  # bytes of status line and headers before an answer is refused as malformed
FORBIDDEN_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})  # this client sets these


def _httpcore() -> Any:
    import httpcore

    return httpcore


def _protocol_error(message: str) -> Exception:
    return _httpcore().RemoteProtocolError(message)


@dataclass(frozen=True)
class Target:
    """Where a URL's requests go: the origin and the request target (path and query)."""

    scheme: str
    host: str  # as connected to and checked in TLS (an IPv6 address without brackets)
    port: int
    host_header: str
    path: str

    @classmethod
    def of(cls, url: str) -> Target:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        host = parts.hostname
        port = parts.port or (443 if scheme == "https" else 80)
        shown = f"[{host}]" if ":" in host else host
        if not shown.isascii():
            shown = shown.encode("idna").decode("ascii")
        default = port == (443 if scheme == "https" else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(scheme, host, port, shown if default else f"{shown}:{port}", path)

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)


@dataclass
class Answer:
    """An HTTP answer: its status, its headers (names in lower case; repeated ones joined by ", "), its body."""

    status: int
    headers: dict[str, str]
    content: bytes


class _Connection:
    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.buffer = bytearray()  # read but not yet used (bytes beyond one answer stay here)

    def idle_usable(self) -> bool:
        return not self.buffer and self.stream.idle_usable()

    async def close(self) -> None:
        await self.stream.aclose()

    async def _fill(self, timeout: float | None) -> bool:
        chunk = await self.stream.read(READ_SIZE, timeout)
        if not chunk:
            return False
        self.buffer += chunk
        return True

    async def _head(self, timeout: float | None) -> tuple[str, int, list[tuple[str, str]]]:
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self.buffer) > MAX_HEAD:
                raise _protocol_error(f"the answer's headers are longer than {MAX_HEAD} bytes")
            if not await self._fill(timeout):
                raise _protocol_error("Server disconnected without sending a response.")
        head = bytes(self.buffer[:end]).decode("latin-1")
        del self.buffer[:end + 4]
        lines = head.split("\r\n")
        status_line = lines[0].split(" ", 2)
        if len(status_line) < 2 or not status_line[0].startswith("HTTP/1.") or not status_line[1].isdigit() \
                or len(status_line[1]) != 3:
            raise _protocol_error(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
        headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and headers:  # an obsolete folded continuation
                name, value = headers[-1]
                headers[-1] = (name, f"{value} {line.strip()}")
                continue
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise _protocol_error(f"a malformed header line in the answer: {line[:80]!r}")
            headers.append((name.lower(), value.strip()))
        return status_line[0], int(status_line[1]), headers

    async def _exactly(self, n: int, timeout: float | None) -> bytes:
        while len(self.buffer) < n:
            if not await self._fill(timeout):
                raise _protocol_error(f"the server closed the connection {n - len(self.buffer)} bytes before the "
                                      "end of the answer")
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data

    async def _line(self, timeout: float | None) -> bytes:
        while True:
            end = self.buffer.find(b"\r\n")
            if end >= 0:
                line = bytes(self.buffer[:end])
                del self.buffer[:end + 2]
                return line
            if len(self.buffer) > MAX_HEAD:
                raise _protocol_error("a chunk-size line longer than the limit")
            if not await self._fill(timeout):
                raise _protocol_error("the server closed the connection inside a chunked answer")

    async def _chunked(self, timeout: float | None) -> bytes:
        parts: list[bytes] = []
        while True:
            size_text = (await self._line(timeout)).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise _protocol_error(f"a malformed chunk size: {size_text[:20]!r}") from None
            if size == 0:
                while await self._line(timeout):  # trailers, up to the empty line
                    pass
                return b"".join(parts)
            parts.append(await self._exactly(size, timeout))
            if await self._exactly(2, timeout) != b"\r\n":
                raise _protocol_error("a chunk not followed by CRLF")

    async def _to_the_end(self, timeout: float | None) -> bytes:
        while await self._fill(timeout):
            pass
        data = bytes(self.buffer)
        self.buffer.clear()
        return data

    async def exchange(self, request: bytes, method: str, timeout: float | None) -> tuple[Answer, bool]:
        """Send one request and read its answer: ``(answer, whether the connection can be kept)``."""
        await self.stream.write(request, timeout)
        while True:
            version, status, header_list = await self._head(timeout)
            if not (100 <= status < 200 and status != 101):  # an interim answer: the real one follows
                break
        headers: dict[str, str] = {}
        for name, value in header_list:
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        keep = _keep_alive(version, headers)
        if method == "HEAD" or status in (204, 304):
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = await self._chunked(timeout)
        elif "content-length" in headers:
            text = headers["content-length"].split(",")[0].strip()
            if not text.isdigit():
                raise _protocol_error(f"a malformed Content-Length: {text[:20]!r}")
            body = await self._exactly(int(text), timeout)
        else:
            body = await self._to_the_end(timeout)
            keep = False
        body = _decoded(body, headers.get("content-encoding", ""))
        return Answer(status, headers, body), keep and not self.buffer


def _keep_alive(version: str, headers: dict[str, str]) -> bool:
    tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    if "close" in tokens:
        return False
    return version != "HTTP/1.0" or "keep-alive" in tokens


def _decoded(body: bytes, encoding: str) -> bytes:
    for coding in reversed([c.strip().lower() for c in encoding.split(",") if c.strip()]):
        if coding == "identity":
            continue
        try:
            if coding in ("gzip", "x-gzip"):
                body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
            elif coding == "deflate":
                try:
                    body = zlib.decompress(body)
                except zlib.error:
                    body = zlib.decompress(body, -zlib.MAX_WBITS)  # raw deflate, as some servers send it
            else:
                raise _protocol_error(f"the answer is {coding}-encoded, which was not asked for")
        except zlib.error as exc:
            raise _protocol_error(f"the answer's {coding} body does not decode: {exc}") from None
    return body


def _check_header(name: str, value: str) -> None:
    if not name or any(c in name for c in " \t\r\n:") or any(c in value for c in "\r\n\0"):
        raise ValueError(f"a request header that cannot be sent: {name!r}")


class Http1Client:
    """Requests over kept HTTP/1.1 connections, one per origin; meant for one task at a time (a worker).

    ``network`` opens connections (``connect_tcp``; netio's layer, maybe pinned);
    ``tls`` is the SSL context for ``https`` origins; ``timeout`` applies to
    connecting and to each read and write, as httpx's single timeout does.
    """

    def __init__(self, network: Any, *, headers: dict[str, str] | None = None, timeout: float | None = None,
                 tls: ssl.SSLContext | None = None, user_agent: str = "clue-eval") -> None:
        self.network = network
        self.timeout = timeout
        self.tls = tls
        fixed = {"Accept": "*/*", "Accept-Encoding": "gzip, deflate", "User-Agent": user_agent, **(headers or {})}
        for name, value in fixed.items():
            _check_header(name, value)
            if name.lower() in FORBIDDEN_HEADERS:
                raise ValueError(f"the client sets {name} itself")
        self._fixed = "".join(f"{name}: {value}\r\n" for name, value in fixed.items())
        self._targets: dict[str, Target] = {}
        self._connections: dict[tuple[str, str, int], _Connection] = {}
        self.connections_opened = 0

    def target(self, url: str) -> Target:
        found = self._targets.get(url)
        if found is None:
            found = self._targets[url] = Target.of(url)
        return found

    async def post(self, url: str, content: bytes) -> Answer:
        return await self.request("POST", url, content)

    async def get(self, url: str) -> Answer:
        return await self.request("GET", url, None)

    async def request(self, method: str, url: str, content: bytes | None) -> Answer:
        target = self.target(url)
        head = f"{method} {target.path} HTTP/1.1\r\nHost: {target.host_header}\r\n{self._fixed}"
        if content is not None:
            head += f"Content-Length: {len(content)}\r\n"
        request = head.encode("latin-1") + b"\r\n" + (content or b"")
        connection = await self._connection(target)
        try:
            answer, keep = await connection.exchange(request, method, self.timeout)
        except BaseException:  # a failure, or a cancelled worker: the connection is in an unknown state
            await connection.close()
            raise
        if keep:
            self._connections[target.origin] = connection
        else:
            await connection.close()
        return answer

    async def _connection(self, target: Target) -> _Connection:
        kept = self._connections.pop(target.origin, None)
        if kept is not None:
            if kept.idle_usable():
                return kept
            await kept.close()
        stream = await self.network.connect_tcp(target.host, target.port, timeout=self.timeout)
        if target.scheme == "https":
            context = self.tls if self.tls is not None else ssl.create_default_context()
            stream = await stream.start_tls(context, server_hostname=target.host, timeout=self.timeout)
        self.connections_opened += 1
        return _Connection(stream)

    async def aclose(self) -> None:
        kept, self._connections = list(self._connections.values()), {}
        for connection in kept:
            await connection.close()

    async def __aenter__(self) -> Http1Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def run_once(make: Any) -> Any:
    """Run the coroutine ``make()`` to its end from sync code: on a new loop here, or in a thread if one runs here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    import threading

    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = asyncio.run(make())
        except BaseException as exc:  # re-raised in the caller's thread
            out["error"] = exc

    thread = threading.Thread(target=run, name="clue-http1-once", daemon=True)
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["value"]

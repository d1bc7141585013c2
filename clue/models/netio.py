"""The network layer under the OpenAI-compatible backend's httpx clients: plain asyncio, no anyio.

It implements httpcore's network interface on asyncio's own transports, with
one timer per wait instead of anyio's cancel scope per read and write, and
raises httpcore's exceptions where httpcore's anyio backend does, so httpx and
the retries behave the same. Python 3.11+ only (``network_backend`` decides);
httpcore is imported only when an error is raised. The contract in full:
docs/serving.md, "The network layer under httpx".
"""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
import sys
from collections.abc import Iterable
from typing import Any

NAME = "asyncio (clue.models.netio)"
DEFAULT_NAME = "httpcore default (anyio)"
READ_BUFFER_LIMIT = 1 << 20  # bytes held unread before the socket is paused (httpcore reads 64 KiB at a time)
HAPPY_EYEBALLS_DELAY = 0.25  # seconds before trying a host's next address in parallel, as anyio does (RFC 8305)
NO_TIMEOUT_TLS = 24 * 3600.0  # asyncio's own handshake limit when the caller sets none (its default is 60 s)


def available() -> bool:
    """Whether this layer can be used here (it needs Python 3.11's asyncio.timeout)."""
    return sys.version_info >= (3, 11)


def network_backend() -> AsyncioBackend | None:
    """The network backend for httpx's async transports here, or None to keep httpcore's default (Python < 3.11)."""
    return AsyncioBackend() if available() else None


def layer_name(backend: Any) -> str:
    """What a manifest records as the network layer of a backend chosen by :func:`network_backend`."""
    return NAME if isinstance(backend, AsyncioBackend) else DEFAULT_NAME


def _within(timeout: float | None) -> Any:
    """A deadline for connecting and the TLS handshake (asyncio.timeout: Python 3.11+, like this module's use)."""
    return asyncio.timeout(timeout)  # type: ignore[attr-defined,unused-ignore]


def _httpcore() -> Any:
    import httpcore

    return httpcore


def _message(exc: BaseException, fallback: str) -> str:
    return str(exc) or f"{fallback} ({type(exc).__name__})"


class _Protocol(asyncio.Protocol):
    """Buffers what the transport receives and wakes the one reader or writer waiting on it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.BaseTransport | None = None
        self.buffer = bytearray()
        self.eof = False  # the peer ended its side
        self.lost = False  # the connection is gone (connection_lost was called)
        self.error: BaseException | None = None  # why it was lost, when not cleanly
        self.closed_here = False  # aclose() was called: reads and writes fail, as on a closed anyio stream
        self.tls = False
        self.reading_paused = False
        self.writing_paused = False
        self.read_waiter: asyncio.Future[bool] | None = None
        self.drain_waiter: asyncio.Future[bool] | None = None

    # -- asyncio's callbacks ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > READ_BUFFER_LIMIT and not self.reading_paused and self.transport is not None:
            self.reading_paused = True
            self.transport.pause_reading()  # type: ignore[attr-defined]
        self._wake_reader()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake_reader()
        # Plain TCP stays half-open, as anyio's protocol keeps it (a request already written is still sent);
        # asyncio ignores (and warns about) a true value under TLS, so say False there.
        return not self.tls

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.error = exc
        self._wake_reader()
        self._wake_writer()

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._wake_writer()

    # -- waiting, with one timer per wait -------------------------------------------------------
    def _wake_reader(self) -> None:
        waiter = self.read_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(True)

    def _wake_writer(self) -> None:
        waiter = self.drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(True)

    async def wait_readable(self, timeout: float | None) -> bool:
        """Wait for data, the end of stream or the end of the connection; False when ``timeout`` passed first."""
        return await self._wait("read_waiter", timeout)

    async def wait_drained(self, timeout: float | None) -> bool:
        """Wait until the transport takes more data (or the connection ends); False when ``timeout`` passed first."""
        return await self._wait("drain_waiter", timeout)

    async def _wait(self, slot: str, timeout: float | None) -> bool:
        waiter = self.loop.create_future()
        setattr(self, slot, waiter)
        timer = self.loop.call_later(timeout, _time_up, waiter) if timeout is not None else None
        try:
            return await waiter
        finally:
            setattr(self, slot, None)
            if timer is not None:
                timer.cancel()

    def take(self, max_bytes: int) -> bytes:
        buffer = self.buffer
        if len(buffer) <= max_bytes:
            data = bytes(buffer)
            buffer.clear()
        else:
            data = bytes(buffer[:max_bytes])
            del buffer[:max_bytes]
        if self.reading_paused and len(buffer) <= READ_BUFFER_LIMIT // 2 and not self.lost:
            self.reading_paused = False
            self.transport.resume_reading()  # type: ignore[union-attr]
        return data


def _time_up(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


class AsyncioStream:
    """One connection (plain or TLS) as httpcore's ``AsyncNetworkStream``."""

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol, raw: asyncio.Transport | None = None) -> None:
        self._transport = transport
        self._protocol = protocol
        self._raw = raw if raw is not None else transport  # the TCP (or Unix) transport under any TLS

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        p = self._protocol
        if not p.buffer and not (p.eof or p.lost):
            if not await p.wait_readable(timeout):
                raise _httpcore().ReadTimeout("timed out reading from the server")
        if p.buffer:
            return p.take(max_bytes)
        if p.closed_here:
            raise _httpcore().ReadError("the connection was closed")
        if p.error is not None:
            raise _httpcore().ReadError(_message(p.error, "the connection failed")) from p.error
        return b""  # the peer ended the stream

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        p = self._protocol
        if p.lost or p.closed_here or self._transport.is_closing():
            raise self._write_error()
        try:
            self._transport.write(buffer)
        except (OSError, RuntimeError) as exc:  # RuntimeError: asyncio refuses to write after write_eof
            raise _httpcore().WriteError(_message(exc, "could not send")) from exc
        if p.writing_paused:
            if not await p.wait_drained(timeout):
                raise _httpcore().WriteTimeout("timed out sending to the server")
            if p.lost:
                raise self._write_error()

    def _write_error(self) -> Exception:
        p = self._protocol
        if p.error is not None:
            return _httpcore().WriteError(_message(p.error, "the connection failed"))
        return _httpcore().WriteError("the connection is closed")

    async def aclose(self) -> None:
        p = self._protocol
        p.closed_here = True
        transport = self._transport
        if transport.is_closing():
            return
        if p.tls or transport.get_write_buffer_size():
            # TLS: no close_notify exchange to wait for (httpcore's default does not send one either);
            # unsent bytes: a dead peer would hold a graceful close open indefinitely.
            transport.abort()
        else:
            transport.close()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> AsyncioStream:
        httpcore = _httpcore()
        loop = self._protocol.loop
        try:
            async with _within(timeout):
                tls = await loop.start_tls(
                    self._transport, self._protocol, ssl_context, server_hostname=server_hostname,
                    # asyncio's own limit must not come first: ours raises ConnectTimeout, as httpcore's does
                    ssl_handshake_timeout=timeout + 1.0 if timeout is not None else NO_TIMEOUT_TLS,
                )
        except TimeoutError:
            await self.aclose()
            raise httpcore.ConnectTimeout("timed out in the TLS handshake") from None
        except OSError as exc:  # ssl.SSLError (a certificate that does not verify) is an OSError
            await self.aclose()
            raise httpcore.ConnectError(_message(exc, "the TLS handshake failed")) from exc
        except BaseException:
            await self.aclose()
            raise
        self._protocol.tls = True
        self._protocol.transport = tls  # pausing reads now pauses the TLS layer, which pauses the socket
        return AsyncioStream(tls, self._protocol, raw=self._raw)  # type: ignore[arg-type]

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return self._is_readable()
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._raw.get_extra_info("sockname")
        if info == "server_addr":
            return self._raw.get_extra_info("peername")
        if info == "socket":
            return self._raw.get_extra_info("socket")
        return None

    def idle_usable(self) -> bool:
        """True when a kept connection may carry the next request: nothing unasked arrived, no end seen, not closed.

        No system call: the loop has delivered what the peer sent (or its end) while the connection sat idle.
        """
        p = self._protocol
        return not (p.buffer or p.eof or p.lost or p.closed_here) and not self._transport.is_closing()

    def _is_readable(self) -> bool:
        """True when a read would not wait: data or the end is here, or the socket has bytes the loop has not read yet."""
        p = self._protocol
        if p.buffer or p.eof or p.lost or p.closed_here:
            return True
        sock = self._raw.get_extra_info("socket")
        fd = -1 if sock is None else sock.fileno()
        if fd < 0:
            return True  # as httpcore's own check: no socket reads as readable (the next read gives b"")
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))


class AsyncioBackend:
    """httpcore's ``AsyncNetworkBackend`` on asyncio transports (see the module's docstring)."""

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> AsyncioStream:
        loop = asyncio.get_running_loop()
        try:
            async with _within(timeout):
                transport, protocol = await loop.create_connection(
                    lambda: _Protocol(loop), host, port,
                    local_addr=(local_address, 0) if local_address else None,
                    happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY,
                )
        except TimeoutError:
            raise _httpcore().ConnectTimeout(f"timed out connecting to {host}:{port}") from None
        except OSError as exc:  # refused, unreachable, a name that does not resolve
            raise _httpcore().ConnectError(_message(exc, f"could not connect to {host}:{port}")) from exc
        stream = AsyncioStream(transport, protocol)
        sock = transport.get_extra_info("socket")
        try:
            # Requests are small and answered at once: never hold a segment back (asyncio sets this too).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for option in socket_options or ():
                sock.setsockopt(*option)
        except OSError as exc:
            await stream.aclose()
            raise _httpcore().ConnectError(_message(exc, "could not set a socket option")) from exc
        return stream

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> AsyncioStream:
        loop = asyncio.get_running_loop()
        try:
            async with _within(timeout):
                transport, protocol = await loop.create_unix_connection(lambda: _Protocol(loop), path)
        except TimeoutError:
            raise _httpcore().ConnectTimeout(f"timed out connecting to {path}") from None
        except OSError as exc:
            raise _httpcore().ConnectError(_message(exc, f"could not connect to {path}")) from exc
        stream = AsyncioStream(transport, protocol)
        try:
            for option in socket_options or ():
                transport.get_extra_info("socket").setsockopt(*option)
        except OSError as exc:
            await stream.aclose()
            raise _httpcore().ConnectError(_message(exc, "could not set a socket option")) from exc
        return stream

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

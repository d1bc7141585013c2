"""clue's asyncio network layer under httpx (clue.models.netio): in use on 3.11+, the same errors as httpcore's
default, dropped and closed connections retried, TLS verified, proxies still tunnelled. Loopback only."""

from __future__ import annotations

import asyncio
import inspect
import socket
import ssl
import sys
import time

import pytest

from tests.helpers.serving import need_serving_packages

need_serving_packages()

import httpcore  # noqa: E402
import httpx  # noqa: E402

from clue.core.records import Decoding, Message, Request  # noqa: E402
from clue.models import load_backend, netio  # noqa: E402
from clue.models.openai import OpenAIBackend  # noqa: E402
from clue.models.openai.network import AsyncPinnedNetwork  # noqa: E402
from tests.serving.netservers import RawServer, Relay, answer, read_request, self_signed, serve_until_closed, server_tls  # noqa: E402

needs_311 = pytest.mark.skipif(sys.version_info < (3, 11), reason="clue's network layer is used on Python 3.11+")
FAST = {"backoff_base": 0.01, "backoff_max": 0.05}


@pytest.fixture
def raw_server():
    started: list[RawServer] = []

    def start(handle, tls=None) -> RawServer:
        server = RawServer(handle, tls)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def requests_for(n: int) -> list[Request]:
    return [Request(id=f"r{i}", messages=[Message("user", f"question item-{i} ?")], decoding=Decoding(max_new_tokens=4))
            for i in range(n)]


def backend_for(url: str, **options) -> OpenAIBackend:
    backend = load_backend("openai:fake-model", {"base_url": url, "context_length": 4096, **options})
    assert isinstance(backend, OpenAIBackend)
    # these servers count connections: the model-list question (which server it is) is not what they test
    backend._server_kind = (None, "not asked in the transport tests")
    return backend


def client(**settings) -> httpx.AsyncClient:
    """An httpx client on clue's layer, as the backend builds its workers' clients."""
    transport = httpx.AsyncHTTPTransport(**settings)
    transport._pool._network_backend = netio.AsyncioBackend()
    return httpx.AsyncClient(transport=transport, trust_env=False)


@pytest.fixture
def reads(monkeypatch) -> list[int]:
    """Counts the reads that went through clue's layer."""
    seen: list[int] = []
    real = netio.AsyncioStream.read

    async def counted(self, max_bytes, timeout=None):
        seen.append(max_bytes)
        return await real(self, max_bytes, timeout)

    monkeypatch.setattr(netio.AsyncioStream, "read", counted)
    return seen


# -- which layer -----------------------------------------------------------------------------------
@needs_311
def test_the_workers_send_through_clues_layer_and_the_manifest_says_so(serve, reads):
    server = serve()
    backend = backend_for(server.url, concurrency=4)
    completions = list(backend.generate(requests_for(12)))
    assert all(c.ok for c in completions)
    assert len(reads) >= 12  # every answer was read through netio
    # direct servers: clue's HTTP/1.1 client on netio; the transports below serve proxied servers
    assert backend.info()["client"] == f"clue.models.http1 (HTTP/1.1 on {netio.NAME})"
    async_transport = backend._transport(backend.settings.base_urls[0], verify=backend._tls())
    assert isinstance(async_transport._pool._network_backend, netio.AsyncioBackend)
    sync_transport = backend._transport(backend.settings.base_urls[0], sync=True, verify=backend._tls())
    assert not isinstance(sync_transport._pool._network_backend, netio.AsyncioBackend)  # the model listing's default


def test_before_python_3_11_httpcores_default_is_kept(serve, monkeypatch):
    with monkeypatch.context() as patched:
        patched.setattr(sys, "version_info", (3, 10, 14))
        assert netio.network_backend() is None
    assert isinstance(netio.network_backend(), netio.AsyncioBackend) or sys.version_info < (3, 11)
    monkeypatch.setattr(netio, "network_backend", lambda: None)  # what the decisions give on 3.10
    monkeypatch.setattr(netio, "available", lambda: False)  # (clue's HTTP/1.1 client needs netio: httpx sends)
    server = serve()
    backend = backend_for(server.url, concurrency=2)
    transport = backend._transport(backend.settings.base_urls[0], verify=backend._tls())
    assert not isinstance(transport._pool._network_backend, netio.AsyncioBackend)
    assert all(c.ok for c in backend.generate(requests_for(3)))
    assert backend.info()["client"].endswith(f"network: {netio.DEFAULT_NAME}")


@needs_311
def test_pinning_wraps_clues_layer_and_still_refuses_what_was_not_checked():
    backend = backend_for("http://model.invalid:8000/v1")
    backend.pin({"model.invalid": ("127.0.0.1",)})
    network = backend._transport(backend.settings.base_urls[0])._pool._network_backend
    assert isinstance(network, AsyncPinnedNetwork) and isinstance(network.inner, netio.AsyncioBackend)

    async def attempts() -> None:
        with pytest.raises(httpcore.ConnectError, match="was not checked"):
            await network.connect_tcp("other.invalid", 80)
        with pytest.raises(httpcore.ConnectError, match="no Unix sockets"):
            await network.connect_unix_socket("/tmp/x.sock")

    asyncio.run(attempts())


def test_the_layer_has_httpcores_network_interface():
    for ours, theirs in ((netio.AsyncioBackend, httpcore.AsyncNetworkBackend), (netio.AsyncioStream, httpcore.AsyncNetworkStream)):
        for name, method in vars(theirs).items():
            if name.startswith("_") or not callable(method):
                continue
            mine = getattr(ours, name)
            assert inspect.iscoroutinefunction(mine) == inspect.iscoroutinefunction(method), name
            assert list(inspect.signature(mine).parameters) == list(inspect.signature(method).parameters), name


# -- errors, mapped as httpcore's anyio backend maps them -------------------------------------------
@needs_311
def test_a_read_at_the_end_returns_empty_bytes_and_a_silent_server_is_a_read_timeout(raw_server):
    def hello_then_close(conn, index):
        if index == 0:
            conn.sendall(b"hi")
        else:
            time.sleep(1)  # says nothing

    server = raw_server(hello_then_close)

    async def talk() -> None:
        backend = netio.AsyncioBackend()
        stream = await backend.connect_tcp("127.0.0.1", server.port, timeout=5)
        assert stream.get_extra_info("server_addr") == ("127.0.0.1", server.port)
        assert stream.get_extra_info("client_addr")[0] == "127.0.0.1"
        assert stream.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert stream.get_extra_info("ssl_object") is None
        assert await stream.read(1024, timeout=5) == b"hi"
        assert await stream.read(1024, timeout=5) == b""
        await stream.aclose()
        with pytest.raises(httpcore.ReadError):
            await stream.read(1024)
        with pytest.raises(httpcore.WriteError):
            await stream.write(b"more")

        keepalive = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
        silent = await backend.connect_tcp("127.0.0.1", server.port, timeout=5, local_address="127.0.0.1",
                                           socket_options=keepalive)
        assert silent.get_extra_info("socket").getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
        started = time.monotonic()
        with pytest.raises(httpcore.ReadTimeout):
            await silent.read(1024, timeout=0.2)
        assert time.monotonic() - started < 1.5
        # A server that never answers the TLS handshake: a connect timeout, and the stream is closed.
        with pytest.raises(httpcore.ConnectTimeout):
            await silent.start_tls(ssl.create_default_context(), server_hostname="localhost", timeout=0.2)
        assert silent.get_extra_info("is_readable") is True  # closed: httpcore would not reuse it
        with pytest.raises(httpcore.WriteError):
            await silent.write(b"GET / HTTP/1.1\r\n\r\n")

    asyncio.run(talk())


def test_connecting_to_nothing_is_a_connect_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: refused

        async def connect() -> None:
            with pytest.raises(httpcore.ConnectError):
                await netio.AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)

        asyncio.run(connect())


@pytest.fixture
def slow_first_connect(monkeypatch) -> list[tuple]:
    """The first TCP connect of the test hangs (as to a host that drops SYNs); the others go through."""
    calls: list[tuple] = []
    real = asyncio.BaseEventLoop.create_connection

    async def slow_first(self, *args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            await asyncio.sleep(30)
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(asyncio.BaseEventLoop, "create_connection", slow_first)
    return calls


@needs_311
def test_a_connect_that_hangs_is_a_connect_timeout_and_the_backend_retries_it(serve, slow_first_connect):
    server = serve()

    async def one() -> None:
        async with client() as c:
            with pytest.raises(httpx.ConnectTimeout):
                await c.get(server.url + "/models", timeout=0.2)
            assert (await c.get(server.url + "/models", timeout=5)).status_code == 200

    asyncio.run(one())
    slow_first_connect.clear()
    backend = backend_for(server.url, concurrency=1, timeout=0.3, **FAST)
    [completion] = backend.generate(requests_for(1))
    assert completion.ok and completion.meta["attempts"] == 2


@needs_311
def test_a_server_that_does_not_answer_in_time_is_a_read_timeout_retried(serve, reads):
    server = serve(faults={"item-0 ": ["hang"]}, hang_s=2.0)

    async def one() -> None:
        async with client() as c:
            with pytest.raises(httpx.ReadTimeout):
                await c.post(server.url + "/chat/completions", timeout=0.2,
                             json={"messages": [{"role": "user", "content": "question item-0 ?"}]})

    asyncio.run(one())
    backend = backend_for(server.url, concurrency=1, timeout=0.3, **FAST)
    [completion] = backend.generate(requests_for(1))  # another body (max_tokens): the server's plan starts again
    assert completion.ok and completion.meta["attempts"] == 2
    assert [h.outcome for h in server.log] == ["hang", "hang", "ok"]
    assert reads


@needs_311
def test_a_stalled_write_is_a_write_timeout_and_close_does_not_wait_for_the_dead_peer(raw_server):
    def never_reads(conn, index):
        time.sleep(1)

    server = raw_server(never_reads)

    async def flood() -> None:
        stream = await netio.AsyncioBackend().connect_tcp("127.0.0.1", server.port, timeout=5)
        sock = stream.get_extra_info("socket")
        with pytest.raises(httpcore.WriteTimeout):
            for _ in range(2000):  # far more than both sockets' buffers hold
                await stream.write(b"x" * 65536, timeout=0.2)
        started = time.monotonic()
        await stream.aclose()
        await asyncio.sleep(0.05)  # the loop closes the socket on its next turn
        assert time.monotonic() - started < 1.0
        assert sock.fileno() == -1  # really closed, unsent data and all

    asyncio.run(flood())


# -- dropped and closed connections ------------------------------------------------------------------
@needs_311
def test_a_connection_dropped_mid_answer_is_retried_and_succeeds(raw_server):
    def cut_first_answer(conn, index):
        if index == 0:
            read_request(conn)
            whole = answer()
            conn.sendall(whole[: len(whole) - 20])  # headers and part of the body, then gone
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # a reset
            return
        serve_until_closed(conn)

    server = raw_server(cut_first_answer)
    backend = backend_for(server.url(), concurrency=1, **FAST)
    completions = list(backend.generate(requests_for(3)))
    assert all(c.ok for c in completions), [c.error for c in completions]
    assert [c.meta["attempts"] for c in completions] == [2, 1, 1]
    assert server.connections == 2


async def block(seconds: float) -> None:
    time.sleep(seconds)  # holds the event loop: nothing it would read arrives meanwhile


@needs_311
def test_a_kept_alive_connection_the_server_closed_is_not_reused(raw_server):
    def one_answer_per_connection(conn, index):
        read_request(conn)
        conn.sendall(answer())  # says keep-alive, then closes anyway
        conn.shutdown(socket.SHUT_RDWR)

    server = raw_server(one_answer_per_connection)

    async def twice(wait) -> None:
        async with client() as c:
            for _ in range(2):
                response = await c.post(server.url() + "/chat/completions", content=b"{}")
                assert response.status_code == 200
                await wait(0.2)  # the server's close arrives meanwhile

    asyncio.run(twice(asyncio.sleep))  # the loop has seen the end of stream
    asyncio.run(twice(block))  # the loop has not (it was blocked): the socket knows
    assert server.connections == 4

    backend = backend_for(server.url(), concurrency=1, **FAST)
    completions = list(backend.generate(requests_for(4)))
    assert all(c.ok for c in completions), [c.error for c in completions]


@needs_311
def test_is_readable_sees_a_close_the_loop_has_not_processed(raw_server):
    closer = raw_server(lambda conn, index: conn.shutdown(socket.SHUT_RDWR))
    quiet = raw_server(lambda conn, index: time.sleep(1))
    chatty = raw_server(lambda conn, index: (conn.sendall(b"unasked"), time.sleep(1)))

    async def check() -> None:
        idle = await netio.AsyncioBackend().connect_tcp("127.0.0.1", quiet.port, timeout=5)
        await asyncio.sleep(0.1)
        assert idle.get_extra_info("is_readable") is False  # open, nothing sent: reusable
        await idle.aclose()

        # Bytes no request asked for, already taken off the socket by the loop: not a connection to reuse.
        unasked = await netio.AsyncioBackend().connect_tcp("127.0.0.1", chatty.port, timeout=5)
        await asyncio.sleep(0.2)
        assert unasked._protocol.buffer == b"unasked"
        assert unasked.get_extra_info("is_readable") is True
        await unasked.aclose()

        stream = await netio.AsyncioBackend().connect_tcp("127.0.0.1", closer.port, timeout=5)
        await block(0.3)  # the server's close arrives while the loop cannot read it
        assert not stream._protocol.eof
        assert stream.get_extra_info("is_readable") is True
        await asyncio.sleep(0.1)
        assert stream._protocol.eof and stream.get_extra_info("is_readable") is True
        assert await stream.read(100) == b""
        await stream.aclose()

    asyncio.run(check())


# -- TLS and proxies ---------------------------------------------------------------------------------
@needs_311
def test_tls_verifies_with_the_given_ca_and_fails_without_it(raw_server, tmp_path, monkeypatch):
    cert, key = self_signed(tmp_path)
    server = raw_server(serve_until_closed, tls=server_tls(cert, key))

    async def get(verify) -> httpx.Response:
        async with client(verify=verify) as c:
            response = await c.post(server.url("https") + "/chat/completions", content=b"{}")
            ssl_object = response.extensions["network_stream"].get_extra_info("ssl_object")
            assert isinstance(ssl_object, ssl.SSLObject) and ssl_object.version()
            return response

    assert asyncio.run(get(ssl.create_default_context(cafile=str(cert)))).status_code == 200
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        asyncio.run(get(ssl.create_default_context()))

    # The backend: the CA given through SSL_CERT_FILE (read with use_env_proxy=true), or none.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    trusted = backend_for(server.url("https"), concurrency=2, use_env_proxy=True, **FAST)
    trusted.pin({"127.0.0.1": ("127.0.0.1",)})  # as after the egress guard: pinned, then clue's layer, then TLS
    assert all(c.ok for c in trusted.generate(requests_for(3)))
    monkeypatch.delenv("SSL_CERT_FILE")
    untrusted = backend_for(server.url("https"), concurrency=1, max_retries=1, **FAST)
    [failed] = untrusted.generate(requests_for(1))
    assert not failed.ok and "CERTIFICATE_VERIFY_FAILED" in failed.error and "gave up after 2 attempts" in failed.error


@needs_311
@pytest.mark.parametrize("scheme", ["http", "socks5"])
def test_https_through_a_tunnelling_proxy_goes_through_clues_layer(raw_server, tmp_path, monkeypatch, scheme, reads):
    if scheme == "socks5":
        pytest.importorskip("socksio", reason="a SOCKS proxy needs socksio (pip install 'clue-eval[openai]')")
    cert, key = self_signed(tmp_path)
    server = raw_server(serve_until_closed, tls=server_tls(cert, key))
    relay = Relay()
    try:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        backend = backend_for(server.url("https"), concurrency=2, use_env_proxy=True,
                              proxy=f"{scheme}://127.0.0.1:{relay.port}", **FAST)
        completions = list(backend.generate(requests_for(4)))
    finally:
        relay.close()
    assert all(c.ok for c in completions), [c.error for c in completions]
    assert relay.tunnels and {t[0] for t in relay.tunnels} == {"connect" if scheme == "http" else "socks5"}
    assert all(t[1:] == ("127.0.0.1", server.port) for t in relay.tunnels)
    assert reads  # the TLS stream inside the tunnel was read through netio


@needs_311
def test_unix_sockets_connect_when_not_pinned(tmp_path):
    path = str(tmp_path / "s.sock")

    async def run() -> None:
        async def handle(reader, writer):
            writer.write(await reader.read(100))
            await writer.drain()
            writer.close()

        server = await asyncio.start_unix_server(handle, path)
        async with server:
            stream = await netio.AsyncioBackend().connect_unix_socket(path, timeout=5)
            await stream.write(b"ping")
            assert await stream.read(100, timeout=5) == b"ping"
            assert await stream.read(100, timeout=5) == b""
            await stream.aclose()
        with pytest.raises(httpcore.ConnectError):
            await netio.AsyncioBackend().connect_unix_socket(str(tmp_path / "absent.sock"), timeout=5)

    if not hasattr(socket, "AF_UNIX"):
        pytest.skip("no Unix sockets here")
    asyncio.run(run())

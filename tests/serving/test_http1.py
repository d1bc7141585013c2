"""clue's HTTP/1.1 client (clue.models.http1): framing, keep-alive, errors as httpcore's, never a request sent twice,
pinned connections. Scripted servers on 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import sys
import zlib

import pytest

from tests.helpers.serving import need_serving_packages

need_serving_packages()

import httpcore  # noqa: E402

from clue.core.errors import UsageError  # noqa: E402
from clue.core.records import Decoding, Message, Request  # noqa: E402
from clue.models import http1, load_backend, netio  # noqa: E402
from clue.models.openai import OpenAIBackend  # noqa: E402
from clue.models.openai.network import direct_network  # noqa: E402
from tests.serving.netservers import RawServer, answer, read_request, serve_until_closed  # noqa: E402

pytestmark = pytest.mark.skipif(sys.version_info < (3, 11), reason="clue's HTTP/1.1 client runs on Python 3.11+")
BODY = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": "entailment"}}]}).encode()


@pytest.fixture
def raw_server():
    started: list[RawServer] = []

    def start(handle) -> RawServer:
        server = RawServer(handle)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def post(url: str, body: bytes = b"{}", times: int = 1, **settings) -> tuple[list[http1.Answer], http1.Http1Client]:
    async def go():
        client = http1.Http1Client(netio.AsyncioBackend(), timeout=settings.pop("timeout", 5), **settings)
        async with client:
            return [await client.post(url, body) for _ in range(times)], client

    return asyncio.run(go())


def replying(*raw: bytes, keep_reading: bool = False):
    """A connection handler that answers its requests with ``raw`` in turn (then, optionally, keeps reading)."""
    seen: list[bytes] = []

    def handle(conn: socket.socket, index: int) -> None:
        for reply in raw:
            request = read_request(conn)
            if not request:
                return
            seen.append(request)
            conn.sendall(reply)
        if keep_reading:
            while read_request(conn):
                pass

    handle.seen = seen  # type: ignore[attr-defined]
    return handle


# -- framing ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reply", [
    b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY,
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    + b"5;ext=1\r\n" + BODY[:5] + b"\r\n" + b"%x\r\n" % (len(BODY) - 5) + BODY[5:] + b"\r\n0\r\nX-Trailer: t\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY,
    b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(gzip.compress(BODY))
    + gzip.compress(BODY),
    b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: %d\r\n\r\n" % len(zlib.compress(BODY))
    + zlib.compress(BODY),
], ids=["content-length", "chunked", "interim-100", "gzip", "deflate"])
def test_each_framing_gives_the_same_body_on_a_kept_connection(raw_server, reply):
    server = raw_server(replying(reply, reply, keep_reading=True))
    answers, client = post(server.url() + "/chat/completions", times=2)
    assert [a.status for a in answers] == [200, 200]
    assert all(a.content == BODY for a in answers)
    assert client.connections_opened == 1 and server.connections == 1


def test_an_answer_ended_by_closing_and_an_http10_answer_are_not_kept(raw_server):
    for reply in (b"HTTP/1.1 200 OK\r\n\r\n" + BODY, b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY):
        def once_then_close(conn, index, reply=reply):
            if read_request(conn):
                conn.sendall(reply)
        server = raw_server(once_then_close)
        answers, client = post(server.url() + "/chat/completions", times=2)
        assert all(a.content == BODY for a in answers)
        assert client.connections_opened == 2 and server.connections == 2


def test_the_request_on_the_wire(raw_server):
    handle = replying(answer(), keep_reading=True)
    server = raw_server(handle)
    post(server.url() + "/chat/completions?api-version=1", b'{"x": 1}', headers={"Authorization": "Bearer k"},
         user_agent="clue-eval")
    head, _, body = handle.seen[0].partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /v1/chat/completions?api-version=1 HTTP/1.1"
    fields = dict(line.split(": ", 1) for line in lines[1:])
    assert fields["Host"] == f"127.0.0.1:{server.port}"
    assert fields["Content-Length"] == "8" and body == b'{"x": 1}'
    assert fields["Authorization"] == "Bearer k" and fields["User-Agent"] == "clue-eval"


def test_headers_that_would_split_the_request_are_refused():
    for headers in ({"Authorization": "Bearer k\r\nX-Evil: 1"}, {"Bad Name": "v"}, {"Content-Length": "3"}):
        with pytest.raises(ValueError):
            http1.Http1Client(netio.AsyncioBackend(), headers=headers)


def test_an_api_key_with_a_line_break_is_a_usage_error(monkeypatch):
    monkeypatch.setenv("CLUE_TEST_KEY", "abc\r\nX-Evil: 1")
    with pytest.raises(UsageError, match="CLUE_TEST_KEY"):
        load_backend("openai:m", {"base_url": "http://model.invalid:8000/v1", "api_key_env": "CLUE_TEST_KEY"})


# -- connections that end, and answers that are not HTTP -------------------------------------------------
def test_a_kept_connection_the_server_closed_while_idle_is_replaced_without_an_error(raw_server):
    def one_per_connection_then_close_later(conn, index):
        if read_request(conn):
            conn.sendall(answer())
        conn.shutdown(socket.SHUT_WR)  # keep-alive said, then closed while the client is idle

    server = raw_server(one_per_connection_then_close_later)

    async def go():
        async with http1.Http1Client(netio.AsyncioBackend(), timeout=5) as client:
            first = await client.post(server.url() + "/chat/completions", b"{}")
            await asyncio.sleep(0.2)  # the server's end arrives while the connection is kept
            second = await client.post(server.url() + "/chat/completions", b"{}")
            return first, second, client.connections_opened

    first, second, opened = asyncio.run(go())
    assert first.status == second.status == 200 and opened == 2


def test_a_dropped_request_fails_once_and_is_never_sent_again(raw_server):
    requests: list[int] = []

    def answer_then_drop(conn, index):
        while True:
            request = read_request(conn)
            if not request:
                return
            requests.append(index)
            if len(requests) == 1:
                conn.sendall(answer())
            else:
                return  # read the second request, then close without answering

    server = raw_server(answer_then_drop)
    with pytest.raises(httpcore.RemoteProtocolError, match="without sending a response"):
        post(server.url() + "/chat/completions", times=2)
    assert requests == [0, 0]  # the second request reached the server once; the client did not resend it


@pytest.mark.parametrize("reply,message", [
    (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP/1.x status line"),
    (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed header"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", "malformed Content-Length"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", "closed the connection 95 bytes before"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed chunk size"),
    (b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 2\r\n\r\nxx", "br-encoded"),
    (b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * (http1.MAX_HEAD + 10), "longer than"),
])
def test_a_malformed_answer_is_a_protocol_error(raw_server, reply, message):
    def reply_then_close(conn, index):
        if read_request(conn):
            conn.sendall(reply)

    server = raw_server(reply_then_close)
    with pytest.raises(httpcore.RemoteProtocolError, match=message):
        post(server.url() + "/chat/completions")


def test_a_silent_server_is_a_read_timeout_and_nothing_listening_a_connect_error(raw_server):
    def silent(conn, index):
        read_request(conn)
        conn.recv(1)  # until the client gives up

    server = raw_server(silent)
    with pytest.raises(httpcore.ReadTimeout):
        post(server.url() + "/chat/completions", timeout=0.3)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    with pytest.raises(httpcore.ConnectError, match="refused|Connect call failed"):
        post(f"http://127.0.0.1:{free}/v1/chat/completions")


# -- the backend: direct servers through it, held to the pins ------------------------------------------
def test_the_backend_sends_direct_requests_through_it_held_to_the_checked_address(raw_server, monkeypatch):
    hosts: list[str] = []

    def serve(conn, index):
        while True:
            request = read_request(conn)
            if not request:
                return
            hosts.extend(line.split(": ", 1)[1] for line in request.decode().split("\r\n") if line.startswith("Host: "))
            conn.sendall(answer())

    server = raw_server(serve)
    # model.invalid resolves nowhere: only the pin can take the connection to 127.0.0.1
    backend = load_backend("openai:m", {"base_url": f"http://model.invalid:{server.port}/v1", "concurrency": 2,
                                         "context_length": 4096})
    assert isinstance(backend, OpenAIBackend)
    backend._server_kind = (None, "not asked here")
    backend.pin({"model.invalid": ("127.0.0.1",)})
    requests = [Request(id=f"r{i}", messages=[Message("user", f"item-{i}")], decoding=Decoding(max_new_tokens=4))
                for i in range(6)]
    completions = list(backend.generate(requests))
    assert all(c.ok and c.text == "entailment" for c in completions), [c.error for c in completions]
    assert set(hosts) == {f"model.invalid:{server.port}"} and len(hosts) == 6
    assert server.connections <= 2  # kept alive: one connection per worker
    assert backend.info()["client"].startswith("clue.models.http1 ")


def test_the_pinned_layer_refuses_a_host_that_was_not_checked():
    network = direct_network({("model.invalid", 80): ("127.0.0.1",)})

    async def go():
        async with http1.Http1Client(network, timeout=2) as client:
            await client.get("http://other.invalid/v1/models")

    with pytest.raises(httpcore.ConnectError, match="not checked"):
        asyncio.run(go())


def test_served_through_the_fake_server_with_every_request_answered(serve):
    server = serve()
    backend = load_backend("openai:fake-model", {"base_url": server.url, "concurrency": 3, "context_length": 4096})
    requests = [Request(id=f"r{i}", messages=[Message("user", f"question item-{i} ?")],
                        decoding=Decoding(max_new_tokens=4)) for i in range(20)]
    got = {c.request_id: c for c in backend.generate(requests)}
    assert sorted(got) == sorted(r.id for r in requests) and all(c.ok for c in got.values())


def test_serve_until_closed_helper_keeps_one_connection(raw_server):
    server = raw_server(serve_until_closed)
    answers, client = post(server.url() + "/chat/completions", times=5)
    assert len(answers) == 5 and client.connections_opened == 1

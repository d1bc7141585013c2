"""A small OpenAI-compatible server for tests and benchmarks, with injectable faults.

It answers ``POST /v1/chat/completions``, ``POST /v1/completions`` and
``GET /v1/models`` on 127.0.0.1 (an ephemeral port by default). Answers are
deterministic, derived from the prompt: the first word is ``ref-<key>``, where
``key`` identifies the prompt, so a test can map any stored answer back to the
server's log. Latency knobs imitate a real engine: a first-token delay plus a
per-token delay for each generated word.

Faults are planned per prompt: ``faults`` maps a marker (a substring of the
last message) to the outcome of each successive attempt at that prompt, e.g.
``{"item-3": ["429:0.2", "500", "ok"]}``. Outcomes:

    ok          a normal answer
    429:S       429 Too Many Requests with ``Retry-After: S``
    500         500 Internal Server Error
    400         400 Bad Request (final: not worth retrying)
    hang        wait ``hang_s`` seconds (past the client's timeout), then answer
    drop        close the connection without a response
    badjson     200 with a body that is not valid JSON
    null        200 whose message has ``"content": null`` (``"text": null``)
    nochoices   200 with ``"choices": []``
    think       200 whose text starts with a closed ``<think>...</think>`` block
    unclosed    200 whose text is an unclosed ``<think>`` block (finish_reason "length")
    reasoning   200 with ``reasoning_content`` beside the answer, and reasoning tokens in usage
    thinkcut    200 with ``reasoning_content``, ``"content": null`` and finish_reason "length"

``error_text``, when set, is the message of every 400 and 500 answer. ``repeat_penalty``, when set,
imitates a server-side sampler default: an answer to a request that does not send ``repeat_penalty: 1.0``
starts with ``penalised-<value>``; ``owned_by`` is what the model list says owns the model.

Attempts beyond the plan are answered normally. The server is bounded: it
answers 503 after ``max_requests`` requests and stops itself after
``max_seconds``.

Run as a script for benchmarks (a separate process keeps the server's CPU off
the client's): ``python tests/helpers/fakeserver.py --first-token 0.1
--per-token 0.005 --tokens 64``; it prints ``PORT <n>`` and serves until its
standard input closes or its time is up.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Hit:
    """One request the server received, and what it did with it."""

    key: str
    attempt: int  # 1 for the first request carrying this prompt
    outcome: str
    endpoint: str
    at: float  # time.monotonic() when it arrived
    body: dict[str, Any] = field(compare=False, repr=False)


@dataclass
class FakeServer:
    first_token_s: float = 0.0
    per_token_s: float = 0.0
    tokens: int = 8  # words per answer, capped by the request's max_tokens
    faults: dict[str, list[str]] = field(default_factory=dict)
    hang_s: float = 5.0
    max_requests: int = 20_000
    max_seconds: float = 120.0
    model: str = "fake-model"
    max_model_len: int | None = 4096
    api_key: str | None = None  # when set, requests must carry "Bearer <api_key>"
    error_text: str | None = None  # the message of 400 and 500 answers
    keep_log: bool = True
    owned_by: str = "clue-tests"  # the model list's owned_by (llama.cpp's server writes "llamacpp")
    # a server-side repeat penalty applied to every request that does not send repeat_penalty=1.0 (as
    # llama.cpp's and Ollama's servers default to 1.1): the answer then differs from the greedy one
    repeat_penalty: float | None = None

    def __post_init__(self) -> None:
        self.log: list[Hit] = []
        self.requests = 0
        self.auth_headers: set[str] = set()
        self._attempts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.port = 0

    # -- life cycle -----------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, port: int = 0) -> FakeServer:
        self._thread = threading.Thread(target=self._serve_thread, args=(port,), daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake server did not start")
        return self

    def stop(self) -> None:
        if self._loop and self._stop and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:
                pass  # it stopped itself (time or request budget spent) in between
        if self._thread:
            self._thread.join(10)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve_thread(self, port: int) -> None:
        asyncio.run(self.serve(port))

    async def serve(self, port: int = 0, on_ready=None) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/completions", self._text)
        app.router.add_get("/v1/models", self._models)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port, backlog=1024)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        if on_ready:
            on_ready(self.port)
        try:
            await asyncio.wait_for(self._stop.wait(), self.max_seconds)
        except asyncio.TimeoutError:
            pass  # time is up: the server stops itself
        finally:
            await runner.cleanup()

    # -- bookkeeping ----------------------------------------------------------------
    def successes(self) -> Counter[str]:
        """Answers delivered per prompt key."""
        return Counter(h.key for h in self.log if h.outcome == "ok")

    def attempts(self) -> Counter[str]:
        return Counter(h.key for h in self.log)

    def _plan(self, last_message: str, key: str) -> tuple[int, str]:
        with self._lock:
            self._attempts[key] += 1
            attempt = self._attempts[key]
        for marker, outcomes in self.faults.items():
            if marker in last_message and attempt <= len(outcomes):
                return attempt, outcomes[attempt - 1]
        return attempt, "ok"

    # -- handlers -------------------------------------------------------------------
    async def _models(self, request: web.Request) -> web.Response:
        entry: dict[str, Any] = {"id": self.model, "object": "model", "owned_by": self.owned_by, "root": f"/models/{self.model}"}
        if self.max_model_len is not None:
            entry["max_model_len"] = self.max_model_len
        return web.json_response({"object": "list", "data": [entry]})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await self._answer(request, "chat")

    async def _text(self, request: web.Request) -> web.StreamResponse:
        return await self._answer(request, "completions")

    async def _answer(self, request: web.Request, endpoint: str) -> web.StreamResponse:
        self.requests += 1
        if self.requests > self.max_requests:
            if self._stop:
                self._stop.set()
            return web.json_response({"error": {"message": "request budget of the test server spent"}}, status=503)
        self.auth_headers.add(request.headers.get("Authorization", ""))
        if self.api_key is not None and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response({"error": {"message": "bad key"}}, status=401)
        body = await request.json()
        if endpoint == "chat":
            prompt = "\n".join(f"{m['role']}: {m['content']}" for m in body["messages"])
            last = body["messages"][-1]["content"]
        else:
            prompt = last = body["prompt"]
        key = prompt_key(prompt, body.get("max_tokens"))
        attempt, outcome = self._plan(last, key)
        if self.keep_log:
            self.log.append(Hit(key, attempt, outcome.split(":")[0], endpoint, time.monotonic(), body))

        if outcome.startswith("429"):
            wait = outcome.partition(":")[2] or "1"
            return web.json_response({"error": {"message": "slow down"}}, status=429, headers={"Retry-After": wait})
        if outcome == "500":
            return web.json_response({"error": {"message": self.error_text or "engine fell over"}}, status=500)
        if outcome == "400":
            return web.json_response({"error": {"message": self.error_text or "prompt is longer than the context"}}, status=400)
        if outcome == "drop":
            assert request.transport is not None
            request.transport.abort()
            return web.Response()
        if outcome == "hang":
            try:  # past the client's timeout, but a stopping server does not wait for it
                assert self._stop is not None
                await asyncio.wait_for(self._stop.wait(), self.hang_s)
                return web.Response(status=503)
            except asyncio.TimeoutError:
                pass

        n = max(1, min(self.tokens, int(body.get("max_tokens") or self.tokens)))
        delay = self.first_token_s + self.per_token_s * n
        if delay:
            await asyncio.sleep(delay)
        text = answer_text(key, last, n)
        penalty = body.get("repeat_penalty", self.repeat_penalty)
        if self.repeat_penalty is not None and penalty != 1.0:
            text = f"penalised-{penalty} {text}"
        if outcome == "badjson":
            return web.Response(text='{"choices": [{"message": ', content_type="application/json")
        choice: dict[str, Any] = {"index": 0, "finish_reason": "length" if n < self.tokens else "stop"}
        content: str | None = text
        reasoning: str | None = None
        if outcome == "think":
            content = f"<think>pondering {key}</think> {text}"
        elif outcome == "unclosed":
            content, choice["finish_reason"] = f"<think>pondering {key} and more", "length"
        elif outcome in ("reasoning", "thinkcut"):
            reasoning = f"pondering {key}"
            if outcome == "thinkcut":
                content, choice["finish_reason"] = None, "length"
        elif outcome == "null":
            content = None
        if endpoint == "chat":
            choice["message"] = {"role": "assistant", "content": content}
            if reasoning is not None:
                choice["message"]["reasoning_content"] = reasoning
        else:
            choice["text"] = content
        usage: dict[str, Any] = {"prompt_tokens": len(prompt.split()), "completion_tokens": n, "total_tokens": len(prompt.split()) + n}
        if reasoning is not None:
            usage["completion_tokens_details"] = {"reasoning_tokens": 2}
        return web.json_response(
            {
                "id": f"cmpl-{key}-{attempt}",
                "object": "chat.completion" if endpoint == "chat" else "text_completion",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [] if outcome == "nochoices" else [choice],
                "usage": usage,
            }
        )


def prompt_key(prompt: str, max_tokens: Any) -> str:
    return hashlib.sha256(json.dumps([prompt, max_tokens]).encode()).hexdigest()[:12]


def answer_text(key: str, last_message: str, n: int) -> str:
    words = last_message.split() or ["answer"]
    return " ".join([f"ref-{key}", *(words[i % len(words)] for i in range(n - 1))])


def key_of_answer(text: str) -> str:
    """The prompt key a fake-server answer carries."""
    first = text.split()[0]
    assert first.startswith("ref-"), text
    return first[4:]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--first-token", type=float, default=0.0)
    parser.add_argument("--per-token", type=float, default=0.0)
    parser.add_argument("--tokens", type=int, default=8)
    parser.add_argument("--max-requests", type=int, default=1_000_000)
    parser.add_argument("--max-seconds", type=float, default=900.0)
    args = parser.parse_args(argv)
    server = FakeServer(
        first_token_s=args.first_token, per_token_s=args.per_token, tokens=args.tokens,
        max_requests=args.max_requests, max_seconds=args.max_seconds, keep_log=False,
    )

    def stop_when_stdin_closes() -> None:
        sys.stdin.read()  # returns at EOF: the parent closed the pipe or died
        server.stop()

    threading.Thread(target=stop_when_stdin_closes, daemon=True).start()
    asyncio.run(server.serve(args.port, on_ready=lambda p: print(f"PORT {p}", flush=True)))


if __name__ == "__main__":
    main()

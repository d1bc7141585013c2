"""``OpenAIBackend``: requests to an OpenAI-compatible server, through a fixed pool of async workers.

At most ``concurrency`` requests are in flight, spread over the replicas (each
request to the one with the fewest in flight, a retry to another); answers come
back through the sync-over-async bridge as they finish. docs/serving.md has
the whole story: options, replicas, retries, the API key, proxies and pinning.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clue.core.chat import ChatLayout, apply_layout, hf_renderer, probe_layout
from clue.core.errors import ClueError, UsageError, require
from clue.core.records import Completion, Request
from clue.core.redact import redact, shorten
from clue.core.tokens import ApproxTokenizer, Tokenizer, hf_tokenizer_counter
from clue.core.urls import parse_endpoint
from clue.models import http1, netio
from clue.models.base import Backend
from clue.models.openai import bridge, samplers
from clue.models.openai.network import (
    direct_network,
    failure_kind,
    load_httpx,
    make_transport,
    need_httpx,
    pins_of,
    same_for_the_client,
)
from clue.models.openai.options import ClientSettings
from clue.models.openai.responses import ERROR_TEXT_LIMIT, parse_answer, server_message
from clue.models.openai.retry import Final, Retry, parse_retry_after, retry_delay, worth_retrying
from clue.models.openai.urls import endpoint_url, redact_url

USER_AGENT = "clue-eval"  # what the requests say sent them (the version is in the manifest, not on the wire)

# Keys servers use for the model's context in /v1/models (vLLM: max_model_len).
CONTEXT_KEYS = ("max_model_len", "context_length", "context_window", "max_context_length")


@dataclass
class Replica:
    """One server of the model, as the workers see it."""

    index: int
    chat_url: str
    completions_url: str
    inflight: int = 0
    sent: int = 0
    not_before: float = 0.0  # loop time before which Retry-After asks us to wait
    answered: bool = False  # the server has sent an HTTP response (any status) at least once
    unreachable: str | None = None  # "HOST:PORT (why)" when it refused a connection before ever answering
    direct: bool = True  # sent through clue's HTTP/1.1 client (False: httpx, through the server's proxy)


class Unreachable(ClueError):
    """No replica could be connected to, and none has ever answered: the run stops instead of retrying
    every request (the answers already stored are kept; the same command resumes)."""

    exit_code = 1


def connect_failure(url: str, exc: BaseException) -> str | None:
    """``HOST:PORT (connection refused)`` when nothing listens at ``url`` (refused, no such host, no route);
    None for other connection failures (TLS, the egress guard), which fail their requests as before."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    import errno

    codes: set[int] = set()
    seen: BaseException | None = exc
    for _ in range(10):  # the OSError under httpx's and httpcore's wrappers
        if seen is None:
            break
        if isinstance(seen, OSError) and seen.errno is not None:
            codes.add(seen.errno)
        seen = seen.__cause__ or seen.__context__
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if errno.ECONNREFUSED in codes or "refused" in lowered or f"[errno {errno.ECONNREFUSED}]" in lowered:
        why = "connection refused"
    elif "name or service not known" in lowered or "nodename nor servname" in lowered or "getaddrinfo" in lowered:
        why = "host name not found"
    elif errno.EHOSTUNREACH in codes or errno.ENETUNREACH in codes or "no route" in lowered:
        why = "no route to host"
    else:
        return None
    return f"{parts.hostname}:{port} ({why})"


def pick_replica(replicas: list[Replica], avoid: Replica | None, now: float) -> Replica:
    """The replica free soonest, then with the fewest requests in flight; a retry avoids the last one."""
    if len(replicas) == 1:
        return replicas[0]
    others = [r for r in replicas if r is not avoid] or replicas
    return min(others, key=lambda r: (max(0.0, r.not_before - now), r.inflight, r.sent))


class OpenAIBackend(Backend):
    kind = "openai"

    def __init__(self, target: str, options: Mapping[str, Any] | None = None):
        super().__init__(target, options)
        self.settings = ClientSettings.from_options(self.options)
        need_httpx()  # fail now, with the extra to install, rather than after the data is loaded
        key = os.environ.get(self.settings.api_key_env)
        if not key and "api_key_env" in self.options:
            raise UsageError(f"openai backend: the environment variable {self.settings.api_key_env} (api_key_env) is not set")
        if key and any(c in key for c in "\r\n\0"):
            raise UsageError(f"openai backend: the API key in {self.settings.api_key_env} contains a line break or "
                             "NUL, which cannot be sent in a header; set it again without one")
        # Kept on the instance only; never in options, the description or the store.
        self._api_key = key or None
        self._proxies = {u: self.settings.proxy_for(u) for u in self.settings.base_urls}
        # httpx reads only the proxied servers' URLs (and the proxies'); clue's own client reads the others
        # with the parser the egress guard uses (clue.core.urls)
        for url in [*(u for u in self.settings.base_urls if not self._direct(u)), *(p for p in self._proxies.values() if p)]:
            same_for_the_client(url)
        if any(p and p.startswith("socks") for p in self._proxies.values()):
            require("socksio", "openai", "A SOCKS proxy")
        # (host, port) -> the addresses the egress guard checked (None: approved by name); None: not pinned.
        self._pins: dict[tuple[str, int | None], tuple[str, ...] | None] | None = None
        self._tokenizer: Tokenizer | None = None
        self._hf_tokenizer: Any = None
        self._layout: ChatLayout | None = None
        self._context: tuple[int | None, str] | None = None  # (length, where it came from)
        self._server_model: dict[str, Any] | None = None
        # GET /models, read once: (its entry for this model or None, the response headers); None: not asked yet
        self._models_reply: tuple[dict[str, Any] | None, dict[str, str]] | None = None
        self._server_kind: tuple[str | None, str] | None = None  # (samplers.SERVERS key, what said so)
        self._tls_context: Any = None
        self._network: str | None = None  # the network layer the async clients used (netio.layer_name)
        # Nothing talks to the server before generate() or context_length is
        # asked for, so the egress guard can refuse an endpoint first.

    # -- what the harness asks before building prompts ------------------------------
    @property
    def tokenizer(self) -> Tokenizer:
        if self._tokenizer is None:
            self._tokenizer = self._load_tokenizer()
        return self._tokenizer

    @property
    def layout(self) -> ChatLayout:
        if self._layout is None:
            self._layout = self._choose_layout()
        return self._layout

    @property
    def context_length(self) -> int | None:
        if self._context is None:
            if self.settings.context_length is not None:
                self._context = (self.settings.context_length, "option")
            else:
                self._context = self._ask_server_context()
        return self._context[0]

    def context_length_if_known(self) -> int | None:
        if self._context is not None:
            return self._context[0]
        return self.settings.context_length

    def endpoints(self) -> list[str]:
        return [*self.settings.base_urls, *self.proxies()]

    def proxies(self) -> list[str]:
        return list(dict.fromkeys(p for p in self._proxies.values() if p))

    def pin(self, addresses: Mapping[str, Sequence[str] | None]) -> None:
        self._pins = pins_of(addresses)

    def pinned_endpoints(self) -> dict[str, bool]:
        """Each endpoint, and whether its connections are held to checked addresses (False: approved by name)."""
        pins = self._pins or {}
        held = {}
        for url in self.endpoints():
            e = parse_endpoint(url)
            found = pins.get((e.host, e.port), pins.get((e.host, None)))
            held[str(e)] = found is not None
        return held

    def _direct(self, url: str) -> bool:
        """Whether requests to the base URL ``url`` go through clue's HTTP/1.1 client (no proxy, Python 3.11+)."""
        return self._proxies.get(url) is None and netio.available()

    def _transport(self, url: str, sync: bool = False, **settings: Any) -> Any:
        """The client's transport for requests to ``url`` (``network.make_transport``), noting the layer it uses."""
        transport, layer = make_transport(self._proxies.get(url), self._pins, sync, **settings)
        if layer is not None:
            self._network = layer
        return transport

    def _client_routes(self, sync: bool = False, **settings: Any) -> dict[str, Any]:
        """``transport`` (and ``mounts`` when replicas differ in proxy) for an httpx client."""
        urls = list(self.settings.base_urls)
        if len({self._proxies.get(u) for u in urls}) == 1:
            return {"transport": self._transport(urls[0], sync, **settings)}
        mounts = {}
        for u in urls:
            e = parse_endpoint(u)
            mounts[f"{e.scheme}://{f'[{e.host}]' if ':' in e.host else e.host}:{e.port}"] = self._transport(u, sync, **settings)
        return {"transport": self._transport(urls[0], sync, **settings), "mounts": mounts}

    # -- the description -----------------------------------------------------------------
    @classmethod
    def answer_fields(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        """A server's answers depend on the model name and any extra request fields; no URLs, no keys."""
        extra_body = ClientSettings.from_options(options).extra_body
        return {"extra_body": extra_body} if extra_body else {}

    def _client_description(self) -> str:
        """What sends the requests: clue's HTTP/1.1 client on its asyncio layer, or httpx (through a proxy)."""
        found = []
        for url in self.settings.base_urls:
            if self._direct(url):
                found.append(http1.NAME)
            else:
                httpx = load_httpx()
                found.append(f"httpx {httpx.__version__}, network: "
                             f"{self._network or netio.layer_name(netio.network_backend())}")
        return "; ".join(dict.fromkeys(found))

    def details(self) -> dict[str, Any]:
        s = self.settings
        return {
            "endpoint": "/completions" if self.layout is ChatLayout.PLAIN else "/chat/completions",
            "base_urls": [redact_url(u) for u in s.base_urls],
            "proxies": [redact_url(p) for p in self.proxies()],
            # connections held to the addresses the egress guard checked: every endpoint (and which, once checked)
            "pinned": self._pins is not None and all(self.pinned_endpoints().values()),
            **({"pinned_endpoints": self.pinned_endpoints()} if self._pins is not None else {}),
            "context_length_source": self._context[1] if self._context else "unknown",
            "server_model": self._server_model,
            "concurrency": s.concurrency,
            "timeout_s": s.timeout,
            "retries": {
                "max_retries": s.max_retries,
                "backoff_base_s": s.backoff_base,
                "backoff_max_s": s.backoff_max,
                "retry_after_max_s": s.retry_after_max,
            },
            "extra_body": s.extra_body,
            # the server recognised, the neutral sampler values sent, and whether answers are greedy
            "sampling": (
                samplers.sampling_record(*self._server_kind, greedy=True, user_fields=s.extra_body)
                if self._server_kind is not None
                else {"server": None, "recognised_by": "not asked (no greedy request was sent)", "neutral_fields": {}}
            ),
            "api_key_env": s.api_key_env,
            "api_key_set": self._api_key is not None,
            # what sent the requests: clue's HTTP/1.1 client, or httpx (proxied servers; Python < 3.11)
            "client": self._client_description(),
        }

    def _load_tokenizer(self) -> Tokenizer:
        if not self.settings.tokenizer:
            return ApproxTokenizer()
        transformers = require("transformers", "hf", "Counting tokens with a local tokenizer (-O tokenizer=PATH)")
        try:
            tok = transformers.AutoTokenizer.from_pretrained(self.settings.tokenizer, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise UsageError(f"openai backend: cannot load the tokenizer at {self.settings.tokenizer!r}: {exc}") from None
        self._hf_tokenizer = tok
        return hf_tokenizer_counter(f"hf:{self.settings.tokenizer}", tok)

    def _choose_layout(self) -> ChatLayout:
        if self.settings.chat_layout is not None:
            return self.settings.chat_layout
        if self.settings.tokenizer:
            # The user gave the model's tokenizer: its chat template decides, as in-process backends do.
            self.tokenizer  # noqa: B018 - loads it
            return probe_layout(hf_renderer(self._hf_tokenizer))
        # A chat endpoint applies the server's own template; the system role is the default there.
        return ChatLayout.SYSTEM

    def _tls(self) -> Any:
        """One TLS context for every client of this backend (the workers' and the model query's), built on first use.

        Loading the CA store costs ~20 ms; httpx would build a context per
        client (one per worker) even for plain http. With only ``http://``
        servers nothing is ever verified, so the one shared context is a bare
        one that loads no CA store.
        """
        if self._tls_context is None:
            if any(u.lower().startswith("https:") for u in self.settings.base_urls):
                self._tls_context = load_httpx().create_ssl_context(trust_env=self.settings.use_env_proxy)
            else:
                import ssl

                self._tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                self._tls_context.check_hostname = False
                self._tls_context.verify_mode = ssl.CERT_NONE
        return self._tls_context

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _read_models(self) -> tuple[dict[str, Any] | None, dict[str, str]] | None:
        """GET /models once: this model's entry (None when not listed) and the headers; None when unreadable."""
        if self._models_reply is not None:
            return self._models_reply
        base = self.settings.base_urls[0]
        url = endpoint_url(base, "/models")
        timeout = min(self.settings.timeout, 15.0)
        try:
            if self._direct(base):
                async def ask() -> http1.Answer:
                    async with self._direct_client(timeout) as client:
                        return await client.get(url)

                answer = http1.run_once(ask)
                status, content, found = answer.status, answer.content, answer.headers
            else:
                httpx = load_httpx()
                routes = self._client_routes(sync=True, verify=self._tls())
                with httpx.Client(timeout=timeout, trust_env=False, **routes) as client:
                    response = client.get(url, headers=self._headers())
                status, content, found = response.status_code, response.content, response.headers
            entries = json.loads(content).get("data", []) if status == 200 else []
            headers = {k.lower(): v for k, v in found.items() if k.lower() == "server"}
        except (ValueError, AttributeError):
            return None
        except Exception as exc:
            if failure_kind(exc) is None:
                raise
            return None
        entries = [e for e in entries if isinstance(e, dict)]
        match = [e for e in entries if e.get("id") == self.target] or (entries if len(entries) == 1 else [])
        self._models_reply = (match[0] if match else None, headers)
        return self._models_reply

    def server_kind(self) -> tuple[str | None, str]:
        """The server (``samplers.SERVERS``) from its model list or headers, asked once (before the first answer)."""
        if self._server_kind is None:
            reply = self._read_models()
            self._server_kind = samplers.recognise(*reply) if reply else (None, "not recognised (no model list)")
        return self._server_kind

    def _ask_server_context(self) -> tuple[int | None, str]:
        """The context length from GET /models (vLLM reports max_model_len); None when absent."""
        reply = self._read_models()
        if reply is None:
            return None, "unknown (the server's model list could not be read)"
        entry = reply[0]
        if entry is None:
            return None, "unknown (the server does not list this model)"
        self._server_model = {k: entry[k] for k in ("id", "root", "owned_by", "parent") if k in entry}
        for key in CONTEXT_KEYS:
            value = entry.get(key)
            if isinstance(value, int) and value > 0:
                self._server_model[key] = value
                return value, f"server ({key})"
        return None, "unknown (the server does not report it; set -O context_length=N)"

    # -- generation -------------------------------------------------------------------
    def request_body(self, request: Request) -> bytes:
        d = request.decoding
        body: dict[str, Any] = {"model": self.target}
        laid_out = apply_layout(request.messages, self.layout, request.joins)
        if isinstance(laid_out, str):
            body["prompt"] = laid_out
        else:
            body["messages"] = [{"role": m.role, "content": m.content} for m in laid_out]
            if laid_out and laid_out[-1].role == "assistant":
                # a pre-fill: vLLM's chat API continues the last message instead of opening a new turn
                body["continue_final_message"] = True
                body["add_generation_prompt"] = False
        body[self.settings.max_tokens_field] = d.max_new_tokens
        body["temperature"] = d.temperature
        if d.top_p != 1.0:
            body["top_p"] = d.top_p
        if d.seed is not None:
            body["seed"] = d.seed
        if d.stop:
            body["stop"] = list(d.stop)
        # the neutral values of the server's hidden sampler defaults (greedy requests; recognised servers only)
        kind = self._server_kind[0] if self._server_kind else None
        body.update(samplers.neutral_fields(kind, d.temperature <= 0, self.settings.extra_body))
        body.update(self.settings.extra_body)
        return json.dumps(body, ensure_ascii=False).encode("utf-8")

    def generate(self, requests: Sequence[Request]) -> Iterator[Completion]:
        for group in self.generate_groups(requests):
            yield from group

    def generate_groups(self, requests: Sequence[Request]) -> Iterator[list[Completion]]:
        requests = list(requests)
        if not requests:
            return
        self.layout  # noqa: B018 - decide (and maybe load the tokenizer) before the loop thread starts
        if any(r.decoding.temperature <= 0 for r in requests):
            self.server_kind()  # which hidden sampler defaults to neutralise, before the first request
        yield from bridge.iterate_groups(lambda emit: self._run(requests, emit), name="clue-openai-client")

    def _direct_client(self, timeout: float | None) -> http1.Http1Client:
        """clue's HTTP/1.1 client for the direct servers, on netio's layer held to the egress guard's pins."""
        https = any(u.lower().startswith("https:") for u in self.settings.base_urls)
        return http1.Http1Client(direct_network(self._pins), headers=self._headers(), timeout=timeout,
                                 tls=self._tls() if https else None, user_agent=USER_AGENT)

    async def _run(self, requests: list[Request], emit: Callable[[Completion], None]) -> None:
        s = self.settings
        replicas = [
            Replica(i, endpoint_url(u, "/chat/completions"), endpoint_url(u, "/completions"))
            for i, u in enumerate(s.base_urls)
        ]
        for replica, url in zip(replicas, s.base_urls):
            replica.direct = self._direct(url)
        pending = list(reversed(requests))  # pop() from the end keeps the given order

        async def worker() -> None:
            # One client per worker, with one connection per server: a worker has one request in flight.
            async with _WorkerClients(self, replicas) as clients:
                while pending:
                    request = pending.pop()
                    emit(await self._complete(clients, replicas, request))

        # The workers start one at a time, each running until it waits on the
        # network: started all at once, the first request would wait until
        # every worker had made its client (~70 ms at 64 workers).
        started: list[asyncio.Task] = []
        try:
            for _ in range(min(s.concurrency, len(requests))):
                started.append(asyncio.ensure_future(worker()))
                await asyncio.sleep(0)
            await asyncio.gather(*started)
        except BaseException:
            for task in started:
                task.cancel()
            # wait for the cancelled workers to unwind (their connections close) before the loop goes
            await asyncio.gather(*started, return_exceptions=True)
            raise

    async def _complete(self, client: Any, replicas: list[Replica], request: Request) -> Completion:
        loop = asyncio.get_running_loop()
        plain = self.layout is ChatLayout.PLAIN
        try:
            body = self.request_body(request)
        except Exception as exc:  # a request we cannot even encode fails alone
            return Completion(request.id, None, error=f"could not build the request body: {exc}")
        last: Replica | None = None
        reason = ""
        attempts = 0
        while True:
            attempts += 1
            replica = pick_replica(replicas, last, loop.time())
            wait = replica.not_before - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            replica.inflight += 1
            replica.sent += 1
            try:
                text, meta = await self._attempt(client, replica, body, plain)
                meta.update(attempts=attempts, replica=replica.index)
                return Completion(request.id, text, meta=meta)
            except Final as exc:
                return Completion(request.id, None, error=self._clean(str(exc)), meta={"attempts": attempts})
            except Retry as exc:
                reason = exc.reason
                if replica.unreachable and not any(r.answered for r in replicas) and all(r.unreachable for r in replicas):
                    # Every server refused its first connections and none has ever answered: retrying every
                    # request for half a minute only to report a missing score helps nobody.
                    raise Unreachable("cannot connect to " + ", ".join(str(r.unreachable) for r in replicas)
                                      + "; is the server running? (the answers already stored are kept)") from None
                delay = self._delay(attempts, exc.retry_after)
                if exc.retry_after is not None:
                    replica.not_before = max(replica.not_before, loop.time() + delay)
            finally:
                replica.inflight -= 1
            if attempts > self.settings.max_retries:
                error = f"gave up after {attempts} attempts; last: {reason}"
                return Completion(request.id, None, error=self._clean(error), meta={"attempts": attempts})
            last = replica
            await asyncio.sleep(delay)

    async def _attempt(self, clients: _WorkerClients, replica: Replica, body: bytes,
                       plain: bool) -> tuple[str, dict[str, Any]]:
        url = replica.completions_url if plain else replica.chat_url
        try:
            status, headers, content = await clients.post(replica, url, body)
        except Exception as exc:
            kind = failure_kind(exc)
            if kind is None:
                raise
            if kind == "timeout":
                raise Retry(f"no answer within the timeout of {self.settings.timeout:g} s") from None
            # refused, reset, dropped mid-answer
            if kind == "connect" and not replica.answered:
                failure = connect_failure(url, exc)
                replica.unreachable = self._clean(failure) if failure else None
            raise Retry(self._clean(f"connection failed ({type(exc).__name__}: {exc})")) from None
        replica.answered = True
        replica.unreachable = None
        if status != 200:
            message = self._clean(server_message(content), ERROR_TEXT_LIMIT)
            if worth_retrying(status):
                raise Retry(f"HTTP {status}: {message}", parse_retry_after(headers))
            raise Final(f"HTTP {status}: {message}")
        return parse_answer(content, plain)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        s = self.settings
        return retry_delay(attempt, retry_after, backoff_base=s.backoff_base, backoff_max=s.backoff_max,
                           retry_after_max=s.retry_after_max)

    def _clean(self, message: str, limit: int | None = None) -> str:
        """An error text as it may be stored: the key (and its prefixes) and URL secrets masked, then shortened."""
        message = redact(message, [self._api_key])
        return shorten(message, limit) if limit is not None else message


class _WorkerClients:
    """One worker's ways to the servers: clue's HTTP/1.1 client for the direct ones, httpx for proxied ones.

    httpx is loaded (and its client made) only when a proxied server is asked.
    """

    def __init__(self, backend: OpenAIBackend, replicas: list[Replica]):
        self.backend = backend
        self.direct = backend._direct_client(backend.settings.timeout) if any(r.direct for r in replicas) else None
        self.proxied: Any = None
        self.proxied_count = sum(1 for r in replicas if not r.direct)

    async def post(self, replica: Replica, url: str, body: bytes) -> tuple[int, Mapping[str, str], bytes]:
        if replica.direct:
            assert self.direct is not None
            answer = await self.direct.post(url, body)
            return answer.status, answer.headers, answer.content
        if self.proxied is None:
            self.proxied = self._httpx_client()
        response = await self.proxied.post(url, content=body)
        return response.status_code, response.headers, response.content

    def _httpx_client(self) -> Any:
        httpx = load_httpx()
        backend, n = self.backend, self.proxied_count
        limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
        timeout = httpx.Timeout(backend.settings.timeout, pool=None)  # waiting for a pooled connection is not the server's fault
        routes = backend._client_routes(limits=limits, verify=backend._tls())
        return httpx.AsyncClient(limits=limits, timeout=timeout, headers=backend._headers(), trust_env=False, **routes)

    async def __aenter__(self) -> _WorkerClients:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.direct is not None:
            await self.direct.aclose()
        if self.proxied is not None:
            await self.proxied.aclose()

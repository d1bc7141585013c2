"""Any OpenAI-compatible server: vLLM serve, TGI, llama.cpp server, Ollama, hosted APIs.

    clue run --model openai:MODEL --base-url http://127.0.0.1:8000/v1

The client is asynchronous (``httpx``; on Python 3.11+ over clue's own asyncio
network layer, ``clue.models.netio``, which costs less CPU per request than
httpcore's default) with a fixed pool of workers, so at most ``concurrency``
requests are in flight. ``generate`` is an ordinary iterator:
an event loop runs in a background thread and each completion is handed over
the moment it finishes, so the run store can commit it at once.

Politeness and robustness:
- 429, 408 and 5xx answers, timeouts, dropped connections and bodies that are
  not the expected JSON are retried with exponential backoff and jitter, up to
  ``max_retries`` times; a ``Retry-After`` header is honoured, and the replica
  that sent it gets no new requests until then;
- other 4xx answers (a prompt over the context, an unknown model) are final at
  once: retrying them cannot help;
- a request that still fails comes back as ``Completion(error=...)``: it is
  reported as failed, never scored as an empty answer.

Several comma-separated base URLs are replicas of one model (e.g. one vLLM
server per GPU node): each request goes to the replica with the fewest
requests in flight, and a retry prefers another replica.

The API key is read from an environment variable (``api_key_env``, default
OPENAI_API_KEY) and sent only in the Authorization header; it is never part of
the backend's description (the manifest, the store's model identity), or any error message: error texts are
masked (the key, any prefix of it, URL credentials; ``clue.core.redact``)
before they are shortened.

Where it connects: to the base URLs, or through a proxy when one is given
(``-O proxy=URL``) or, with ``-O use_env_proxy=true``, through the proxy the
environment names (``HTTP(S)_PROXY``, ``ALL_PROXY``, ``NO_PROXY``). Proxies are
endpoints like the servers (``endpoints()``), so the egress guard checks them;
clue decides the proxy itself and the client reads no other settings from the
environment. Once the guard has checked the addresses (``pin``), the client
connects to those addresses and no others.

Answers: an HTTP 200 whose message has no text (``"content": null``) or that
has no choices is a failed attempt, retried like a 500. A reasoning model's
reasoning (``reasoning_content``/``reasoning``, or a ``<think>...</think>``
block at the start of the text) is kept apart from the answer, in the
completion's meta with the reasoning tokens the server counted; only the
answer is scored. When the token limit ends inside the reasoning, the answer
is empty and the completion is marked ``reasoning_unfinished`` (counted per
task in the diagnostics).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import queue
import random
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from clue.core.chat import ChatLayout, apply_layout, hf_renderer, parse_layout, probe_layout
from clue.core.errors import UsageError, require
from clue.core.records import Completion, Request
from clue.core.redact import redact, shorten
from clue.core.tokens import ApproxTokenizer, Tokenizer, hf_tokenizer_counter
from clue.core.urls import parse_endpoint
from clue.models import netio
from clue.models.base import Backend

DEFAULT_CONCURRENCY = 32  # local engines batch well; hosted APIs usually want fewer
RETRY_STATUS = frozenset({408, 409, 425, 429})
# Jitter only spreads retries in time; it never touches what is generated, so
# it has its own unseeded generator rather than one from clue.core.seeding.
_JITTER = random.Random()
# Keys servers use for the model's context in /v1/models (vLLM: max_model_len).
CONTEXT_KEYS = ("max_model_len", "context_length", "context_window", "max_context_length")
ERROR_TEXT_LIMIT = 300  # characters of a server's error text kept with a failed item (after masking)
PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


@dataclass(frozen=True)
class ClientSettings:
    """The backend's options, validated; built from ``-O KEY=VALUE`` pairs."""

    base_urls: tuple[str, ...]
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = DEFAULT_CONCURRENCY
    timeout: float = 600.0  # seconds per phase of one request (connect, send, wait for the answer)
    max_retries: int = 6
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 300.0
    context_length: int | None = None
    chat_layout: ChatLayout | None = None  # None: auto
    tokenizer: str | None = None
    max_tokens_field: str = "max_tokens"  # some hosted APIs want max_completion_tokens
    extra_body: dict[str, Any] = field(default_factory=dict)
    use_env_proxy: bool = False
    proxy: str | None = None  # one proxy for every base URL (else the environment's, with use_env_proxy)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> ClientSettings:
        known = set(cls.__dataclass_fields__) - {"base_urls"} | {"base_url"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise UsageError(f"openai backend: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        raw = options.get("base_url") or os.environ.get("OPENAI_BASE_URL")
        if not raw:
            raise UsageError("openai backend: give the server's URL with --base-url, e.g. --base-url http://127.0.0.1:8000/v1 "
                             "(in a sweep file: the model's base_url option; or set OPENAI_BASE_URL)")
        urls = tuple(normalise_base_url(u) for u in str(raw).split(",") if u.strip())
        extra = options.get("extra_body", {})
        if not isinstance(extra, dict):
            raise UsageError('openai backend: extra_body must be a JSON object, e.g. -O extra_body=\'{"top_k": 1}\'')
        settings = cls(
            base_urls=urls,
            api_key_env=str(options.get("api_key_env", "OPENAI_API_KEY")),
            concurrency=_number(options, "concurrency", int, DEFAULT_CONCURRENCY, minimum=1),
            timeout=_number(options, "timeout", float, 600.0, minimum=0.001),
            max_retries=_number(options, "max_retries", int, 6, minimum=0),
            backoff_base=_number(options, "backoff_base", float, 0.5, minimum=0),
            backoff_max=_number(options, "backoff_max", float, 30.0, minimum=0),
            retry_after_max=_number(options, "retry_after_max", float, 300.0, minimum=0),
            context_length=_number(options, "context_length", int, None, minimum=1),
            chat_layout=parse_layout(options.get("chat_layout")),
            tokenizer=str(options["tokenizer"]) if options.get("tokenizer") else None,
            max_tokens_field=str(options.get("max_tokens_field", "max_tokens")),
            extra_body=dict(extra),
            use_env_proxy=_flag(options.get("use_env_proxy", False)),
            proxy=normalise_proxy(str(options["proxy"])) if options.get("proxy") else None,
        )
        return settings

    def proxy_for(self, url: str) -> str | None:
        """The proxy requests to ``url`` go through: the option, else the environment's (with use_env_proxy)."""
        if self.proxy:
            return self.proxy
        if not self.use_env_proxy:
            return None
        proxies = urllib.request.getproxies_environment()
        host = urlsplit(url).hostname or ""
        if urllib.request.proxy_bypass_environment(host, proxies):  # type: ignore[attr-defined]
            return None
        found = proxies.get(urlsplit(url).scheme) or proxies.get("all")
        return normalise_proxy(found) if found else None


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        if value.strip().lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off", ""):
            raise UsageError(f"openai backend: use_env_proxy must be true or false, got {value!r}")
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)


def normalise_proxy(url: str) -> str:
    """A proxy URL with its scheme (``http://`` when none is given, as clients assume); checked like a base URL."""
    url = url.strip()
    if "://" not in url:
        url = f"http://{url}"
    endpoint = parse_endpoint(url)
    if endpoint.scheme not in PROXY_SCHEMES:
        raise UsageError(f"openai backend: a proxy must be {', '.join(PROXY_SCHEMES)}, got {redact(url)!r}")
    return url


def _number(options: Mapping[str, Any], key: str, kind: type, default: Any, minimum: float) -> Any:
    if options.get(key) is None:
        return default
    try:
        value = kind(options[key])
    except (TypeError, ValueError):
        raise UsageError(f"openai backend: {key} must be a number, got {options[key]!r}") from None
    if value < minimum:
        raise UsageError(f"openai backend: {key} must be at least {minimum}, got {value}")
    return value


def normalise_base_url(url: str) -> str:
    """Strip spaces and a trailing slash; a URL with no path gets ``/v1`` (all the servers above use it)."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"openai backend: base_url must be an http(s) URL, got {redact(url)!r}")
    parse_endpoint(url)  # refuses hosts that clients could read differently
    path = parts.path.rstrip("/") or "/v1"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def redact_url(url: str) -> str:
    """The URL without user, password, query or fragment: what the manifest may record."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def endpoint_url(base: str, suffix: str) -> str:
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, parts.path + suffix, parts.query, ""))


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _Retry(Exception):
    """A failed attempt that is worth repeating."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class _Final(Exception):
    """A failed attempt that repeating cannot fix."""


@dataclass
class _Replica:
    index: int
    chat_url: str
    completions_url: str
    inflight: int = 0
    sent: int = 0
    not_before: float = 0.0  # loop time before which Retry-After asks us to wait


class OpenAIBackend(Backend):
    kind = "openai"

    def __init__(self, target: str, options: Mapping[str, Any] | None = None):
        super().__init__(target, options)
        self.settings = ClientSettings.from_options(self.options)
        _httpx()  # fail now, with the extra to install, rather than after the data is loaded
        key = os.environ.get(self.settings.api_key_env)
        if not key and "api_key_env" in self.options:
            raise UsageError(f"openai backend: the environment variable {self.settings.api_key_env} (api_key_env) is not set")
        # Kept on the instance only; never in options, info() or the store.
        self._api_key = key or None
        self._proxies = {u: self.settings.proxy_for(u) for u in self.settings.base_urls}
        for url in [*self.settings.base_urls, *(p for p in self._proxies.values() if p)]:
            _same_for_the_client(url)
        if any(p and p.startswith("socks") for p in self._proxies.values()):
            require("socksio", "openai", "A SOCKS proxy")
        # host -> the addresses the egress guard checked (None: approved by name); None: not pinned.
        self._pins: dict[str, tuple[str, ...] | None] | None = None
        self._tokenizer: Tokenizer | None = None
        self._hf_tokenizer: Any = None
        self._layout: ChatLayout | None = None
        self._context: tuple[int | None, str] | None = None  # (length, where it came from)
        self._server_model: dict[str, Any] | None = None
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
        self._pins = {host.lower(): (tuple(a) if a is not None else None) for host, a in addresses.items()}

    def _transport(self, url: str, sync: bool = False, **settings: Any) -> Any:
        """The client's transport for requests to ``url``: its proxy, the network layer, the pinned addresses when checked.

        Async transports (the workers') send through clue's asyncio network
        layer (``clue.models.netio``) where it is available; proxies connect
        through it too, since httpcore's proxy pools open their connections
        with the pool's network backend. The pinning wraps whichever layer is
        in use. The sync client (the model listing) keeps httpcore's default.
        """
        httpx = _httpx()
        kind = httpx.HTTPTransport if sync else httpx.AsyncHTTPTransport
        transport = kind(proxy=self._proxies.get(url), **settings)
        network = None if sync else netio.network_backend()
        if network is None and self._pins is None:
            return transport
        pool = getattr(transport, "_pool", None)
        if pool is None or not hasattr(pool, "_network_backend"):
            if self._pins is not None:
                raise UsageError(f"openai backend: httpx {httpx.__version__} cannot be held to the checked addresses")
            network = None  # an httpx whose pool cannot take another layer: it keeps its own
        elif network is not None:
            pool._network_backend = network
        if not sync:
            self._network = netio.layer_name(network)
        if self._pins is not None and pool is not None:
            pinned = _PinnedNetwork if sync else _AsyncPinnedNetwork
            pool._network_backend = pinned(pool._network_backend, self._pins)
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

    @classmethod
    def answer_fields(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        """A server's answers depend on the model name and any extra request fields; no URLs, no keys."""
        extra_body = ClientSettings.from_options(options).extra_body
        return {"extra_body": extra_body} if extra_body else {}

    def details(self) -> dict[str, Any]:
        httpx = _httpx()
        s = self.settings
        info = super().details()
        info.update(
            {
                "endpoint": "/completions" if self.layout is ChatLayout.PLAIN else "/chat/completions",
                "base_urls": [redact_url(u) for u in s.base_urls],
                "proxies": [redact_url(p) for p in self.proxies()],
                "pinned": self._pins is not None,  # connections held to the addresses the egress guard checked
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
                "api_key_env": s.api_key_env,
                "api_key_set": self._api_key is not None,
                # what sent the requests: httpx over clue's asyncio layer, or over httpcore's default
                "client": f"httpx {httpx.__version__}, network: "
                          f"{self._network or netio.layer_name(netio.network_backend())}",
            }
        )
        return info

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
                self._tls_context = _httpx().create_ssl_context(trust_env=self.settings.use_env_proxy)
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

    def _ask_server_context(self) -> tuple[int | None, str]:
        """The context length from GET /models (vLLM reports max_model_len); None when absent."""
        httpx = _httpx()

        url = endpoint_url(self.settings.base_urls[0], "/models")
        try:
            routes = self._client_routes(sync=True, verify=self._tls())
            with httpx.Client(timeout=min(self.settings.timeout, 15.0), trust_env=False, **routes) as client:
                response = client.get(url, headers=self._headers())
            entries = response.json().get("data", []) if response.status_code == 200 else []
        except (httpx.HTTPError, ValueError, AttributeError):
            return None, "unknown (the server's model list could not be read)"
        entries = [e for e in entries if isinstance(e, dict)]
        match = [e for e in entries if e.get("id") == self.target] or (entries if len(entries) == 1 else [])
        if not match:
            return None, "unknown (the server does not list this model)"
        entry = match[0]
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
        laid_out = apply_layout(request.messages, self.layout)
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
        body.update(self.settings.extra_body)
        return json.dumps(body, ensure_ascii=False).encode("utf-8")

    def generate(self, requests: Sequence[Request]) -> Iterator[Completion]:
        requests = list(requests)
        if not requests:
            return
        self.layout  # noqa: B018 - decide (and maybe load the tokenizer) before the loop thread starts
        results: queue.SimpleQueue = queue.SimpleQueue()
        done = object()
        state: dict[str, Any] = {}
        started = threading.Event()

        def run_loop() -> None:
            loop = asyncio.new_event_loop()
            try:
                state["loop"] = loop
                state["task"] = loop.create_task(self._run(requests, results.put))
                started.set()
                loop.run_until_complete(state["task"])
            except BaseException as exc:  # handed to the consumer, which re-raises it
                results.put(_Crash(exc))
            finally:
                started.set()
                loop.close()
                results.put(done)

        thread = threading.Thread(target=run_loop, name="clue-openai-client", daemon=True)
        thread.start()
        finished = False
        try:
            while True:
                item = results.get()
                if item is done:
                    finished = True
                    return
                if isinstance(item, _Crash):
                    if isinstance(item.exc, asyncio.CancelledError):
                        continue
                    raise item.exc
                yield item
        finally:
            if not finished:
                # The consumer stopped early (an error, Ctrl-C, a closed generator): cancel what is in flight.
                started.wait()
                loop, task = state.get("loop"), state.get("task")
                if loop is not None and task is not None and not loop.is_closed():
                    try:
                        loop.call_soon_threadsafe(task.cancel)
                    except RuntimeError:
                        pass  # the loop closed in between
            thread.join(timeout=30)

    async def _run(self, requests: list[Request], emit: Callable[[Completion], None]) -> None:
        httpx = _httpx()

        s = self.settings
        replicas = [
            _Replica(i, endpoint_url(u, "/chat/completions"), endpoint_url(u, "/completions"))
            for i, u in enumerate(s.base_urls)
        ]
        pending = list(reversed(requests))  # pop() from the end keeps the given order
        # One small client per worker rather than one shared pool: httpcore
        # scans its whole pool for every request, which at 32+ connections
        # cost more CPU than everything else the harness does per request.
        limits = httpx.Limits(max_connections=len(replicas), max_keepalive_connections=len(replicas))
        timeout = httpx.Timeout(s.timeout, pool=None)  # waiting for a pooled connection is not the server's fault
        tls = self._tls()

        async def worker() -> None:
            routes = self._client_routes(limits=limits, verify=tls)
            async with httpx.AsyncClient(
                limits=limits, timeout=timeout, headers=self._headers(), trust_env=False, **routes
            ) as client:
                while pending:
                    request = pending.pop()
                    emit(await self._complete(client, replicas, request))

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
            raise

    async def _complete(self, client: Any, replicas: list[_Replica], request: Request) -> Completion:
        loop = asyncio.get_running_loop()
        plain = self.layout is ChatLayout.PLAIN
        try:
            body = self.request_body(request)
        except Exception as exc:  # a request we cannot even encode fails alone
            return Completion(request.id, None, error=f"could not build the request body: {exc}")
        last: _Replica | None = None
        reason = ""
        attempts = 0
        while True:
            attempts += 1
            replica = self._pick(replicas, last, loop.time())
            wait = replica.not_before - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            replica.inflight += 1
            replica.sent += 1
            try:
                text, meta = await self._attempt(client, replica, body, plain)
                meta.update(attempts=attempts, replica=replica.index)
                return Completion(request.id, text, meta=meta)
            except _Final as exc:
                return Completion(request.id, None, error=self._clean(str(exc)), meta={"attempts": attempts})
            except _Retry as exc:
                reason = exc.reason
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

    async def _attempt(self, client: Any, replica: _Replica, body: bytes, plain: bool) -> tuple[str, dict[str, Any]]:
        import httpx

        url = replica.completions_url if plain else replica.chat_url
        try:
            response = await client.post(url, content=body)
        except httpx.TimeoutException:
            raise _Retry(f"no answer within the timeout of {self.settings.timeout:g} s") from None
        except httpx.TransportError as exc:  # refused, reset, dropped mid-answer
            raise _Retry(self._clean(f"connection failed ({type(exc).__name__}: {exc})")) from None
        status = response.status_code
        if status != 200:
            message = self._clean(_server_message(response.content), ERROR_TEXT_LIMIT)
            if status in RETRY_STATUS or status >= 500:
                raise _Retry(f"HTTP {status}: {message}", parse_retry_after(response.headers))
            raise _Final(f"HTTP {status}: {message}")
        try:
            data = json.loads(response.content)
            choices = data["choices"]
        except (ValueError, KeyError, TypeError):
            raise _Retry("the server's answer was not the expected JSON") from None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise _Retry("HTTP 200 with no choices: the server sent no answer")
        choice = choices[0]
        answer = choice if plain else choice.get("message")
        if not isinstance(answer, dict):
            raise _Retry("the server's answer was not the expected JSON")
        text = answer.get("text" if plain else "content")
        reasoning = None if plain else answer.get("reasoning_content") or answer.get("reasoning")
        if text is not None and not isinstance(text, str):
            raise _Retry("the server's answer had no text field")
        if reasoning is not None and not isinstance(reasoning, str):
            reasoning = json.dumps(reasoning)
        finish = choice.get("finish_reason")
        unfinished = False
        if text is None:
            if not (reasoning and finish == "length"):
                raise _Retry(f"HTTP 200 with no text ({'text' if plain else 'content'}: null): the server sent no answer")
            text, unfinished = "", True  # the token limit ended inside the reasoning: no answer was given
        else:
            text, thought, unclosed = split_reasoning(text)
            if thought is not None:
                reasoning = f"{reasoning}\n{thought}" if reasoning else thought
            unfinished = unclosed
        meta: dict[str, Any] = {"finish_reason": finish}
        usage = data.get("usage")
        if isinstance(usage, dict):
            meta["prompt_tokens"] = usage.get("prompt_tokens")
            meta["completion_tokens"] = usage.get("completion_tokens")
            details = usage.get("completion_tokens_details")
            if isinstance(details, dict) and details.get("reasoning_tokens") is not None:
                meta["reasoning_tokens"] = details["reasoning_tokens"]
        if reasoning is not None:
            meta["reasoning"] = reasoning
            meta["reasoning_unfinished"] = unfinished
        return text, meta

    @staticmethod
    def _pick(replicas: list[_Replica], avoid: _Replica | None, now: float) -> _Replica:
        """The replica free soonest, then with the fewest requests in flight; a retry avoids the last one."""
        if len(replicas) == 1:
            return replicas[0]
        others = [r for r in replicas if r is not avoid] or replicas
        return min(others, key=lambda r: (max(0.0, r.not_before - now), r.inflight, r.sent))

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        s = self.settings
        if retry_after is not None:
            # The server said when: wait that long (within reason), plus a
            # little spread so the waiting workers do not return in one burst.
            wait = min(retry_after, s.retry_after_max)
            return wait + _JITTER.random() * min(1.0, wait / 10)
        backoff = min(s.backoff_max, s.backoff_base * 2 ** (attempt - 1))
        # Equal jitter: half the backoff is fixed, half random, so many workers
        # that failed together do not come back together.
        return backoff / 2 + _JITTER.random() * backoff / 2

    def _clean(self, message: str, limit: int | None = None) -> str:
        """An error text as it may be stored: the key (and its prefixes) and URL secrets masked, then shortened."""
        message = redact(message, [self._api_key])
        return shorten(message, limit) if limit is not None else message


def _httpx() -> Any:
    if "httpx" not in sys.modules:
        # httpx imports its own command-line client (click, pygments, rich.progress,
        # rich.syntax) whenever click is installed, as it is here (rouge-score needs
        # nltk, which needs click): 26 ms of every `clue run` before its first
        # request (bench/bench_startup.py). clue never runs that client, so its
        # import is declined; httpx then defines a stub `httpx.main` instead.
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    return require("httpx", "openai", "The openai: backend")


@dataclass
class _Crash:
    exc: BaseException


def _server_message(content: bytes) -> str:
    """The error text a server sent, whole: mask it (``_clean``) before shortening it."""
    try:
        data = json.loads(content)
        error = data.get("error", data) if isinstance(data, dict) else data
        message = error.get("message", error) if isinstance(error, dict) else error
        text = message if isinstance(message, str) else json.dumps(message)
    except (ValueError, AttributeError):
        text = content.decode("utf-8", "replace")
    return " ".join(text.split())


def split_reasoning(text: str) -> tuple[str, str | None, bool]:
    """``(answer, reasoning, unfinished)`` of a text that may start with a ``<think>`` block.

    ``<think>R</think>A`` gives ``(A, R, False)``; ``<think>R`` with no end
    (the token limit came first) gives ``("", R, True)``; ``R</think>A`` (the
    chat template opened the block in the prompt) gives ``(A, R, False)``; a
    text with no block is all answer.
    """
    stripped = text.lstrip()
    if stripped.startswith(THINK_OPEN):
        inner = stripped[len(THINK_OPEN):]
        if THINK_CLOSE not in inner:
            return "", inner.strip(), True
        thought, _, answer = inner.partition(THINK_CLOSE)
        return answer.strip(), thought.strip(), False
    if THINK_CLOSE in text and THINK_OPEN not in text:
        thought, _, answer = text.partition(THINK_CLOSE)
        return answer.strip(), thought.strip(), False
    return text, None, False


def _same_for_the_client(url: str) -> None:
    """Refuse a URL that httpx would read with another host or port than clue's checks did."""
    httpx = _httpx()
    ours = parse_endpoint(url)
    try:
        theirs = httpx.URL(url)
        port = theirs.port or {"http": 80, "https": 443}.get(theirs.scheme)
        host = theirs.host.lower()
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise UsageError(f"openai backend: not a URL the client can use ({exc.__class__.__name__}): {redact(url)!r}") from None
    if host != ours.host or port != ours.port:
        raise UsageError(f"openai backend: the client would read {redact(url)!r} as another address; refusing it")


class _PinnedNetwork:
    """httpcore's network backend held to the addresses the egress guard checked (DNS is not asked again).

    TLS still checks the certificate against the host name (httpcore sends it as
    SNI), and the Host header keeps the name; only the TCP connection is pinned.
    A host the guard did not check is refused.
    """

    def __init__(self, inner: Any, pins: Mapping[str, tuple[str, ...] | None]):
        self.inner = inner
        self.pins = pins

    def _addresses(self, host: str) -> tuple[str, ...]:
        import httpcore

        key = host.lower().strip("[]")
        if key not in self.pins:
            raise httpcore.ConnectError(f"egress guard: {host} was not checked; not connecting to it")
        return self.pins[key] or (host,)

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options: Any = None) -> Any:
        import httpcore

        last: Exception | None = None
        for address in self._addresses(host):
            try:
                return self.inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                              socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> Any:
        import httpcore

        raise httpcore.ConnectError("egress guard: no Unix sockets")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


class _AsyncPinnedNetwork(_PinnedNetwork):
    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None, socket_options: Any = None) -> Any:
        import httpcore

        last: Exception | None = None
        for address in self._addresses(host):
            try:
                return await self.inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                                    socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Any = None) -> Any:
        import httpcore

        raise httpcore.ConnectError("egress guard: no Unix sockets")

    async def sleep(self, seconds: float) -> None:  # type: ignore[override]
        await self.inner.sleep(seconds)

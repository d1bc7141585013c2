"""The client's connections: httpx loaded on first use, and transports with their proxy, network layer and pins.

Async transports send through clue's asyncio layer (``clue.models.netio``)
where it is available; once the egress guard has checked the addresses, every
transport is held to them (``PinnedNetwork``) and refuses any other host.
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from clue.core.errors import UsageError, installed, require
from clue.core.redact import redact
from clue.core.urls import parse_endpoint
from clue.models import netio

#: (host, port) -> the addresses the egress guard checked (None: approved by name, the client resolves it).
#: Endpoint by endpoint: two URLs with one host name and different ports are two pins. A port of None
#: (a pin given by host name alone) holds every port of that host.
Pins = Mapping["tuple[str, int | None]", "tuple[str, ...] | None"]


def pins_of(addresses: Mapping[str, Sequence[str] | None]) -> dict[tuple[str, int | None], tuple[str, ...] | None]:
    """``Backend.pin``'s argument (endpoint ``scheme://host:port``, or a bare host) as (host, port) -> addresses.

    Two endpoints on one host and port (``http`` and ``https``) share a pin: the checked addresses of
    both (an approval by name yields to the addresses that were checked).
    """
    pins: dict[tuple[str, int | None], tuple[str, ...] | None] = {}
    for key, found in addresses.items():
        if "://" in key:
            endpoint = parse_endpoint(key)
            where: tuple[str, int | None] = (endpoint.host, endpoint.port)
        else:
            where = (_host_key(key), None)
        given = tuple(found) if found is not None else None
        before = pins.get(where)
        if where not in pins or before is None:
            pins[where] = given
        elif given is not None:
            pins[where] = tuple(dict.fromkeys((*before, *given)))
    return pins


def _host_key(host: str) -> str:
    key = host.lower().strip("[]")
    if ":" in key:
        try:
            return str(ipaddress.IPv6Address(key))
        except ValueError:
            return key
    return key


def load_httpx() -> Any:
    """httpx, or a UsageError naming the extra to install."""
    if "httpx" not in sys.modules:
        # httpx imports its own command-line client (click, pygments, rich.progress,
        # rich.syntax) whenever click is installed, as it is here (rouge-score needs
        # nltk, which needs click): 26 ms of every `clue run` before its first
        # request (bench/bench_startup.py). clue never runs that client, so its
        # import is declined; httpx then defines a stub `httpx.main` instead.
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    return require("httpx", "openai", "The openai: backend")


def need_httpx() -> None:
    """Fail now, naming the extra, when httpx (and the httpcore it brings) is not installed; imports nothing."""
    installed("httpx", "openai", "The openai: backend")
    installed("httpcore", "openai", "The openai: backend")


def failure_kind(exc: BaseException) -> str | None:
    """``"timeout"``, ``"connect"`` or ``"transport"`` for a network failure of httpx or httpcore (which clue's
    HTTP/1.1 client raises); None for anything else. Reads only the libraries already loaded."""
    for name, timeout, connect, transport in (
        ("httpx", "TimeoutException", "ConnectError", ("TransportError",)),
        ("httpcore", "TimeoutException", "ConnectError", ("NetworkError", "ProtocolError", "UnsupportedProtocol",
                                                          "ProxyError")),
    ):
        module = sys.modules.get(name)
        if module is None:
            continue
        if isinstance(exc, getattr(module, timeout)):
            return "timeout"
        if isinstance(exc, getattr(module, connect)):
            return "connect"
        if isinstance(exc, tuple(getattr(module, t) for t in transport)):
            return "transport"
    return None


def direct_network(pins: Pins | None) -> Any:
    """The network layer of clue's HTTP/1.1 client: netio's, held to ``pins`` when the egress guard gave them."""
    layer = netio.AsyncioBackend()
    return AsyncPinnedNetwork(layer, pins) if pins is not None else layer


def same_for_the_client(url: str) -> None:
    """Refuse a URL that httpx would read with another host or port than clue's checks did."""
    httpx = load_httpx()
    ours = parse_endpoint(url)
    try:
        theirs = httpx.URL(url)
        port = theirs.port or {"http": 80, "https": 443}.get(theirs.scheme)
        # raw_host: the name as sent (an xn-- name stays xn--; .host would decode it), compared in one form
        host = _host_key(theirs.raw_host.decode("ascii"))
    except (httpx.InvalidURL, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise UsageError(f"openai backend: not a URL the client can use ({exc.__class__.__name__}): {redact(url)!r}") from None
    if host != _host_key(ours.host) or port != ours.port:
        raise UsageError(f"openai backend: the client would read {redact(url)!r} as another address; refusing it")


def make_transport(proxy: str | None, pins: Pins | None, sync: bool = False, **settings: Any) -> tuple[Any, str | None]:
    """An httpx transport through ``proxy``, on clue's network layer (async only), held to ``pins`` when given.

    Proxies connect through the layer too, since httpcore's proxy pools open
    their connections with the pool's network backend; the pinning wraps
    whichever layer is in use. The sync client (the model listing) keeps
    httpcore's default. Returns the transport and the name of the async
    layer it uses (None: not decided here).
    """
    httpx = load_httpx()
    kind = httpx.HTTPTransport if sync else httpx.AsyncHTTPTransport
    transport = kind(proxy=proxy, **settings)
    network = None if sync else netio.network_backend()
    if network is None and pins is None:
        return transport, None
    layer = None
    pool = getattr(transport, "_pool", None)
    if pool is None or not hasattr(pool, "_network_backend"):
        if pins is not None:
            raise UsageError(f"openai backend: httpx {httpx.__version__} cannot be held to the checked addresses")
        network = None  # an httpx whose pool cannot take another layer: it keeps its own
    elif network is not None:
        pool._network_backend = network
    if not sync:
        layer = netio.layer_name(network)
    if pins is not None and pool is not None:
        pinned = PinnedNetwork if sync else AsyncPinnedNetwork
        pool._network_backend = pinned(pool._network_backend, pins)
    return transport, layer


class PinnedNetwork:
    """httpcore's network backend held to the addresses the egress guard checked (DNS is not asked again).

    TLS still checks the certificate against the host name (httpcore sends it as
    SNI), and the Host header keeps the name; only the TCP connection is pinned.
    A host the guard did not check is refused.
    """

    def __init__(self, inner: Any, pins: Pins):
        self.inner = inner
        self.pins = pins

    def _addresses(self, host: str, port: int) -> tuple[str, ...]:
        key = _host_key(host)
        for where in ((key, port), (key, None)):
            if where in self.pins:
                return self.pins[where] or (host,)
        import httpcore
        raise httpcore.ConnectError(f"egress guard: {host}:{port} was not checked; not connecting to it")

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options: Any = None) -> Any:
        last: Exception | None = None
        for address in self._addresses(host, port):
            try:
                return self.inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                              socket_options=socket_options)
            except Exception as exc:
                if failure_kind(exc) not in ("connect", "timeout"):  # the next checked address is tried
                    raise
                last = exc
        assert last is not None
        raise last

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> Any:
        import httpcore

        raise httpcore.ConnectError("egress guard: no Unix sockets")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


class AsyncPinnedNetwork(PinnedNetwork):
    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None, socket_options: Any = None) -> Any:
        last: Exception | None = None
        for address in self._addresses(host, port):
            try:
                return await self.inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                                    socket_options=socket_options)
            except Exception as exc:
                if failure_kind(exc) not in ("connect", "timeout"):  # the next checked address is tried
                    raise
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Any = None) -> Any:
        import httpcore

        raise httpcore.ConnectError("egress guard: no Unix sockets")

    async def sleep(self, seconds: float) -> None:  # type: ignore[override]
        await self.inner.sleep(seconds)

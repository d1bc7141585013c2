"""Base URLs and proxy URLs of the OpenAI-compatible backend: checked, normalised, and redacted for the manifest."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from clue.core.errors import UsageError
from clue.core.redact import redact
from clue.core.urls import parse_endpoint

PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")


def normalise_proxy(url: str) -> str:
    """A proxy URL with its scheme (``http://`` when none is given, as clients assume); checked like a base URL."""
    url = url.strip()
    if "://" not in url:
        url = f"http://{url}"
    endpoint = parse_endpoint(url)
    if endpoint.scheme not in PROXY_SCHEMES:
        raise UsageError(f"openai backend: a proxy must be {', '.join(PROXY_SCHEMES)}, got {redact(url)!r}")
    return url


def normalise_base_url(url: str) -> str:
    """Strip spaces and a trailing slash; a URL with no path gets ``/v1`` (all the servers above use it)."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"openai backend: base_url must be an http(s) URL, got {redact(url)!r}")
    parse_endpoint(url)  # refuses hosts that clients could read differently
    if parts.username is not None or parts.password is not None:
        raise UsageError(
            f"openai backend: base_url {redact(url)!r} carries a user name or password (user:password@host): the "
            "client would send it as Basic authentication in place of the API key. Give the URL without it and the "
            "key in an environment variable (-O api_key_env=NAME; default OPENAI_API_KEY)"
        )
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

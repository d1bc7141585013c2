"""Endpoint URLs read one way only: what clue checks is what the HTTP client will connect to.

Python's ``urllib``, the HTTP client and the system resolver do not agree on
every URL: ``0177.0.0.1`` is 127.0.0.1 to ``inet_aton`` but an invalid address
to ``ipaddress``; ``2130706433`` and ``127.1`` are 127.0.0.1 to the resolver
and a host name to ``urlsplit``; a backslash or a second ``@`` moves the host
for a browser-style parser. Rather than guess which reading wins, such URLs
are refused (``UsageError``, exit 2):

- control characters, spaces and backslashes anywhere;
- more than one ``@`` in the authority;
- a host that is not ASCII (give its ``xn--`` form), or that holds
  characters other than letters, digits, ``.``, ``-`` and ``_``
  (percent-encoding, IPv6 zone ids);
- a host whose last label is a number (decimal or ``0x`` hex) but that is
  not a canonical dotted-quad IPv4 address (no leading zeros, four parts);
- a port that is not a number from 1 to 65535.

Error messages show the URL through ``clue.core.redact``: it may carry a
password or a key.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from clue.core.errors import UsageError
from clue.core.redact import redact

DEFAULT_PORTS = {"http": 80, "https": 443, "socks5": 1080, "socks5h": 1080}
_NAME = re.compile(r"^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")


@dataclass(frozen=True)
class Endpoint:
    scheme: str
    host: str  # lower case; an IPv6 address without brackets
    port: int | None

    @property
    def is_ip(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True

    def __str__(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{shown}:{self.port}" if self.port else f"{self.scheme}://{shown}"


def parse_endpoint(url: str) -> Endpoint:
    """Scheme, host and port of ``url`` (``https`` when it has no scheme); refuses ambiguous forms."""
    raw = url.strip()
    full = raw if "://" in raw else f"https://{raw}"
    shown = redact(raw)
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 or c == "\\" for c in full):
        raise UsageError(f"not an endpoint URL (spaces, control characters or backslashes): {shown!r}")
    parts = urlsplit(full)
    scheme = parts.scheme.lower()
    if not re.fullmatch(r"[a-z][a-z0-9+.-]*", scheme):
        raise UsageError(f"not an endpoint URL (bad scheme): {shown!r}")
    if parts.netloc.count("@") > 1:
        raise UsageError(f"not an endpoint URL (more than one '@' in the address): {shown!r}")
    host = check_host(parts.hostname or "", shown)
    try:
        port = parts.port
    except ValueError:
        raise UsageError(f"not an endpoint URL (bad port): {shown!r}") from None
    if port == 0:
        raise UsageError(f"not an endpoint URL (port 0): {shown!r}")
    return Endpoint(scheme, host, port or DEFAULT_PORTS.get(scheme))


def check_host(host: str, shown: str) -> str:
    """``host`` lower-cased, or ``UsageError`` when clients could read it differently (see the module)."""
    host = host.lower()
    if not host:
        raise UsageError(f"not an endpoint URL (no host): {shown!r}")
    if not host.isascii():
        raise UsageError(f"not an endpoint URL (the host is not ASCII; give its xn-- form): {shown!r}")
    if ":" in host:  # urlsplit keeps brackets out: an IPv6 literal
        if "%" in host:
            raise UsageError(f"not an endpoint URL (an IPv6 zone id): {shown!r}")
        try:
            return str(ipaddress.IPv6Address(host))
        except ValueError:
            raise UsageError(f"not an endpoint URL (not an IPv6 address, or one with a zone id): {shown!r}") from None
    if not _NAME.match(host):
        raise UsageError(f"not an endpoint URL (the host has characters a host name cannot have): {shown!r}")
    last = host.rstrip(".").rsplit(".", 1)[-1]
    if _NUMERIC_LABEL.match(last):
        try:
            canonical = str(ipaddress.IPv4Address(host))
        except ValueError:
            canonical = ""
        if canonical != host:
            raise UsageError(
                f"not an endpoint URL (a numeric host that is not a plain dotted-quad IPv4 address, such as "
                f"127.0.0.1; resolvers and HTTP clients read forms like 0177.0.0.1, 127.1 or 2130706433 "
                f"differently): {shown!r}"
            )
    return host

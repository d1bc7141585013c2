"""The egress guard: credentialed clinical text goes only where its data use agreement allows.

MedNLI, Problem Summary, MeDiSumQA and MeDiSumCode come from MIMIC through
PhysioNet, whose credentialed data use agreement forbids sharing the data
with anyone, including a third-party service that may keep, review or train
on what it is sent; PhysioNet's 2025 guidance on LLMs spells this out for
hosted model APIs. So before a single request is sent, every endpoint a
backend will talk to must be, for any credentialed task in the run:

- a loopback address (127.0.0.0/8, ::1) or the name ``localhost`` (and
  ``*.localhost``), or
- a private address (10/8, 172.16/12, 192.168/16, IPv6 fc00::/7), or a host
  name that resolves *only* to loopback or private addresses, or
- approved by the user, endpoint by endpoint (scheme, host and port exactly),
  on the command line or in the approvals file.

Host names are resolved with the system resolver (``getaddrinfo``): a name
such as ``gpu-node-3`` on a cluster passes when all its addresses are
private; a name that does not resolve is refused, since nothing can be said
about where it leads. The check runs once, before the run; it is a guard
against mistakes, not against a resolver that lies (DNS rebinding).

Approvals file (TOML), read from ``$CLUE_APPROVED_ENDPOINTS`` when set, else
``$XDG_CONFIG_HOME/clue/approved-endpoints.toml`` (``~/.config/clue/...``).
It lives in the user's own configuration, never in a project folder, so a
cloned repository cannot approve an endpoint on its user's behalf::

    # Endpoints my data use agreement covers for credentialed data.
    [[endpoint]]
    url = "https://llm.my-hospital.example:8443"
    note = "hospital-run vLLM, no retention (DUA addendum 2025-03)"

A file that cannot be read or parsed stops the run (exit 2): a typo there
must not silently turn approvals off.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from clue.core.access import is_credentialed
from clue.core.errors import ClueError, UsageError
from clue.formats.config import read_mapping
from clue.models.base import Backend

ENV_APPROVALS = "CLUE_APPROVED_ENDPOINTS"
DEFAULT_PORTS = {"http": 80, "https": 443}

LOCAL_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7")
)

Resolver = Callable[[str], list[str]]


class EgressRefused(ClueError):
    """A credentialed task would be sent to an endpoint that is neither local nor approved."""

    exit_code = 4


@dataclass(frozen=True)
class Verdict:
    endpoint: str  # scheme://host:port
    allowed: bool
    reason: str


def endpoint_of(url: str) -> str:
    """``scheme://host:port`` of a URL, lower-cased, with the scheme's default port filled in."""
    parts = urlsplit(url.strip() if "://" in url else f"https://{url.strip()}")
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if not host:
        raise UsageError(f"not an endpoint URL: {url!r}")
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        raise UsageError(f"not an endpoint URL (bad port): {url!r}") from None
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}" if port else f"{scheme}://{shown}"


def is_local_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    return any(ip in net for net in LOCAL_NETWORKS if net.version == ip.version)


def system_resolver(host: str) -> list[str]:
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return sorted({str(info[4][0]) for info in infos})


def classify(url: str, approved: Iterable[str], resolver: Resolver = system_resolver) -> Verdict:
    endpoint = endpoint_of(url)
    if endpoint in {endpoint_of(a) for a in approved}:
        return Verdict(endpoint, True, "approved by the user")
    host = (urlsplit(url).hostname or "").lower()
    try:
        local = is_local_address(host)
        return Verdict(endpoint, local, "loopback or private address" if local else "public address")
    except ValueError:
        pass  # a name, not an address
    if host == "localhost" or host.endswith(".localhost"):
        return Verdict(endpoint, True, "localhost")
    try:
        addresses = resolver(host)
    except (OSError, UnicodeError) as exc:
        return Verdict(endpoint, False, f"host name does not resolve ({exc})")
    if not addresses:
        return Verdict(endpoint, False, "host name resolves to no address")
    public = [a for a in addresses if not is_local_address(a)]
    if public:
        return Verdict(endpoint, False, f"resolves to public address {public[0]}")
    return Verdict(endpoint, True, "resolves only to loopback or private addresses")


def approvals_path() -> Path:
    if os.environ.get(ENV_APPROVALS):
        return Path(os.environ[ENV_APPROVALS]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "clue" / "approved-endpoints.toml"


def read_approvals(path: Path) -> list[str]:
    """Endpoint URLs listed in an approvals file (see the module's docstring)."""
    data = read_mapping(path, "approved-endpoints file", kind="toml")
    entries = data.get("endpoint", [])
    if not isinstance(entries, list):
        raise UsageError(f"{path}: 'endpoint' must be a list of tables ([[endpoint]] with url = \"...\")")
    urls = []
    for n, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            raise UsageError(f"{path}: endpoint entry {n} needs url = \"scheme://host:port\"")
        endpoint_of(entry["url"])  # validates
        urls.append(entry["url"])
    return urls


def check_egress(
    backend: Backend,
    tasks: Sequence[Any],
    approved: Sequence[str] = (),
    config_path: Path | None = None,
    resolver: Resolver = system_resolver,
) -> list[Verdict]:
    """Refuse (``EgressRefused``) before any request if a credentialed task would leave the user's network.

    ``tasks`` are Task objects (only ``name`` and ``access`` are read);
    ``approved`` are endpoint URLs from the command line; ``config_path``
    overrides where the approvals file is read (default: ``approvals_path()``,
    read when it exists). Returns the verdict for each endpoint.
    """
    credentialed = [t.name for t in tasks if is_credentialed(getattr(t, "access", None))]
    urls = backend.endpoints()
    if not credentialed or not urls:
        return []
    allowed = list(approved)
    path = config_path or approvals_path()
    if config_path is not None or path.is_file():
        allowed += read_approvals(path)
    verdicts = [classify(u, allowed, resolver) for u in urls]
    refused = [v for v in verdicts if not v.allowed]
    if refused:
        raise EgressRefused(refusal_message(refused, credentialed, path))
    return verdicts


def refusal_message(refused: Sequence[Verdict], tasks: Sequence[str], path: Path) -> str:
    lines = [
        f"refusing to send credentialed data ({', '.join(tasks)}) to "
        + ", ".join(f"{v.endpoint} ({v.reason})" for v in refused)
        + ". Nothing was sent.",
        "",
        "These tasks are credentialed: CLUE's use MIMIC data from PhysioNet, and a task file or package",
        "task counts as credentialed unless it declares access = \"public\". PhysioNet's credentialed data",
        "use agreement forbids sharing the data with third parties, and its guidance on LLMs (2025) says",
        "this includes online services that may keep, review or train on what they receive, such as most",
        "hosted model APIs.",
        "Run these tasks with an in-process backend (hf:, vllm:, llamacpp:) or a server on your own",
        "machine or private network, or run only the public tasks (--tasks meqsum,longhealth).",
        "",
        "PhysioNet's guidance describes when a hosted service can be acceptable (for example one contracted",
        "not to keep the data or have people review it). If your agreement covers this endpoint, approve it",
        "exactly, on the command line:",
        *(f"  --approve-endpoint {v.endpoint}" for v in refused),
        f"or add it to {path}:",
        *(f'  [[endpoint]]\n  url = "{v.endpoint}"\n  note = "why the agreement covers it"' for v in refused),
    ]
    return "\n".join(lines)

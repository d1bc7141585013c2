"""The egress guard: credentialed clinical text goes only where its data use agreement allows.

MedNLI, Problem Summary, MeDiSumQA and MeDiSumCode come from MIMIC through
PhysioNet, whose credentialed data use agreement forbids sharing the data
with anyone, including a third-party service that may keep, review or train
on what it is sent; PhysioNet's 2025 guidance on LLMs spells this out for
hosted model APIs. So before a single request is sent, every endpoint a
backend will connect to (its servers and any proxy in between) must be, for
any credentialed task in the run:

- a loopback or private address (127.0.0.0/8, 10/8, 172.16/12, 192.168/16,
  ::1, fc00::/7), or a host name whose addresses are *all* such addresses, or
- approved by the user, endpoint by endpoint (scheme, host and port exactly),
  on the command line (``--approve-endpoint``) or in the user's own approvals
  file; never in a sweep file or anything else a project folder carries.

Host names are resolved once, with the system resolver (``getaddrinfo``),
``localhost`` included; a name that does not resolve is refused. The
addresses that were checked are handed to the backend (``Backend.pin``),
which connects to those addresses only, so a second, different answer from
DNS (rebinding) cannot redirect the run. URLs that clients could read
differently (``0177.0.0.1``, ``127.1``, a second ``@``) are refused as
malformed (``clue.core.urls``). docs/security.md states what this stops and
what it cannot.

Approvals file (TOML), read from ``$CLUE_APPROVED_ENDPOINTS`` when set, else
``$XDG_CONFIG_HOME/clue/approved-endpoints.toml`` (``~/.config/clue/...``).
Both count only as absolute paths: a relative ``XDG_CONFIG_HOME`` is ignored
(as the XDG specification says), and so is ``~/.config`` under a relative
``HOME``; a relative ``CLUE_APPROVED_ENDPOINTS`` stops the run, since any of
them would make the current folder (say, a cloned repository) the place
approvals come from. A file owned by another user (root aside), or writable
by group or others, stops the run (exit 2)::

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
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clue.core.errors import ClueError, UsageError
from clue.core.urls import parse_endpoint
from clue.formats.config import read_mapping
from clue.models.base import Backend
from clue.pipeline.trust import Confirmations, decide_all, needs_confirmation, read_public_tasks

ENV_APPROVALS = "CLUE_APPROVED_ENDPOINTS"

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
    host: str = ""
    # The addresses checked, which the backend must connect to; empty for an
    # approved endpoint (the user approved the name, wherever it leads).
    addresses: tuple[str, ...] = ()
    # Which approval let it through ("--approve-endpoint", or the approvals file's path); "" when none was needed.
    approval: str = ""

    def record(self) -> dict[str, Any]:
        """What the manifest keeps of an endpoint an approval let through."""
        return {"endpoint": self.endpoint, "approved_by": self.approval, "pinned": False}


def endpoint_of(url: str) -> str:
    """``scheme://host:port`` of a URL, lower-cased, with the scheme's default port filled in."""
    return str(parse_endpoint(url))


def is_local_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    return any(ip in net for net in LOCAL_NETWORKS if net.version == ip.version)


def system_resolver(host: str) -> list[str]:
    """Every address ``getaddrinfo`` gives for ``host``, in its order, each once."""
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


COMMAND_LINE = "--approve-endpoint"


def classify(url: str, approved: Iterable[str] | Mapping[str, str], resolver: Resolver | None = None) -> Verdict:
    """Whether ``url`` may receive credentialed data, decided by every address it leads to.

    ``approved``: endpoint URLs, or a mapping of endpoint URL -> where the approval came from.
    """
    parsed = parse_endpoint(url)
    endpoint, host = str(parsed), parsed.host
    sources = dict(approved) if isinstance(approved, Mapping) else dict.fromkeys(approved, COMMAND_LINE)
    by = {endpoint_of(a): source for a, source in reversed(list(sources.items()))}
    if endpoint in by:
        return Verdict(endpoint, True, "approved by the user", host, approval=by[endpoint])
    if parsed.is_ip:
        local = is_local_address(host)
        reason = "loopback or private address" if local else "not a loopback or private address"
        return Verdict(endpoint, local, reason, host, (host,))
    try:
        addresses = (resolver or system_resolver)(host)
    except (OSError, UnicodeError) as exc:
        return Verdict(endpoint, False, f"host name does not resolve ({exc})", host)
    if not addresses:
        return Verdict(endpoint, False, "host name resolves to no address", host)
    try:
        outside = [a for a in addresses if not is_local_address(a)]
    except ValueError as exc:
        return Verdict(endpoint, False, f"the resolver gave something that is not an address ({exc})", host)
    if outside:
        return Verdict(endpoint, False, f"resolves to {outside[0]}, not a loopback or private address", host)
    return Verdict(endpoint, True, "resolves only to loopback or private addresses", host, tuple(addresses))


def approvals_path() -> Path:
    """Where the user's approvals file is; only absolute locations count (see the module's docstring)."""
    explicit = os.environ.get(ENV_APPROVALS)
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_absolute():
            raise UsageError(
                f"{ENV_APPROVALS}={explicit!r} is a relative path: it would read approvals from whatever folder "
                "clue runs in (a cloned repository, say). Give an absolute path."
            )
        return path
    xdg = os.environ.get("XDG_CONFIG_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "clue" / "approved-endpoints.toml"
    home = os.environ.get("HOME")
    if home is not None and not Path(home).is_absolute():
        # HOME=. would make the current folder (a cloned repository) the place approvals come from.
        return NO_APPROVALS
    return Path.home() / ".config" / "clue" / "approved-endpoints.toml"


#: where approvals are read when HOME is relative: nowhere (no file has this name)
NO_APPROVALS = Path("/nonexistent/clue-relative-HOME-is-ignored/approved-endpoints.toml")


def check_owner(path: Path) -> None:
    """Refuse (exit 2) an approvals file someone else could have written: it decides where credentialed data goes."""
    try:
        st = path.stat()
    except OSError:
        return  # reading it says what is wrong
    uid = os.getuid() if hasattr(os, "getuid") else None
    if uid is not None and st.st_uid not in (uid, 0):
        raise UsageError(f"{path}: the approvals file belongs to another user (uid {st.st_uid}), not you (uid {uid}); "
                         "approvals count only from a file you own. Move it aside, or copy it into a file of your own")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UsageError(f"{path}: the approvals file is writable by others (mode {stat.S_IMODE(st.st_mode):o}); "
                         f"approvals count only from a file only you can write: chmod go-w {path}")


def read_approvals(path: Path) -> list[str]:
    """Endpoint URLs listed in an approvals file (see the module's docstring)."""
    return read_user_file(path)[0]


def read_user_file(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The approvals file's endpoint URLs and its ``[[public_task]]`` entries (``clue.pipeline.trust``)."""
    check_owner(path)
    data = read_mapping(path, "approved-endpoints file", kind="toml")
    entries = data.get("endpoint", [])
    if not isinstance(entries, list):
        raise UsageError(f"{path}: 'endpoint' must be a list of tables ([[endpoint]] with url = \"...\")")
    urls = []
    for n, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            raise UsageError(f"{path}: endpoint entry {n} needs url = \"scheme://host:port\"")
        try:
            endpoint_of(entry["url"])  # validates
        except UsageError as exc:
            raise UsageError(f"{path}: endpoint entry {n}: {exc}") from None
        urls.append(entry["url"])
    return urls, read_public_tasks(data, path)


def check_egress(
    backend: Backend,
    tasks: Sequence[Any],
    approved: Sequence[str] = (),
    config_path: Path | None = None,
    resolver: Resolver | None = None,
    *,
    data: Mapping[str, Path | None] | None = None,
    public_tasks: Sequence[str] = (),
) -> list[Verdict]:
    """Refuse (``EgressRefused``) before any request if a credentialed task would leave the user's network.

    ``tasks`` are Task objects; ``data`` the data file each reads (default: a
    task file's own). Which of them count as credentialed is the user's to
    lower (``clue.pipeline.trust``): a task file's or package task's
    ``access = "public"`` counts only when ``public_tasks`` (``--public-task``)
    or the approvals file confirms it, and a known credentialed release is
    credentialed whatever is declared. ``approved`` are endpoint URLs from
    the command line; ``config_path`` overrides where the approvals file is
    read (default: ``approvals_path()``, read when it exists); ``resolver``
    replaces the system resolver (tests). When every endpoint passes, the
    backend is pinned to the addresses that were checked (``Backend.pin``).
    Returns the verdict for each endpoint.
    """
    backend.egress_record = None
    if not backend.endpoints():
        return []
    path = config_path or approvals_path()
    asks = any(needs_confirmation(t) for t in tasks)  # else the file is read only for endpoints, as before
    entries = read_user_file(path)[1] if asks and (config_path is not None or path.is_file()) else []
    files = {t.name: (data or {}).get(t.name) or _own_data(t) for t in tasks}
    decisions = decide_all(tasks, files, Confirmations.of(public_tasks, entries))
    credentialed = [d.name for d in decisions if d.credentialed]
    verdicts = guard(backend, credentialed, approved, config_path, resolver,
                     notes=[d.why for d in decisions if d.credentialed and d.why])
    confirmed = [{"task": d.name, "confirmed_by": d.confirmed_by} for d in decisions if d.confirmed_by]
    if confirmed:
        backend.egress_record = {**(backend.egress_record or {}), "public_tasks": confirmed}
    return verdicts


def _own_data(task: Any) -> Path | None:
    own = getattr(task, "own_data_file", None)
    return own() if callable(own) else None


def guard(
    backend: Backend,
    credentialed: Sequence[str],
    approved: Sequence[str] = (),
    config_path: Path | None = None,
    resolver: Resolver | None = None,
    notes: Sequence[str] = (),
) -> list[Verdict]:
    """The one door out: every component that sends credentialed text to a backend passes here first.

    ``credentialed`` names what would be sent (tasks, or a builder's source
    such as MIMIC-IV-Note); nothing credentialed, or a backend without
    endpoints, passes unchecked. Otherwise every endpoint must be local or
    approved (``EgressRefused``, exit 4, nothing sent), and the backend is
    then pinned, endpoint by endpoint, to the addresses that were checked.
    ``notes`` go into a refusal (why a task counts as credentialed).
    """
    urls = backend.endpoints()
    backend.egress_record = None
    if not credentialed or not urls:
        return []
    allowed: dict[str, str] = {}
    for url in approved:
        try:
            endpoint_of(url)
        except UsageError as exc:
            raise UsageError(f"--approve-endpoint: {exc}") from None
        allowed.setdefault(url, COMMAND_LINE)
    path = config_path or approvals_path()
    if config_path is not None or path.is_file():
        for url in read_approvals(path):
            allowed.setdefault(url, str(path))
    verdicts = [classify(u, allowed, resolver) for u in urls]
    refused = [v for v in verdicts if not v.allowed]
    if refused:
        proxies = {endpoint_of(p) for p in backend.proxies()}
        raise EgressRefused(refusal_message(refused, credentialed, path, proxies, notes))
    backend.pin({v.endpoint: v.addresses or None for v in verdicts})  # endpoint by endpoint, never by host name
    approvals = approvals_record(verdicts)
    backend.egress_record = {"approved": approvals} if approvals else None
    return verdicts


def approvals_record(verdicts: Sequence[Verdict]) -> list[dict[str, Any]] | None:
    """The endpoints an approval let through, for the manifest; None when none needed one (the key stays absent)."""
    used = [v.record() for v in verdicts if v.approval]
    return used or None


def refusal_message(refused: Sequence[Verdict], tasks: Sequence[str], path: Path, proxies: Iterable[str] = (),
                    notes: Sequence[str] = ()) -> str:
    proxies = set(proxies)
    lines = [
        f"refusing to send credentialed data ({', '.join(tasks)}) to "
        + ", ".join(f"{'the proxy ' if v.endpoint in proxies else ''}{v.endpoint} ({v.reason})" for v in refused)
        + ". Nothing was sent.",
        "",
        "These tasks are credentialed: CLUE's use MIMIC data from PhysioNet, and a task file or package",
        "task counts as credentialed unless it declares access = \"public\" and you confirm it (--public-task,",
        "docs/security.md). PhysioNet's credentialed data use agreement forbids sharing the data with third",
        "parties, and its guidance on LLMs (2025) says this includes online services that may keep, review",
        "or train on what they receive, such as most hosted model APIs.",
        *notes,
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

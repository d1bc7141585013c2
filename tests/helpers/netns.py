"""Engines that bind on their own (Ray) are started only where the network is loopback alone.

Ray's local cluster binds to the machine's own network interface and sends its
internal traffic there, not to 127.0.0.1, even when asked; it also probes cloud
metadata through an ``HTTP_PROXY`` if one is set (issue 21 item 10). Its tests
and benchmarks therefore run in a fresh network namespace that has only ``lo``
(``unshare -n`` with ``lo`` up, as root; ``.ci/run`` does it), and skip, saying
how, anywhere else.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Sequence

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def interfaces() -> list[str]:
    """The network interfaces this process can see (``lo`` alone in a loopback-only namespace)."""
    try:
        return [name for _index, name in socket.if_nameindex()]
    except OSError:
        return []


def only_loopback() -> bool:
    found = interfaces()
    return bool(found) and set(found) == {"lo"}


def in_loopback_namespace(argv: Sequence[str]) -> list[str] | None:
    """``argv`` run in a new network namespace with only ``lo`` up, or None where that cannot be made (not root)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None:
        return None
    return ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *argv]


NOT_LOOPBACK_ONLY = (
    "Ray binds to this machine's network interfaces ({found}); its tests run only in a loopback-only network "
    "namespace: unshare -n sh -c 'ip link set lo up && python -m pytest tests/cluster' (as root; .ci/run does this)"
)


def not_loopback_only_reason() -> str:
    return NOT_LOOPBACK_ONLY.format(found=", ".join(interfaces()) or "unknown")

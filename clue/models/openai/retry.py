"""The retry policy: which failed attempts are worth repeating, and how long to wait before the next one.

429, 408, 409, 425 and 5xx answers, timeouts, dropped connections and bodies
that are not the expected JSON are retried (``Retry``); other 4xx answers are
final (``Final``). The wait is exponential backoff with equal jitter, or the
server's ``Retry-After`` (docs/serving.md, "Retries and failures").
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping

RETRY_STATUS = frozenset({408, 409, 425, 429})
# Jitter only spreads retries in time; it never touches what is generated, so
# it has its own unseeded generator rather than one from clue.core.seeding.
_JITTER = random.Random()


class Retry(Exception):
    """A failed attempt that is worth repeating."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class Final(Exception):
    """A failed attempt that repeating cannot fix."""


def worth_retrying(status: int) -> bool:
    """Whether an HTTP status other than 200 may go away on its own."""
    return status in RETRY_STATUS or status >= 500


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


def retry_delay(attempt: int, retry_after: float | None, *, backoff_base: float, backoff_max: float,
                retry_after_max: float) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
    if retry_after is not None:
        # The server said when: wait that long (within reason), plus a
        # little spread so the waiting workers do not return in one burst.
        wait = min(retry_after, retry_after_max)
        return wait + _JITTER.random() * min(1.0, wait / 10)
    backoff = min(backoff_max, backoff_base * 2 ** (attempt - 1))
    # Equal jitter: half the backoff is fixed, half random, so many workers
    # that failed together do not come back together.
    return backoff / 2 + _JITTER.random() * backoff / 2

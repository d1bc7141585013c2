"""Secrets out of everything clue writes or prints: one redaction, used for URLs, command lines and error texts.

What it hides:

- the user information of any URL (``scheme://user:password@host`` becomes
  ``scheme://***@host``): clients send it as Basic authentication;
- the value of any query parameter whose name says it is a secret
  (``api_key``, ``api-key``, ``key``, ``token``, ``access_token``,
  ``password``, ``secret``, ``sig``, ...): ``?api_key=sk-1`` becomes
  ``?api_key=***``;
- a bearer token (``Bearer sk-...``), and Basic credentials (``Basic dXNlcjpwYXNz``: base64 of
  ``user:password``, as a server may echo the header);
- each secret given by the caller (an API key read from the environment), and
  any prefix of it of at least ``MIN_PREFIX`` characters: a server that cuts
  its own error text may echo a key in part.

Mask first, then shorten: ``shorten(redact(text, key), 300)``; cutting first
could leave part of a key that no longer matches.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Sequence

MASK = "***"
MIN_PREFIX = 6  # a shorter prefix of a key is not worth hiding (and would mask ordinary words)

_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/?#\s@'\"]*)@")
_SECRET_QUERY = re.compile(
    r"(?P<name>(?:[?&;]|\b)(?:api[_-]?key|apikey|key|token|access[_-]?token|auth|authorization|password|passwd|pwd"
    r"|secret|client[_-]?secret|sig|signature|x-api-key))=(?P<value>[^&#\s'\"]+)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?P<word>\bBearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_BASIC = re.compile(r"(?P<word>\bBasic\s+)(?P<token>[A-Za-z0-9+/]+={0,2})", re.IGNORECASE)


def _basic(match: re.Match[str]) -> str:
    """``Basic ***`` where the token is credentials (base64 of ``user:password``); other words stay."""
    try:
        decoded = base64.b64decode(match["token"], validate=True)
    except (binascii.Error, ValueError):
        return match[0]
    return f"{match['word']}{MASK}" if b":" in decoded else match[0]


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with URL credentials, secret query values, bearer tokens, Basic credentials and the given secrets masked."""
    for secret in secrets:
        if secret:
            text = _mask_secret(text, secret)
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@" if m["userinfo"] else m[0], text)
    text = _SECRET_QUERY.sub(lambda m: f"{m['name']}={MASK}", text)
    text = _BASIC.sub(_basic, text)
    return _BEARER.sub(lambda m: f"{m['word']}{MASK}", text)


def redact_command(argv: Sequence[str]) -> list[str]:
    """A command line as the manifest may record it: each argument redacted."""
    return [redact(str(arg)) for arg in argv]


def shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters, with ``...`` when cut; call it after ``redact``."""
    return text[:limit] + ("..." if len(text) > limit else "")


def _mask_secret(text: str, secret: str) -> str:
    """Mask ``secret`` and every prefix of it at least ``MIN_PREFIX`` long (the whole secret when shorter)."""
    head = secret[: min(MIN_PREFIX, len(secret))]
    out: list[str] = []
    i = 0
    while True:
        j = text.find(head, i)
        if j < 0:
            out.append(text[i:])
            return "".join(out)
        n = len(head)
        while n < len(secret) and j + n < len(text) and text[j + n] == secret[n]:
            n += 1
        out.append(text[i:j] + MASK)
        i = j + n

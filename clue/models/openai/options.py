"""The OpenAI-compatible backend's ``-O KEY=VALUE`` options, validated into ``ClientSettings``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from clue.core.chat import ChatLayout, parse_layout
from clue.core.errors import UsageError
from clue.models.openai.urls import normalise_base_url, normalise_proxy

DEFAULT_CONCURRENCY = 32  # local engines batch well; hosted APIs usually want fewer


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
        import urllib.request  # 14 ms (http.client, email): only when the environment's proxies are read

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

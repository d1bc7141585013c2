"""Start-up costs of the OpenAI-compatible backend: one TLS context (a bare one for plain http), one hash per request."""

from __future__ import annotations

import ssl

import pytest

from tests.helpers.serving import need_serving_packages

need_serving_packages()

import httpx

from clue.core.records import Decoding, Message, Request
from clue.models import load_backend
from clue.store.runs import request_key


def requests_for(n: int) -> list[Request]:
    return [Request(id=f"r{i}", messages=[Message("user", f"question item-{i} ?")], decoding=Decoding(max_new_tokens=4))
            for i in range(n)]


def test_plain_http_builds_one_bare_tls_context_and_loads_no_ca_store(serve, monkeypatch):
    server = serve()
    made: list[str] = []
    real_create = httpx.create_ssl_context
    real_default = ssl.create_default_context
    monkeypatch.setattr(httpx, "create_ssl_context", lambda *a, **k: made.append("httpx") or real_create(*a, **k))
    monkeypatch.setattr(ssl, "create_default_context", lambda *a, **k: made.append("default") or real_default(*a, **k))
    backend = load_backend("openai:fake-model", {"base_url": server.url, "concurrency": 8})
    try:
        assert backend.context_length is None or backend.context_length > 0  # the model query shares the context
        completions = list(backend.generate(requests_for(20)))
    finally:
        backend.close()
    assert all(c.ok for c in completions)
    assert made == [], "no CA store loaded and no per-client context for a plain-http server"
    assert backend._tls() is backend._tls()  # one context, shared by every client
    assert backend._tls().verify_mode == ssl.CERT_NONE


def test_https_servers_get_one_verifying_context():
    backend = load_backend("openai:m", {"base_url": "https://server.invalid/v1"})
    try:
        ctx = backend._tls()
        assert ctx is backend._tls() and ctx.verify_mode == ssl.CERT_REQUIRED
    finally:
        backend.close()


def test_prompt_hash_is_computed_once_per_request(monkeypatch):
    import clue.core.records as records

    calls = []
    real = records.sha256_text
    monkeypatch.setattr(records, "sha256_text", lambda text: calls.append(1) or real(text))
    request = requests_for(1)[0]
    first = request.prompt_hash()
    request_key(request, "system")
    assert request.prompt_hash() == first and len(calls) == 1
    # A request whose messages change is hashed again.
    request.messages = [Message("user", "another question")]
    assert request.prompt_hash() != first and len(calls) == 2


def test_prompt_hash_is_unchanged_by_the_cache():
    request = requests_for(1)[0]
    fresh = Request(id="other", messages=list(request.messages), decoding=request.decoding)
    assert request.prompt_hash() == fresh.prompt_hash()
    assert request == Request(id="r0", messages=list(request.messages), decoding=request.decoding)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/v1"])
def test_no_server_is_asked_before_generate(url):
    backend = load_backend("openai:m", {"base_url": url, "context_length": 4096})
    try:
        assert backend.context_length == 4096  # given: no model listing needed
        assert backend._server_model is None
    finally:
        backend.close()

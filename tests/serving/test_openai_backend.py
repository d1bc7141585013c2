"""The OpenAI-compatible backend against a real local HTTP server that injects faults."""

from __future__ import annotations

import json
import threading
from collections import Counter

import pytest

from tests.helpers.serving import need_serving_packages

need_serving_packages()

from clue.core.chat import plain_text
from clue.core.errors import UsageError
from clue.core.records import Decoding, Message, Request
from clue.models import load_backend
from clue.models.openai import OpenAIBackend
from clue.models.openai.retry import parse_retry_after
from clue.models.openai.urls import redact_url
from tests.helpers.fakeserver import key_of_answer

FAST_RETRIES = {"backoff_base": 0.01, "backoff_max": 0.05}


def requests_for(n: int, *, max_new_tokens: int = 6, temperature: float = 0.0, seed: int | None = None) -> list[Request]:
    return [
        Request(
            id=f"req-{i}",
            messages=[Message("system", "Answer briefly."), Message("user", f"Question about item-{i} please")],
            decoding=Decoding(max_new_tokens=max_new_tokens, temperature=temperature, seed=seed),
        )
        for i in range(n)
    ]


def backend_for(url: str, **options) -> OpenAIBackend:
    backend = load_backend("openai:fake-model", {"base_url": url, **options})
    assert isinstance(backend, OpenAIBackend)
    return backend


def test_every_request_completes_exactly_once_despite_faults(serve):
    faults = {
        "item-1 ": ["429:0.3", "ok"],
        "item-2 ": ["500", "500", "ok"],
        "item-3 ": ["hang"],
        "item-4 ": ["drop"],
        "item-5 ": ["badjson", "drop", "ok"],
        "item-6 ": ["429:0", "500", "hang", "ok"],
    }
    server = serve(faults=faults, hang_s=3.0)
    backend = backend_for(server.url, timeout=0.5, max_retries=4, concurrency=8, **FAST_RETRIES)
    requests = requests_for(60)

    completions = list(backend.generate(requests))

    assert sorted(c.request_id for c in completions) == sorted(r.id for r in requests)
    assert all(c.ok for c in completions), [c.error for c in completions if not c.ok]
    # Each prompt was answered exactly once by the server, and that answer is the one returned.
    delivered = server.successes()
    assert set(delivered.values()) == {1}
    assert {key_of_answer(c.text) for c in completions} == set(delivered)
    # Retries happened exactly as planned: one attempt per planned fault, plus the success.
    by_item = {int(c.request_id.split("-")[1]): c for c in completions}
    for marker, plan in faults.items():
        item = int(marker.split("-")[1])
        key = key_of_answer(by_item[item].text)
        assert server.attempts()[key] == len([o for o in plan if o != "ok"]) + 1
        assert by_item[item].meta["attempts"] == server.attempts()[key]


def test_retry_after_is_honoured(serve):
    server = serve(faults={"item-0 ": ["429:0.4"]})
    backend = backend_for(server.url, **FAST_RETRIES)
    [completion] = backend.generate(requests_for(1))
    first, second = server.log
    assert completion.ok
    assert (first.outcome, second.outcome) == ("429", "ok")
    # The backoff alone would have waited ~0.01 s; the server asked for 0.4 s.
    assert second.at - first.at >= 0.4


def test_a_request_whose_retries_run_out_comes_back_failed(serve):
    server = serve(faults={"item-2 ": ["500"] * 10, "item-3 ": ["400"]})
    backend = backend_for(server.url, max_retries=2, **FAST_RETRIES)
    completions = {c.request_id: c for c in backend.generate(requests_for(5))}

    failed = completions["req-2"]
    assert not failed.ok and failed.text is None
    assert "gave up after 3 attempts" in failed.error and "HTTP 500" in failed.error
    # A 400 is final: one attempt, the server's reason kept.
    rejected = completions["req-3"]
    assert not rejected.ok and "HTTP 400" in rejected.error and "longer than the context" in rejected.error
    assert Counter(h.outcome for h in server.log) == Counter({"500": 3, "400": 1, "ok": 3})
    assert all(completions[f"req-{i}"].ok for i in (0, 1, 4))


def test_completions_are_yielded_as_they_finish(serve):
    server = serve(faults={"item-0 ": ["hang"]}, hang_s=1.0)
    backend = backend_for(server.url, timeout=5, concurrency=4)
    order = [c.request_id for c in backend.generate(requests_for(6))]
    # The first request is slow; the others come back while it is still running.
    assert order[-1] == "req-0"
    assert sorted(order) == sorted(f"req-{i}" for i in range(6))


def test_stopping_early_cancels_what_is_in_flight(serve):
    server = serve(first_token_s=0.2)
    backend = backend_for(server.url, concurrency=2)
    stream = backend.generate(requests_for(40))
    first = next(stream)
    stream.close()
    assert first.ok
    assert not [t for t in threading.enumerate() if t.name == "clue-openai-client"]
    assert len(server.log) < 40


def test_chat_layouts_and_decoding_reach_the_server(serve):
    server = serve()
    request = requests_for(1, temperature=0.7, seed=11, max_new_tokens=3)

    list(backend_for(server.url).generate(requests_for(1)))
    list(backend_for(server.url, chat_layout="fold").generate(request))
    list(backend_for(server.url, chat_layout="plain").generate(request))
    system, fold, plain = (h.body for h in server.log)

    assert [m["role"] for m in system["messages"]] == ["system", "user"]
    assert system["temperature"] == 0.0 and system["max_tokens"] == 6 and "seed" not in system
    assert [m["role"] for m in fold["messages"]] == ["user"]
    assert fold["messages"][0]["content"].startswith("Answer briefly.\n\nQuestion about item-0")
    assert (fold["temperature"], fold["seed"], fold["max_tokens"]) == (0.7, 11, 3)
    assert [h.endpoint for h in server.log] == ["chat", "chat", "completions"]
    assert plain["prompt"] == plain_text(request[0].messages)


def test_replicas_share_the_work_and_cover_for_a_dead_one(serve):
    a, b = serve(first_token_s=0.02), serve(first_token_s=0.02)
    backend = backend_for(f"{a.url},{b.url}", concurrency=8)
    completions = list(backend.generate(requests_for(40)))
    assert all(c.ok for c in completions) and len(completions) == 40
    assert len(a.log) > 5 and len(b.log) > 5 and len(a.log) + len(b.log) == 40

    c = serve()
    dead = "http://127.0.0.1:9/v1"  # discard port: nothing listens there
    backend = backend_for(f"{dead},{c.url}", concurrency=4, **FAST_RETRIES)
    completions = list(backend.generate(requests_for(12)))
    assert all(c.ok for c in completions)
    assert set(c.successes().values()) == {1} and len(c.successes()) == 12


def test_api_key_is_sent_but_never_recorded(serve, monkeypatch, tmp_path):
    secret = "sk-test-7f3a9c-secret"
    monkeypatch.setenv("CLUE_TEST_KEY", secret)
    server = serve(api_key=secret)
    backend = backend_for(server.url, api_key_env="CLUE_TEST_KEY", **FAST_RETRIES)
    [completion] = backend.generate(requests_for(1))
    assert completion.ok and server.auth_headers == {f"Bearer {secret}"}
    assert secret not in json.dumps(backend.info()) and secret not in json.dumps(backend.options)

    monkeypatch.setenv("CLUE_TEST_KEY", "sk-wrong")
    [refused] = backend_for(server.url, api_key_env="CLUE_TEST_KEY").generate(requests_for(1))
    assert not refused.ok and "HTTP 401" in refused.error

    monkeypatch.delenv("CLUE_TEST_KEY")
    with pytest.raises(UsageError, match="CLUE_TEST_KEY"):
        backend_for(server.url, api_key_env="CLUE_TEST_KEY")


def test_context_length_from_option_server_or_unknown(serve):
    server = serve(max_model_len=2048)
    assert backend_for(server.url).context_length == 2048
    assert backend_for(server.url, context_length=512).context_length == 512
    silent = serve(max_model_len=None)
    backend = backend_for(silent.url)
    assert backend.context_length is None
    assert "context_length" in backend.info()["context_length_source"]


def test_nothing_is_sent_before_generate_or_a_context_question(serve):
    server = serve()
    backend = backend_for(server.url, context_length=1000)
    backend.endpoints(), backend.layout, backend.tokenizer, backend.context_length
    assert server.log == [] and server.requests == 0


def test_options_are_validated():
    with pytest.raises(UsageError, match="base_url"):
        load_backend("openai:m", {})
    with pytest.raises(UsageError, match="unknown option"):
        load_backend("openai:m", {"base_url": "http://127.0.0.1:1/v1", "concurency": 3})
    with pytest.raises(UsageError, match="concurrency"):
        load_backend("openai:m", {"base_url": "http://127.0.0.1:1/v1", "concurrency": 0})
    backend = load_backend("openai:m", {"base_url": "http://127.0.0.1:8000, http://10.0.0.2:8000/v1/"})
    assert backend.endpoints() == ["http://127.0.0.1:8000/v1", "http://10.0.0.2:8000/v1"]


def test_manifest_urls_lose_credentials_and_query():
    assert redact_url("https://user:pw@api.example.com:8443/v1?api-key=abc#x") == "https://api.example.com:8443/v1"
    assert redact_url("http://[::1]:8000/v1") == "http://[::1]:8000/v1"


def test_retry_after_forms():
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # a date in the past
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


NO_SYSTEM_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
    "{% endif %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def save_tokenizer(folder, chat_template):
    """A tiny word-level tokenizer saved as a Hugging Face folder (built here, never downloaded)."""
    tokenizers = pytest.importorskip("tokenizers", reason="the tokenizer option needs the hf extra")
    transformers = pytest.importorskip("transformers", reason="the tokenizer option needs the hf extra")
    vocab = {w: i for i, w in enumerate(["[UNK]", "question", "about", "please", "answer", "briefly."])}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.WhitespaceSplit()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")
    if chat_template:
        fast.chat_template = chat_template
    fast.save_pretrained(folder)
    return str(folder)


def test_a_local_tokenizer_counts_tokens_and_its_template_picks_the_layout(serve, tmp_path):
    server = serve()
    path = save_tokenizer(tmp_path / "tok", NO_SYSTEM_TEMPLATE)
    backend = backend_for(server.url, tokenizer=path)
    assert backend.tokenizer.count("Question about item-7 please") == 4
    assert backend.layout.value == "fold"
    list(backend.generate(requests_for(1)))
    assert [m["role"] for m in server.log[0].body["messages"]] == ["user"]

    base = backend_for(server.url, tokenizer=save_tokenizer(tmp_path / "base", None))
    assert base.layout.value == "plain"
    assert backend_for(server.url, tokenizer=path, chat_layout="system").layout.value == "system"

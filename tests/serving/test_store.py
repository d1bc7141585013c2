"""The run store: commit per completion, reuse of answers, failures retried, re-scoring without a model."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence

import pytest

from clue.core.chat import ChatLayout
from clue.core.records import Completion, Decoding, Message, Request
from clue.models.base import Backend
from clue.models.openai import OpenAIBackend
from clue.pipeline.config import RunSpec
from clue.pipeline.generate import StoreBackend, stored_generate
from clue.pipeline.run import evaluate
from clue.store.runs import RunStore, load_completions, model_key, request_key
from tests.helpers.serving import write_mednli


class ScriptedBackend(Backend):
    """Answers from a rule, records what it was asked, fails the ids it is told to."""

    kind = "scripted"

    def __init__(self, fail: set[str] = frozenset(), version: str = "a", options=None):
        super().__init__("scripted-model", options or {})
        self.fail = set(fail)
        self.version = version
        self.asked: list[str] = []

    @property
    def layout(self) -> ChatLayout:
        return ChatLayout.SYSTEM

    def generate(self, requests: Sequence[Request]) -> Iterator[Completion]:
        for r in requests:
            self.asked.append(r.id)
            if r.id in self.fail:
                yield Completion(r.id, None, error="server said no")
            else:
                label = ("ENTAILMENT", "NEUTRAL", "CONTRADICTION")[len(r.id) % 3]
                yield Completion(r.id, f"{label} ({self.version} {r.id})")


def make_requests(n: int, temperature: float = 0.0) -> list[Request]:
    return [
        Request(f"t/{i}", [Message("user", f"q{i}")], Decoding(8, temperature=temperature))
        for i in range(n)
    ]


def test_stored_answers_are_reused_and_only_the_rest_is_sent(tmp_path):
    requests = make_requests(6)
    with RunStore(tmp_path / "store.sqlite") as store:
        first = ScriptedBackend()
        list(stored_generate(first, requests[:4], store))
        second = ScriptedBackend(version="b")
        out = list(stored_generate(second, requests, store))
    assert second.asked == ["t/4", "t/5"]
    assert [c.request_id for c in out] == [f"t/{i}" for i in range(6)]  # stored ones first
    assert [c.text.split()[1] for c in out] == ["(a"] * 4 + ["(b"] * 2


def test_each_completion_is_committed_before_it_is_yielded(tmp_path):
    path = tmp_path / "store.sqlite"
    with RunStore(path) as store:
        stream = stored_generate(ScriptedBackend(), make_requests(5), store)
        next(stream), next(stream)
        # Another connection (another process, in real life) already sees both.
        assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM completions").fetchone() == (2,)
        assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_failures_are_recorded_retried_and_never_overwrite_an_answer(tmp_path):
    requests = make_requests(3)
    with RunStore(tmp_path / "s.sqlite") as store:
        out = {c.request_id: c for c in stored_generate(ScriptedBackend(fail={"t/1"}), requests, store)}
        assert not out["t/1"].ok and store.counts() == {"ok": 2, "failed": 1}

        retry = ScriptedBackend()
        out = {c.request_id: c for c in stored_generate(retry, requests, store)}
        assert retry.asked == ["t/1"] and out["t/1"].ok
        assert store.counts() == {"ok": 3, "failed": 0}

        # --refresh asks again; a failure then leaves the earlier answer in place.
        again = ScriptedBackend(fail={"t/0"}, version="c")
        out = {c.request_id: c for c in stored_generate(again, requests, store, refresh=True)}
        assert again.asked == ["t/0", "t/1", "t/2"]
        key = model_key(again.identity())
        answers = store.answers(key)
        assert {row.text.split()[1] for row in answers.values()} == {"(a", "(c"}
        assert store.counts() == {"ok": 3, "failed": 0}


def test_keys_follow_what_the_model_sees():
    a, b = make_requests(2)
    assert request_key(a, ChatLayout.SYSTEM) != request_key(a, ChatLayout.FOLD)
    same_prompt_other_id = Request("other", a.messages, a.decoding)
    assert request_key(a, "system") == request_key(same_prompt_other_id, "system")
    longer = Request(a.id, a.messages, Decoding(9))
    assert request_key(a, "system") != request_key(longer, "system")
    # Unseeded sampling: each request is its own draw.
    s1, s2 = make_requests(2, temperature=0.8)
    s2 = Request("other", s1.messages, s1.decoding)
    assert request_key(s1, "system") != request_key(s2, "system")


def test_model_key_ignores_where_the_model_runs_but_not_what_it_is(monkeypatch):
    pytest.importorskip("httpx", reason="the OpenAI-compatible backend needs httpx (.ci/install-serving.sh)")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-never-in-the-key")
    here = OpenAIBackend("m", {"base_url": "http://127.0.0.1:8000/v1", "concurrency": 4})
    there = OpenAIBackend("m", {"base_url": "http://10.0.0.5:9000/v1,http://10.0.0.6:9000/v1", "timeout": 5})
    folded = OpenAIBackend("m", {"base_url": "http://127.0.0.1:8000/v1", "chat_layout": "fold"})
    other = OpenAIBackend("m2", {"base_url": "http://127.0.0.1:8000/v1"})
    keys = [model_key(b.identity()) for b in (here, there, folded, other)]
    assert keys[0] == keys[1] and len(set(keys)) == 3
    assert "sk-never" not in str(here.identity())
    # Backends without identity(): options that change answers count, placement and secrets do not.
    plain = ScriptedBackend(options={"dtype": "bfloat16", "tensor_parallel_size": 4, "hf_token": "x"})
    assert plain.identity()["options"] == {"dtype": "bfloat16"}


def test_rescoring_from_the_store_reproduces_the_run(tmp_path):
    data = write_mednli(tmp_path / "mli_test_v1.jsonl", 12)
    run = tmp_path / "run"
    config = RunSpec(model="scripted", tasks=["mednli"], output=run, data={"mednli": data}, command=["test"])
    backend = ScriptedBackend(fail={"mednli/pair-0005"})
    with RunStore(run / "store.sqlite") as store:
        results = evaluate(config, backend, generate=lambda b, r: stored_generate(b, r, store))
    assert results.tasks["mednli"].diagnostics["failed_requests"] == 1

    completions = load_completions(run / "store.sqlite")
    assert len(completions) == 9 and not completions["mednli/pair-0005"].ok

    again = tmp_path / "again"
    rescore = StoreBackend(run / "store.sqlite")
    try:
        evaluate(RunSpec(**{**config.__dict__, "output": again}), rescore)
    finally:
        rescore.close()
    for name in ("results.json", "predictions/mednli.jsonl"):
        assert (again / name).read_bytes() == (run / name).read_bytes()


def test_a_store_with_several_models_needs_a_choice(tmp_path):
    requests = make_requests(2)
    with RunStore(tmp_path / "s.sqlite") as store:
        list(stored_generate(ScriptedBackend(), requests, store))
        list(stored_generate(ScriptedBackend(options={"dtype": "float16"}), requests, store))
        assert len(store.models()) == 2
    with pytest.raises(Exception, match="holds 2 models"):
        load_completions(tmp_path / "s.sqlite")


def test_a_file_that_is_not_a_store_is_refused(tmp_path):
    bad = tmp_path / "store.sqlite"
    bad.write_text("not sqlite at all, just text " * 100)
    with pytest.raises(Exception, match="not a usable clue run store"):
        RunStore(bad)

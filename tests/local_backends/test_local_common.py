"""The shared in-process logic (clue.models.local), with no engine installed."""

from __future__ import annotations

import pytest

from clue.core.chat import ChatLayout
from clue.core.errors import UsageError
from clue.core.records import Decoding, Message, Request
from clue.core.tokens import CallableTokenizer
from clue.models.local import (
    LocalBackend,
    PromptTooLong,
    choose_layout,
    fingerprint_weights,
    generation_budget,
    render_prompt,
    split_options,
)

MESSAGES = [Message("system", "SYS"), Message("user", "Q1"), Message("assistant", "A1"), Message("user", "Q2")]


def echo_render(messages):
    return "|".join(f"{m['role']}:{m['content']}" for m in messages) + "|assistant:"


def rejecting_render(messages):
    if any(m["role"] == "system" for m in messages):
        raise ValueError("System role not supported")
    return echo_render(messages)


def test_layout_follows_the_template_unless_overridden():
    assert choose_layout(None, echo_render) == (ChatLayout.SYSTEM, "template")
    assert choose_layout("auto", rejecting_render) == (ChatLayout.FOLD, "template")
    assert choose_layout(None, None) == (ChatLayout.PLAIN, "no template")
    assert choose_layout("fold", echo_render) == (ChatLayout.FOLD, "option")
    assert choose_layout("plain", echo_render) == (ChatLayout.PLAIN, "option")
    with pytest.raises(UsageError):
        choose_layout("system", None)  # nothing could render a system turn
    with pytest.raises(UsageError):
        choose_layout("chatml", echo_render)


def test_render_prompt_per_layout():
    assert render_prompt(MESSAGES, ChatLayout.SYSTEM, echo_render) == "system:SYS|user:Q1|assistant:A1|user:Q2|assistant:"
    # fold: the system text opens the first user turn; the rejecting template accepts it
    assert render_prompt(MESSAGES, ChatLayout.FOLD, rejecting_render) == "user:SYS\n\nQ1|assistant:A1|user:Q2|assistant:"
    assert render_prompt(MESSAGES, ChatLayout.PLAIN, None) == "SYS\n\nQ1\n\nA1\n\nQ2\n\n"


def test_generation_budget_caps_or_refuses():
    assert generation_budget(100, 20, None) == 20
    assert generation_budget(100, 20, 200) == 20
    assert generation_budget(190, 20, 200) == 10  # capped to the room left
    with pytest.raises(PromptTooLong, match="200 tokens"):
        generation_budget(200, 20, 200)


def test_split_options_separates_engine_passthrough():
    own, rest = split_options({"chat_layout": "fold", "enforce_eager": True}, ("chat_layout",))
    assert own == {"chat_layout": "fold"} and rest == {"enforce_eager": True}


def test_fingerprint_hashes_small_files_only_when_allowed(tmp_path):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"abc")
    full = fingerprint_weights([weights])
    assert full["weight_bytes"] == 3
    assert full["weights_sha256"]["model.safetensors"] == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    assert "weights_sha256" not in fingerprint_weights([weights], hash_option=False)


class WordBackend(LocalBackend):
    """A fake engine: one token per word, echoes the last user turn."""

    kind = "fake"

    def __init__(self, context: int):
        super().__init__("fake", {})
        self._setup(
            tokenizer=CallableTokenizer("words", str.split, " ".join),
            context_length=context,
            render=echo_render,
            chat_template="{{ fake }}",
        )

    def encode_prompt(self, text, templated):
        return text.split()

    def _run(self, planned):
        from clue.core.records import Completion

        for p in planned:
            yield Completion(p.request.id, p.request.messages[-1].content, meta=p.meta(1, "stop"))


def request(rid: str, words: int, max_new: int = 5) -> Request:
    return Request(rid, [Message("user", " ".join(["w"] * words))], Decoding(max_new))


def test_too_long_prompt_fails_alone_and_the_rest_run():
    backend = WordBackend(context=20)
    done = {c.request_id: c for c in backend.generate([request("ok", 3), request("long", 40), request("tight", 17)])}
    assert set(done) == {"ok", "long", "tight"}
    assert done["ok"].ok and done["tight"].ok
    assert not done["long"].ok and "context is 20 tokens" in done["long"].error
    assert done["tight"].meta["max_new_tokens_capped_to"] == 20 - done["tight"].meta["prompt_tokens"]
    assert backend.info()["chat_layout"] == "system"

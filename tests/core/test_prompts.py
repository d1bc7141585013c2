"""Prompt building: chat layouts, seeded few-shot selection, templates, truncation."""

from __future__ import annotations

import pytest

from clue.core.chat import ChatLayout, apply_layout, detect_layout, fold_system, plain_text, probe_layout
from clue.core.records import Message
from clue.core.tokens import ApproxTokenizer
from clue.tasks import BuildContext, Templates, get_task
from clue.tasks.problem_summary.task import normalise_summary
from clue.tasks.shots import split_shots

MESSAGES = [
    Message("system", "SYS"),
    Message("user", "U1"),
    Message("assistant", "A1"),
    Message("user", "U2"),
]


def test_layouts():
    assert apply_layout(MESSAGES, ChatLayout.SYSTEM) == MESSAGES
    folded = apply_layout(MESSAGES, ChatLayout.FOLD)
    assert [m.role for m in folded] == ["user", "assistant", "user"]
    assert folded[0].content == "SYS\n\nU1"
    assert apply_layout(MESSAGES, ChatLayout.PLAIN) == "SYS\n\nU1\n\nA1\n\nU2\n\n"
    assert fold_system([Message("user", "only")]) == [Message("user", "only")]
    assert plain_text([Message("user", "x")]) == "x\n\n"


def test_detect_layout_from_template_text():
    assert detect_layout(None) is ChatLayout.PLAIN
    gemma_like = "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
    assert detect_layout(gemma_like) is ChatLayout.FOLD
    mistral_v1_like = "{% for m in messages %}{% if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% endfor %}"
    assert detect_layout(mistral_v1_like) is ChatLayout.FOLD
    chatml = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>{% endfor %}{% if messages[0]['role'] == 'system' %}{% endif %}"
    assert detect_layout(chatml) is ChatLayout.SYSTEM


def test_probe_layout():
    def keeps(msgs):
        return "".join(m["content"] for m in msgs)

    def drops(msgs):
        return "".join(m["content"] for m in msgs if m["role"] != "system")

    def rejects(msgs):
        if msgs[0]["role"] == "system":
            raise ValueError("System role not supported")
        return ""

    assert probe_layout(keeps) is ChatLayout.SYSTEM
    assert probe_layout(drops) is ChatLayout.FOLD
    assert probe_layout(rejects) is ChatLayout.FOLD
    assert probe_layout(None) is ChatLayout.PLAIN


def test_split_shots_is_seeded_and_disjoint(demo):
    items = get_task("meqsum").load(demo("meqsum"))
    shots_a, scored_a = split_shots(items, 3, 42, "meqsum")
    shots_b, scored_b = split_shots(items, 3, 42, "meqsum")
    shots_c, _ = split_shots(items, 3, 7, "meqsum")
    assert [i.id for i in shots_a] == [i.id for i in shots_b]
    assert [i.id for i in shots_a] != [i.id for i in shots_c]
    assert len(scored_a) == len(items) - 3
    assert not {i.id for i in shots_a} & {i.id for i in scored_a}
    # scored items keep file order
    order = [i.id for i in items]
    assert [i.id for i in scored_a] == [x for x in order if x not in {s.id for s in shots_a}]


@pytest.mark.parametrize(
    "task, shots, max_new",
    [("mednli", 3, 20), ("meqsum", 3, 512), ("problem_summary", 3, 512), ("medisumqa", 1, 512), ("medisumcode", 1, 512)],
)
def test_fewshot_prompt_shape(task, shots, max_new, demo):
    t = get_task(task)
    items = t.load(demo(task))
    requests = t.build(items, BuildContext(seed=42))
    assert len(requests) == len(items) - shots
    for r in requests:
        roles = [m.role for m in r.request.messages]
        assert roles == ["system"] + ["user", "assistant"] * shots + ["user"]
        assert r.request.decoding.max_new_tokens == max_new and r.request.decoding.temperature == 0.0
        assert r.id == f"{task}/{r.reference.item_id}"
    # The demonstrations are the same for every request; the test turn differs.
    assert len({tuple(r.request.messages[:-1]) for r in requests}) == 1
    assert len({r.request.messages[-1].content for r in requests}) == len(requests)
    assert len({r.request.prompt_hash() for r in requests}) == len(requests)


def test_task_specific_prompt_content(demo):
    nli = get_task("mednli")
    items = nli.load(demo("mednli"))
    r = nli.build(items, BuildContext(seed=42))[0]
    assert r.request.messages[2].content in {"ENTAILMENT", "NEUTRAL", "CONTRADICTION"}  # demo answers upper-case
    item = next(i for i in items if i.id == r.reference.item_id)
    assert item.inputs["sentence1"] in r.request.messages[-1].content and item.inputs["sentence2"] in r.request.messages[-1].content

    code = get_task("medisumcode")
    req = code.build(code.load(demo("medisumcode")), BuildContext(seed=42))[0]
    assert req.request.messages[2].content.startswith("ICD-10 Codes: ")
    assert "." in req.request.messages[2].content  # codes shown in dotted form

    ps = get_task("problem_summary")
    req = ps.build(ps.load(demo("problem_summary")), BuildContext(seed=42))[0]
    assert "Subjective" in req.request.messages[-1].content and "Assessment" in req.request.messages[-1].content
    assert ";" not in req.request.messages[2].content  # gold shown with ", " separators


def test_normalise_summary():
    assert normalise_summary("A; B;C;") == "A, B, C"
    assert normalise_summary("A;B") == "A, B"
    assert normalise_summary("Only one;") == "Only one"


def test_template_override_and_manifest(tmp_path, demo):
    (tmp_path / "meqsum.system.txt").write_text("CUSTOM SYSTEM PROMPT", encoding="utf-8")
    templates = Templates(tmp_path)
    t = get_task("meqsum")
    r = t.build(t.load(demo("meqsum")), BuildContext(seed=42, templates=templates))[0]
    assert r.request.messages[0].content == "CUSTOM SYSTEM PROMPT"
    manifest = templates.manifest()
    assert manifest["meqsum.system"]["source"].endswith("meqsum.system.txt")
    assert manifest["meqsum.user"]["source"] == "builtin"
    assert len(manifest["meqsum.user"]["sha256"]) == 64


def test_template_with_dollar_and_braces_in_text(write):
    # Clinical text with braces/percent/dollar signs must not break template filling.
    path = write("m.jsonl", '{"pairID": "1", "sentence1": "cost $5 {x} 50%", "sentence2": "b", "gold_label": "neutral"}\n'
                 '{"pairID": "2", "sentence1": "a", "sentence2": "b", "gold_label": "neutral"}\n'
                 '{"pairID": "3", "sentence1": "a", "sentence2": "b", "gold_label": "neutral"}\n'
                 '{"pairID": "4", "sentence1": "a", "sentence2": "b", "gold_label": "neutral"}\n'
                 '{"pairID": "5", "sentence1": "a", "sentence2": "b", "gold_label": "neutral"}\n')
    t = get_task("mednli")
    text = " ".join(m.content for r in t.build(t.load(path), BuildContext(seed=1)) for m in r.request.messages)
    assert "cost $5 {x} 50%" in text


def test_long_document_is_shortened_keeping_instructions(demo):
    t = get_task("medisumcode")
    items = t.load(demo("medisumcode"))
    tok = ApproxTokenizer()
    full = t.build(items, BuildContext(seed=42))
    ctx = BuildContext(seed=42, context_length=1900, tokenizer=tok)
    short = t.build(items, ctx)
    assert [r.id for r in short] == [r.id for r in full]
    cut = [r for r in short if r.reference.truncated]
    assert cut, "a 1,900-token context must force truncation of these notes"
    for r in short:
        used = sum(tok.count(m.content) for m in r.request.messages) + 64
        if r.reference.truncated:
            assert used <= 1900 - r.request.decoding.max_new_tokens
        # instructions and demonstrations stay whole
        original = next(f for f in full if f.id == r.id)
        assert r.request.messages[:-1] == original.request.messages[:-1]
        assert r.request.messages[-1].content.endswith(original.request.messages[-1].content.rsplit(">>>", 1)[1])


def test_max_new_tokens_and_temperature_overrides(demo):
    t = get_task("meqsum")
    r = t.build(t.load(demo("meqsum")), BuildContext(seed=42, max_new_tokens=64, temperature=0.7))[0]
    assert r.request.decoding.max_new_tokens == 64 and r.request.decoding.temperature == 0.7

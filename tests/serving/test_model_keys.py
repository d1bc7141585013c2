"""Every backend's self-description, pinned: the run store's model key and the records derived from it.

The store's model key is the hash of ``Backend.identity()``; a run directory
made before any change to backends must keep resuming, so the key of each
kind of backend is pinned here to the value computed on the code before the
description was unified (``Description``). The store's record and the
manifest's ``backend`` record are pinned too, key order included (manifest.json
is written in insertion order).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from clue.core.chat import ChatLayout
from clue.core.errors import UsageError
from clue.core.tokens import ApproxTokenizer
from clue.models import spec_identity
from clue.models.base import Backend, Description
from clue.models.baseline import BaselineBackend
from clue.models.hf import HFBackend
from clue.models.llamacpp import LlamaCppBackend, SmolLM2Backend
from clue.models.local import LocalBackend
from clue.models.replay import ReplayBackend
from clue.models.vllm import VLLMBackend
from clue.pipeline.config import RunSpec
from clue.pipeline.plan import plan, run_templates
from clue.pipeline.run import attach_inputs
from clue.store.runs import model_key
from clue.tasks.suite import resolve_tasks

URL = "http://127.0.0.1:9/v1"


def unloaded(cls: type[LocalBackend], target: str, options: dict, layout: ChatLayout) -> LocalBackend:
    """An in-process backend as its engine would leave it, without loading one (only the description is asked)."""
    backend = cls.__new__(cls)
    Backend.__init__(backend, target, options)
    backend._layout, backend._context, backend._tok = layout, None, ApproxTokenizer()  # type: ignore[assignment]
    return backend


def openai(**options) -> Backend:
    pytest.importorskip("httpx")
    from clue.models.openai import OpenAIBackend

    return OpenAIBackend("gpt-x", {"base_url": URL, **options})


# name -> (backend factory, the model key computed before the description was unified)
KEYS = {
    "baseline": (lambda: BaselineBackend(), "5e09f84b00e32e54658ce9aae7b5da02c4d6bd78c426b6c25ca75a7e4f682a5b"),
    "openai": (lambda: openai(concurrency=4, timeout=5), "59c8dc0d0859db029afaec48761a5509c02c37b3f3679eadd586c7492867f572"),
    "openai extra_body": (lambda: openai(extra_body={"top_k": 1}),
                          "fe4faed6de86ae922467c0c7755ee6a6144feb0dc8ab4def9f7743d5de0548ea"),
    "openai fold": (lambda: openai(chat_layout="fold", context_length=2048),
                    "1150d734beb63ab6db1e753e5ece244d84fe769a25d659ae9b82bca485516f68"),
    "vllm": (lambda: unloaded(VLLMBackend, "org/model", {"tensor_parallel_size": 2, "dtype": "bfloat16", "seed": 1},
                              ChatLayout.SYSTEM), "ee596e15448bd85b27588ae901640a9305bc6788571bff5b0dc405e4e3c70299"),
    "hf": (lambda: unloaded(HFBackend, "org/model", {"dtype": "bfloat16", "batch_size": 4, "hf_token": "x", "revision": "abc"},
                            ChatLayout.FOLD), "7af230d94ebf828a431540a364ec243f8c1e629f6891457b21025cebf47b5be3"),
    "llamacpp": (lambda: unloaded(LlamaCppBackend, "/models/x.gguf", {"n_ctx": 4096, "n_threads": 2, "flash_attn": True},
                                  ChatLayout.PLAIN), "f8636a6069814a88d55501dec23001e84881975d9dd648ff86cdd1cd41f95728"),
    "smollm2": (lambda: unloaded(SmolLM2Backend, "smollm2", {}, ChatLayout.SYSTEM),
                "46ddd02cab988017c00041a3dd3be14ac6b9139f25494f6b5f65b3bc3ed95df7"),
    "replay": (lambda: ReplayBackend("recorded-model", {"x": 1}),
               "773a1589ba48182083d77df41333ce95688af2fd2dbcd1216f99c3e8be36b7cb"),
}


@pytest.mark.parametrize("name", list(KEYS))
def test_the_store_key_of_every_backend_kind_is_what_it_was(name):
    make, key = KEYS[name]
    backend = make()
    assert model_key(backend.identity()) == key
    # the spec's part, known without loading the model, is the identity without the layout
    spec = backend.spec_identity(backend.model_id, backend.options)
    assert {k: v for k, v in backend.identity().items() if k != "chat_layout"} == spec


def test_the_store_record_is_what_it_was():
    assert BaselineBackend().description().store_record() == {
        "kind": "baseline", "model": "baseline", "chat_layout": None, "context_length": None, "tokenizer": "approx-chars4"}
    assert openai(chat_layout="fold", context_length=2048).description().store_record() == {
        "kind": "openai", "model": "gpt-x", "chat_layout": "fold", "context_length": 2048, "tokenizer": "approx-chars4"}
    # a server backend that has not asked for its context does not ask for the store's record
    assert openai().description().store_record()["context_length"] is None


def test_the_manifest_record_is_what_it_was_in_the_same_order():
    assert list(BaselineBackend().info().items()) == [
        ("backend", "baseline"), ("model", "baseline"), ("context_length", None), ("tokenizer", "approx-chars4"),
        ("chat_layout", None), ("description", "parameterless per-task heuristics (baseline.py in each task's folder)")]
    info = openai(chat_layout="fold", context_length=2048).info()
    assert info.pop("client").startswith("clue.models.http1 ")
    assert list(info.items()) == [
        ("backend", "openai"), ("model", "gpt-x"), ("context_length", 2048), ("tokenizer", "approx-chars4"),
        ("chat_layout", "fold"), ("endpoint", "/chat/completions"), ("base_urls", [URL]), ("proxies", []),
        ("pinned", False), ("context_length_source", "option"), ("server_model", None), ("concurrency", 32),
        ("timeout_s", 600.0),
        ("retries", {"max_retries": 6, "backoff_base_s": 0.5, "backoff_max_s": 30.0, "retry_after_max_s": 300.0}),
        ("extra_body", {}),
        # added with issue 23: which server it is and the neutral sampler values sent (nothing asked yet here)
        ("sampling", {"server": None, "recognised_by": "not asked (no greedy request was sent)", "neutral_fields": {}}),
        ("api_key_env", "OPENAI_API_KEY"), ("api_key_set", False)]


def test_the_three_records_are_views_of_one_description():
    described = openai(extra_body={"top_k": 1}, context_length=512).description(complete=True)
    assert isinstance(described, Description)
    assert described.identity() == {"kind": "openai", "model": "gpt-x", "chat_layout": "system", "extra_body": {"top_k": 1}}
    assert described.store_record()["context_length"] == described.manifest_record()["context_length"] == 512
    assert described.manifest_record()["extra_body"] == {"top_k": 1}
    assert spec_identity("openai:gpt-x", {"base_url": URL, "extra_body": {"top_k": 1}}) == {
        "kind": "openai", "model": "gpt-x", "extra_body": {"top_k": 1}}
    # the store's description gathers no details (they can be costly: weight hashes, server questions)
    assert BaselineBackend().description().details == {}


# -- the baseline is answered like a model ---------------------------------------------------
class Recording(Backend):
    kind = "recording"

    def __init__(self):
        super().__init__("recording", {})
        self.offered: dict[str, dict] = {}

    def attach(self, task, answer, inputs):
        self.offered.update(inputs)

    def generate(self, requests):
        return iter(())


def prepared_mednli(tmp_path):
    config = RunSpec(model="baseline", tasks=resolve_tasks("mednli"), output=str(tmp_path))
    return plan(config, ApproxTokenizer(), lambda: None, run_templates(config))


def test_every_backend_is_offered_the_inputs_and_never_a_gold_answer(tmp_path):
    prepared = prepared_mednli(tmp_path)
    cases = prepared[0].cases
    seen = Recording()
    attach_inputs(seen, prepared)
    assert seen.offered == {c.id: c.reference.inputs for c in cases}
    assert all("gold" not in k and "label" not in k for inputs in seen.offered.values() for k in inputs)
    # a model ignores what it is offered: the default hook does nothing
    assert Backend.attach(seen, "mednli", None, {}) is None


def test_the_baseline_answers_with_each_tasks_own_function(tmp_path):
    prepared = prepared_mednli(tmp_path)
    backend = BaselineBackend()
    attach_inputs(backend, prepared)
    task = prepared[0].task
    completions = list(backend.generate([c.request for c in prepared[0].cases]))
    assert [c.text for c in completions] == [task.baseline(c.reference.inputs) for c in prepared[0].cases]
    unknown = list(backend.generate([SimpleNamespace(id="nobody")]))  # type: ignore[list-item]
    assert unknown[0].error == "baseline has no answer for this request"


def test_a_task_without_a_baseline_is_refused_before_anything_is_generated():
    no_baseline = SimpleNamespace(task=SimpleNamespace(name="custom", has_baseline=False, baseline=None), cases=[])
    with pytest.raises(UsageError, match=r"^task 'custom' has no parameterless baseline; run it with a model \(--model\)$"):
        attach_inputs(BaselineBackend(), [no_baseline])  # type: ignore[list-item]
    attach_inputs(Recording(), [no_baseline])  # type: ignore[list-item]  # a model runs such a task

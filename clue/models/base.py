"""The backend interface: requests in, completions out.

A backend is the only stage that talks to a model. It applies the chat
layout that fits its model (``clue.core.chat``), knows the model's context length
and tokenizer (for prompt budgets), and yields completions as they finish,
in any order. Failures are per request (``Completion.error``), never a
silent empty string.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from clue.core.chat import ChatLayout
from clue.core.records import Completion, Request
from clue.core.tokens import ApproxTokenizer, Tokenizer

# Backend options that change where or how fast a model runs, not what it
# answers; they stay out of the model's identity so that, e.g., a resumed run
# on another number of GPUs or replicas reuses what is stored. Options that
# only change the prompt (context length, tokenizer) already change the
# request key, and the layout actually used is part of the identity itself.
NOT_IDENTITY = frozenset(
    {
        "base_url", "api_key_env", "concurrency", "timeout", "max_retries", "backoff_base", "backoff_max",
        "retry_after_max", "use_env_proxy", "proxy", "max_tokens_field", "tokenizer", "context_length", "max_model_len",
        "batch_size", "max_num_seqs", "gpu_memory_utilization", "tensor_parallel_size", "pipeline_parallel_size",
        "distributed_executor_backend", "enable_prefix_caching", "n_threads", "n_gpu_layers", "device",
        "device_map", "swap_space", "verbose", "chat_layout", "hash_weights", "chunk_size", "n_ctx",
        "trust_remote_code",
    }
)
SECRET_OPTION = re.compile(r"api[_-]?key|secret|password|passwd|credential|auth|access[_-]?token|hf[_-]?token", re.I)


def identity_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options that decide a model's answers: no placement, speed or secrets."""
    return {k: v for k, v in sorted(options.items()) if k not in NOT_IDENTITY and not SECRET_OPTION.search(k)}


class Backend(ABC):
    #: short name of the backend kind: "baseline", "openai", "vllm", "hf", "llamacpp"
    kind: str = ""

    def __init__(self, target: str, options: Mapping[str, Any] | None = None):
        # ``target`` is the part of the --model spec after "kind:" (a model
        # name, path or GGUF file); ``options`` are backend/engine settings.
        self.target = target
        self.options = dict(options or {})

    @classmethod
    def model_id_for(cls, target: str) -> str:
        """The model's name for a ``--model`` target (the part after "kind:")."""
        return target

    @property
    def model_id(self) -> str:
        return self.model_id_for(self.target)

    @property
    def context_length(self) -> int | None:
        """Tokens the model can attend to (prompt + completion); None: unlimited."""
        return None

    @property
    def tokenizer(self) -> Tokenizer:
        return ApproxTokenizer()

    @property
    def layout(self) -> ChatLayout | None:
        """The chat layout used; None for backends that read no prompt (baselines)."""
        return None

    @classmethod
    def spec_identity(cls, model_id: str, options: Mapping[str, Any]) -> dict[str, Any]:
        """The part of the identity the ``--model`` spec decides, known without loading anything.

        ``clue sweep`` compares it to skip a finished model; ``identity()``
        adds what only the loaded model can say (the chat layout).
        """
        return {"kind": cls.kind, "model": model_id, "options": identity_options(options)}

    def identity(self) -> dict[str, Any]:
        """What decides the answers: the run store's model key is its hash. No URLs, no secrets."""
        ident = self.spec_identity(self.model_id, self.options)
        layout = self.layout
        return {"kind": ident.pop("kind"), "model": ident.pop("model"),
                "chat_layout": layout.value if layout else None, **ident}

    def describe(self) -> dict[str, Any]:
        """What re-scoring without the model needs to rebuild the same requests."""
        layout = self.layout
        return {
            "kind": self.kind,
            "model": self.model_id,
            "chat_layout": layout.value if layout else None,
            "context_length": self.context_length_if_known(),
            "tokenizer": self.tokenizer.name,
        }

    def context_length_if_known(self) -> int | None:
        """The context length when knowing it asks nobody; a server backend that has not asked says None.

        The requests were planned before this is read (``describe``, at the
        start of generation): a task whose prompts depend on the context made
        the backend find it then (``Task.uses_context``).
        """
        return self.context_length

    def endpoints(self) -> list[str]:
        """URLs the backend will connect to: servers and any proxy in between (empty for in-process backends)."""
        return []

    def proxies(self) -> list[str]:
        """Those of ``endpoints()`` that are proxies (the egress guard names them so)."""
        return []

    def pin(self, addresses: Mapping[str, Sequence[str] | None]) -> None:  # noqa: B027 - nothing to pin in-process
        """Connect only to these addresses, which the egress guard checked (host -> addresses).

        ``None`` for a host: the user approved it by name, so the client resolves it.
        A backend with endpoints must then refuse to connect to any other host.
        """

    def info(self) -> dict[str, Any]:
        """What the manifest records about the model and engine (never secrets)."""
        return {
            "backend": self.kind,
            "model": self.model_id,
            "context_length": self.context_length,
            "tokenizer": self.tokenizer.name,
            "chat_layout": self.layout.value if self.layout else None,
        }

    @abstractmethod
    def generate(self, requests: Sequence[Request]) -> Iterator[Completion]:
        """Yield one completion per request, as each finishes."""

    def close(self) -> None:  # noqa: B027 - optional: most backends hold nothing to release
        """Release engines, sessions and files."""

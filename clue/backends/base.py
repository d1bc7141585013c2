"""The backend interface: requests in, completions out.

A backend is the only stage that talks to a model. It applies the chat
layout that fits its model (``clue.chat``), knows the model's context length
and tokenizer (for prompt budgets), and yields completions as they finish,
in any order. Failures are per request (``Completion.error``), never a
silent empty string.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Iterator, Mapping, Sequence

from ..chat import ChatLayout
from ..schema import Completion, Request
from ..tokens import ApproxTokenizer, Tokenizer


class Backend(ABC):
    #: short name of the backend kind: "baseline", "openai", "vllm", "hf", "llamacpp"
    kind: str = ""

    def __init__(self, target: str, options: Mapping[str, Any] | None = None):
        # ``target`` is the part of the --model spec after "kind:" (a model
        # name, path or GGUF file); ``options`` are backend/engine settings.
        self.target = target
        self.options = dict(options or {})

    @property
    def model_id(self) -> str:
        return self.target

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

    def endpoints(self) -> list[str]:
        """URLs that requests will be sent to (empty for in-process backends)."""
        return []

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

    def close(self) -> None:
        """Release engines, sessions and files."""

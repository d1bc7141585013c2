"""The backend interface: requests in, completions out, and one description of the backend.

A backend is the only stage that talks to a model: it applies its chat layout
(``clue.core.chat``), knows the model's context length and tokenizer, and
yields completions as they finish, in any order; a failure is per request
(``Completion.error``). What it says about itself is one ``Description``, of
which the run store's model key, the store's record and the manifest's
``backend`` record are views (docs/backends.md, "How a backend describes itself").
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
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

#: a task's parameterless answer from one request's structured inputs (``Task.baseline``)
InputsAnswer = Callable[[Mapping[str, Any]], str]


def identity_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options that decide a model's answers: no placement, speed or secrets."""
    return {k: v for k, v in sorted(options.items()) if k not in NOT_IDENTITY and not SECRET_OPTION.search(k)}


@dataclass(frozen=True)
class Description:
    """What a backend says about itself (never URLs' secrets or keys); three records are views of it.

    ``identity()`` decides the answers (the run store's model key is its hash);
    ``store_record()`` is what re-scoring without the model needs to rebuild the
    same requests; ``manifest_record()`` is the manifest's ``backend`` record.
    """

    kind: str
    model: str
    chat_layout: ChatLayout | None
    tokenizer: str
    #: the context length; unless the description was asked for ``complete``, only as far as known without asking anybody
    context_length: int | None
    #: what else decides the answers, as the ``--model`` spec says it (``Backend.answer_fields``)
    answer_fields: Mapping[str, Any] = field(default_factory=dict)
    #: the rest of the manifest record: engine, files, settings (``Backend.details``); empty unless asked for ``complete``
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def layout_name(self) -> str | None:
        return self.chat_layout.value if self.chat_layout else None

    def identity(self) -> dict[str, Any]:
        return {"kind": self.kind, "model": self.model, "chat_layout": self.layout_name, **self.answer_fields}

    def store_record(self) -> dict[str, Any]:
        return {"kind": self.kind, "model": self.model, "chat_layout": self.layout_name,
                "context_length": self.context_length, "tokenizer": self.tokenizer}

    def manifest_record(self) -> dict[str, Any]:
        return {"backend": self.kind, "model": self.model, "context_length": self.context_length,
                "tokenizer": self.tokenizer, "chat_layout": self.layout_name, **self.details}


class Backend(ABC):
    """A model behind ``generate``. A subclass describes itself through ``answer_fields`` (what in its options
    decides the answers) and ``details`` (what else the manifest records), and its layout, tokenizer and context."""

    #: short name of the backend kind: "baseline", "openai", "vllm", "hf", "llamacpp"
    kind: str = ""
    #: set by the egress guard (``clue.pipeline.egress.guard``), for the manifest's ``egress``: the endpoints an
    #: approval let through and which approval, the task files the user confirmed public; None when nothing did
    egress_record: dict[str, Any] | None = None

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

    def context_length_if_known(self) -> int | None:
        """The context length when knowing it asks nobody; a server backend that has not asked says None.

        The requests were planned before a description is stored (at the start
        of generation): a task whose prompts depend on the context made the
        backend find it then (``Task.uses_context``).
        """
        return self.context_length

    @property
    def tokenizer(self) -> Tokenizer:
        return ApproxTokenizer()

    @property
    def layout(self) -> ChatLayout | None:
        """The chat layout used; None for backends that read no prompt (baselines)."""
        return None

    # -- the one self-description -----------------------------------------------------
    @classmethod
    def answer_fields(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        """What in the options decides the answers (besides kind, model and layout): no placement, speed or secrets."""
        return {"options": identity_options(options)}

    @classmethod
    def spec_identity(cls, model_id: str, options: Mapping[str, Any]) -> dict[str, Any]:
        """The part of the identity the ``--model`` spec decides, known without loading anything.

        ``clue sweep`` compares it to skip a finished model; the loaded
        backend's ``identity()`` adds the chat layout.
        """
        return {"kind": cls.kind, "model": model_id, **cls.answer_fields(options)}

    def details(self) -> dict[str, Any]:
        """What the manifest records beyond the description's own fields (engine, files, settings; never secrets)."""
        return {}

    def description(self, complete: bool = False) -> Description:
        """The backend's account of itself. ``complete``: also the manifest's details, asking for the context
        length if need be (the manifest is written after generation); otherwise only what is known already."""
        context = self.context_length if complete else self.context_length_if_known()
        return Description(
            kind=self.kind,
            model=self.model_id,
            chat_layout=self.layout,
            tokenizer=self.tokenizer.name,
            context_length=context,
            answer_fields=self.answer_fields(self.options),
            details=self.details() if complete else {},
        )

    def identity(self) -> dict[str, Any]:
        """What decides the answers (``Description.identity``): the run store's model key is its hash."""
        return self.description().identity()

    def info(self) -> dict[str, Any]:
        """The manifest's ``backend`` record (``Description.manifest_record``)."""
        return self.description(complete=True).manifest_record()

    # -- where it connects -------------------------------------------------------------
    def endpoints(self) -> list[str]:
        """URLs the backend will connect to: servers and any proxy in between (empty for in-process backends)."""
        return []

    def proxies(self) -> list[str]:
        """Those of ``endpoints()`` that are proxies (the egress guard names them so)."""
        return []

    def pin(self, addresses: Mapping[str, Sequence[str] | None]) -> None:  # noqa: B027 - nothing to pin in-process
        """Connect only to these addresses, which the egress guard checked (endpoint -> addresses).

        Keys are endpoints, ``scheme://host:port`` (``clue.core.urls.Endpoint``): one host name on two
        ports is two endpoints, each with its own verdict. ``None`` for an endpoint: the user approved it
        by name, so the client resolves it. A backend with endpoints must then refuse to connect to any
        other host and port.
        """

    # -- answering ---------------------------------------------------------------------
    def attach(self, task: str, answer: InputsAnswer | None, inputs: Mapping[str, Mapping[str, Any]]) -> None:  # noqa: B027
        """Before generation, per task: the task's parameterless answer function (None: it has none) and each
        request's structured inputs by request id, never a gold answer. A model reads its prompts and ignores
        this; the baseline answers with it."""

    @abstractmethod
    def generate(self, requests: Sequence[Request]) -> Iterator[Completion]:
        """Yield one completion per request, as each finishes."""

    def generate_groups(self, requests: Sequence[Request]) -> Iterator[list[Completion]]:
        """The completions of ``generate`` in groups: each group is what had finished when the caller asked.

        The run store commits a group at once (one commit, not one per answer). A backend that
        answers from another thread (the OpenAI-compatible client) hands over everything that
        finished while the caller was busy; the default hands over one at a time.
        """
        for completion in self.generate(requests):
            yield [completion]

    def close(self) -> None:  # noqa: B027 - optional: most backends hold nothing to release
        """Release engines, sessions and files."""

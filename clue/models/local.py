"""What the in-process backends (transformers, llama.cpp, vLLM) share: ``LocalBackend``.

It chooses the chat layout from the model's own template, renders and counts
each prompt with the model's tokenizer, refuses (per request) a prompt that
leaves no room in the context, and records which model and engine ran; a
subclass loads its engine and runs the planned requests (docs/backends.md).
"""

from __future__ import annotations

import os
from abc import abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clue.core.chat import (
    ChatLayout,
    Renderer,
    apply_layout,
    hf_renderer,
    parse_layout,
    probe_layout,
    split_prefill,
)
from clue.core.errors import UsageError
from clue.core.files import sha256_file, sha256_text
from clue.core.records import Completion, Decoding, Joins, Message, Request
from clue.core.tokens import CallableTokenizer, Tokenizer, hf_tokenizer_counter
from clue.models.base import Backend

# Weights up to this size are hashed for the manifest by default (about a
# second per GiB on a laptop); larger ones only when the user asks.
HASH_WEIGHTS_LIMIT = 1 << 30


def as_dicts(messages: Sequence[Message]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


def choose_layout(option: Any, render: Renderer | None) -> tuple[ChatLayout, str]:
    """The layout to use and how it was chosen ("option", "template", "no template")."""
    forced = parse_layout(None if option is None else str(option))
    if forced is not None:
        if forced is not ChatLayout.PLAIN and render is None:
            raise UsageError(f"chat_layout={forced.value} needs a chat template, and this model has none")
        return forced, "option"
    if render is None:
        return ChatLayout.PLAIN, "no template"
    return probe_layout(render), "template"


def render_prompt(
    messages: Sequence[Message], layout: ChatLayout, render: Renderer | None, joins: Joins | None = None
) -> str:
    """Prompt text for ``messages``: the model's template, or plain joined text (``joins``: the request's)."""
    laid_out = apply_layout(messages, layout, joins)
    if isinstance(laid_out, str):
        return laid_out
    if render is None:  # choose_layout never lets this happen
        raise RuntimeError("a chat layout was chosen for a model without a chat template")
    # A pre-fill goes after the template's generation prompt, as the reference appended it.
    turns, prefill = split_prefill(laid_out)
    return render(as_dicts(turns)) + prefill


class PromptTooLong(Exception):
    """The prompt leaves no room to generate in the model's context."""


def generation_budget(prompt_tokens: int, max_new_tokens: int, context_length: int | None) -> int:
    """How many new tokens to ask for.

    The tasks already shortened their documents to leave ``max_new_tokens``
    free (counted with this tokenizer), so a prompt that overflows here is one
    whose fixed parts alone are too long. If some room is left, generation is
    capped to it (the completion's meta says so); if none is, the request fails.
    """
    if context_length is None:
        return max_new_tokens
    room = context_length - prompt_tokens
    if room <= 0:
        raise PromptTooLong(
            f"prompt is {prompt_tokens} tokens but the model's context is {context_length} tokens "
            "(after shortening the document); nothing was generated"
        )
    return min(max_new_tokens, room)


def is_greedy(decoding: Decoding) -> bool:
    return decoding.temperature <= 0.0


@dataclass
class Planned:
    """A request ready for the engine: its token ids and new-token budget."""

    request: Request
    prompt_ids: list[int]
    max_new_tokens: int

    @property
    def capped(self) -> bool:
        return self.max_new_tokens < self.request.decoding.max_new_tokens

    def meta(self, completion_tokens: int, finish_reason: str | None) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "prompt_tokens": len(self.prompt_ids),
            "completion_tokens": completion_tokens,
            "finish_reason": finish_reason,
        }
        if self.capped:
            meta["max_new_tokens_capped_to"] = self.max_new_tokens
        return meta


def weight_files(folder: Path) -> list[Path]:
    patterns = ("*.safetensors", "*.bin", "*.gguf", "*.pt")
    files = sorted({p for pattern in patterns for p in folder.glob(pattern) if p.is_file()})
    return [p for p in files if p.name != "training_args.bin"]


def fingerprint_weights(files: Iterable[Path], hash_option: Any = "auto") -> dict[str, Any]:
    """Sizes always; sha256 of each file when cheap (auto: total <= 1 GiB) or asked for.

    Hub models also carry a revision (commit hash), recorded separately by
    each backend; local folders have only their bytes to identify them.
    """
    files = list(files)
    total = sum(f.stat().st_size for f in files)
    out: dict[str, Any] = {"weight_bytes": total, "weight_files": [f.name for f in files]}
    if hash_option is True or (hash_option in ("auto", None) and total <= HASH_WEIGHTS_LIMIT):
        out["weights_sha256"] = {f.name: sha256_file(f) for f in files}
    return out


def local_folder(target: str) -> Path | None:
    path = Path(os.path.expanduser(target))
    return path if path.is_dir() else None


class LocalBackend(Backend):
    """An in-process model: layout, prompt text, token counting and context checks.

    Subclasses call ``_setup`` once the engine is loaded, then implement
    ``_run`` for the requests that fit.
    """

    #: the optional-dependency extra that provides the engine
    extra: str = ""

    _layout: ChatLayout
    _layout_source: str
    _render: Renderer | None
    _context: int | None
    _tok: CallableTokenizer
    _chat_template: str | None

    def _setup(
        self,
        *,
        tokenizer: CallableTokenizer,
        context_length: int | None,
        render: Renderer | None,
        chat_template: str | None,
    ) -> None:
        self._tok = tokenizer
        self._context = context_length
        self._render = render
        self._chat_template = chat_template
        self._layout, self._layout_source = choose_layout(self.options.get("chat_layout"), render)

    # -- what the runner and tasks read ----------------------------------
    @property
    def context_length(self) -> int | None:
        return self._context

    @property
    def tokenizer(self) -> Tokenizer:
        return self._tok

    @property
    def layout(self) -> ChatLayout:
        return self._layout

    def details(self) -> dict[str, Any]:
        info = super().details()
        info["chat_layout_source"] = self._layout_source
        info["chat_template_sha256"] = sha256_text(self._chat_template) if self._chat_template else None
        info["options"] = {k: v for k, v in sorted(self.options.items())}
        return info

    # -- prompts --------------------------------------------------------
    def prompt_text(self, request: Request) -> str:
        return render_prompt(request.messages, self._layout, self._render, request.joins)

    @abstractmethod
    def encode_prompt(self, text: str, templated: bool) -> list[int]:
        """Token ids of a whole prompt. ``templated``: the text came from the chat
        template, which writes its own BOS; plain text gets the model's BOS added."""

    def plan(self, requests: Sequence[Request]) -> tuple[list[Planned], list[Completion]]:
        """Split requests into those ready to run and failures (prompt too long)."""
        ready: list[Planned] = []
        failed: list[Completion] = []
        templated = self._layout is not ChatLayout.PLAIN
        for request in requests:
            ids = self.encode_prompt(self.prompt_text(request), templated)
            try:
                budget = generation_budget(len(ids), request.decoding.max_new_tokens, self._context)
            except PromptTooLong as exc:
                failed.append(Completion(request.id, None, error=str(exc), meta={"prompt_tokens": len(ids)}))
                continue
            ready.append(Planned(request, ids, budget))
        return ready, failed

    def generate(self, requests: Sequence[Request]):
        ready, failed = self.plan(requests)
        # Failures first: they cost nothing and the run store records them at once.
        yield from failed
        yield from self._run(ready)

    @abstractmethod
    def _run(self, planned: list[Planned]):
        """Yield one Completion per planned request, as each finishes."""


def split_options(options: Mapping[str, Any], ours: Iterable[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(clue's own options, the rest to pass through to the engine)."""
    ours = set(ours)
    own = {k: v for k, v in options.items() if k in ours}
    rest = {k: v for k, v in options.items() if k not in ours}
    return own, rest


class HFTokenizerBackend(LocalBackend):
    """An engine that reads a Hugging Face model folder or hub id with its HF tokenizer
    (transformers and vLLM): template rendering, counting and fingerprints are shared."""

    hf_tokenizer: Any
    _hash_option: Any = "auto"

    def _setup_hf(self, tokenizer: Any, context_length: int | None) -> None:
        self.hf_tokenizer = tokenizer
        self._hash_option = self.options.get("hash_weights", "auto")
        template = getattr(tokenizer, "chat_template", None)
        self._setup(
            tokenizer=hf_tokenizer_counter(f"{self.kind}:{self.target}", tokenizer),
            context_length=context_length,
            render=hf_renderer(tokenizer),
            chat_template=template if isinstance(template, str) else None,
        )

    def encode_prompt(self, text: str, templated: bool) -> list[int]:
        # A rendered template already holds BOS and the role markers as text;
        # transformers tokenizes it without adding special tokens, as we do.
        return list(self.hf_tokenizer.encode(text, add_special_tokens=not templated))

    def details(self) -> dict[str, Any]:
        info = super().details()
        folder = local_folder(self.target)
        if folder is not None:  # hub models are identified by their revision instead
            info.update(fingerprint_weights(weight_files(folder), self._hash_option))
        return info

"""Token counting behind one interface.

Prompt budgets (context length, LongHealth's document budget) are counted with
the model's own tokenizer when the backend has one. Otherwise clue uses
``approx-chars4``: one token per four characters, rounded up. For English
clinical text with Llama/Mistral-style BPE tokenizers this over-counts
slightly more often than it under-counts, which errs toward shorter prompts.
The tokenizer's name is recorded in every result.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Tokenizer(Protocol):
    name: str

    def count(self, text: str) -> int: ...

    def truncate(self, text: str, max_tokens: int) -> str:
        """The longest prefix of ``text`` that has at most ``max_tokens`` tokens."""
        ...


class ApproxTokenizer:
    name = "approx-chars4"
    chars_per_token = 4

    def count(self, text: str) -> int:
        return math.ceil(len(text) / self.chars_per_token)

    def truncate(self, text: str, max_tokens: int) -> str:
        if max_tokens <= 0:
            return ""
        limit = max_tokens * self.chars_per_token
        if len(text) <= limit:
            return text
        cut = text[:limit]
        # End on a word boundary when one is near, so no half word is left.
        space = cut.rfind(" ", max(0, limit - 40))
        return cut[:space] if space > 0 else cut


def hf_tokenizer_counter(name: str, hf_tokenizer: Any) -> CallableTokenizer:
    """Counts content tokens (no BOS/EOS) with a Hugging Face tokenizer: what prompt budgets count."""
    return CallableTokenizer(
        name,
        lambda text: hf_tokenizer.encode(text, add_special_tokens=False),
        lambda ids: hf_tokenizer.decode(ids, skip_special_tokens=False),
        # the reference counted len(tokenizer.encode(text)): special tokens (BOS) included
        encode_special=lambda text: hf_tokenizer.encode(text),
    )


class CallableTokenizer:
    """Adapts any encode/decode pair (transformers, llama.cpp, vLLM) to ``Tokenizer``."""

    def __init__(
        self, name: str, encode: Callable[[str], Sequence[int]], decode: Callable[[Sequence[int]], str],
        encode_special: Callable[[str], Sequence[int]] | None = None,
    ):
        self.name = name
        self._encode = encode
        self._decode = decode
        # encoding with the special tokens the tokenizer adds by default (BOS), where known
        self.encode_special = encode_special

    def count(self, text: str) -> int:
        return len(self._encode(text))

    def truncate(self, text: str, max_tokens: int) -> str:
        if max_tokens <= 0:
            return ""
        ids = self._encode(text)
        if len(ids) <= max_tokens:
            return text
        return self._decode(ids[:max_tokens])


def reference_count(tokenizer: Tokenizer, text: str) -> int:
    """``len(tokenizer.encode(text))`` as the reference counted: special tokens included where the tokenizer adds them.

    A tokenizer that cannot say (clue's approximate counter) counts as ``count``.
    """
    encode = getattr(tokenizer, "encode_special", None)
    return len(encode(text)) if encode is not None else tokenizer.count(text)


def reference_cut(tokenizer: Tokenizer, text: str, max_tokens: int) -> str:
    """``tokenizer.decode(tokenizer.encode(text)[:max_tokens])`` as the reference cut: a decoded BOS stays at the head."""
    encode = getattr(tokenizer, "encode_special", None)
    decode = getattr(tokenizer, "_decode", None)
    if encode is None or decode is None:
        return tokenizer.truncate(text, max_tokens)
    return str(decode(list(encode(text))[: max(max_tokens, 0)]))

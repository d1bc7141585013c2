"""Chat formatting, decided in one place.

A request's messages are canonical: one system message, then alternating
user/assistant demonstration turns, then the test item as a user turn. A
model gets them in one of three layouts:

- ``system``: as they are (instruct models whose template accepts a system role);
- ``fold``: the system text is prepended to the first user turn (instruct
  models whose template rejects a system role: Mistral-Instruct v0.1/v0.2, Gemma);
- ``plain``: one string, system text, turns and test item joined by blank
  lines (base models without a chat template; a completions endpoint).

The layout used is recorded with every run.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Sequence
from typing import Any

from clue.core.errors import UsageError
from clue.core.records import Joins, Message


class ChatLayout(str, enum.Enum):
    SYSTEM = "system"
    FOLD = "fold"
    PLAIN = "plain"


def parse_layout(value: str | None) -> ChatLayout | None:
    if value is None or value == "auto":
        return None
    try:
        return ChatLayout(value)
    except ValueError:
        raise UsageError(f"unknown chat layout {value!r}; choose auto, system, fold or plain") from None


def fold_system(messages: Sequence[Message], join: str = "\n\n") -> list[Message]:
    """Move the system text into the first user turn (``join`` between them)."""
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    rest = [m for m in messages if m.role != "system"]
    if not system:
        return rest
    if rest and rest[0].role == "user":
        return [Message("user", f"{system}{join}{rest[0].content}"), *rest[1:]]
    return [Message("user", system), *rest]


def plain_text(messages: Sequence[Message], join: str = "\n\n", end: str = "\n\n") -> str:
    """Join everything into one prompt for base models: blank line between parts (or ``join``), then ``end``."""
    return join.join(m.content for m in messages) + end


def split_prefill(messages: Sequence[Message]) -> tuple[list[Message], str]:
    """A trailing assistant message is a pre-fill (the text the answer starts with): split it off."""
    if messages and messages[-1].role == "assistant":
        return list(messages[:-1]), messages[-1].content
    return list(messages), ""


def apply_layout(messages: Sequence[Message], layout: ChatLayout, joins: Joins | None = None) -> list[Message] | str:
    """The messages in ``layout``; a pre-fill stays the last (assistant) message, or ends the plain text.

    ``joins`` (a request's own, ``Request.joins``) replaces the blank lines clue puts between parts.
    """
    if layout is ChatLayout.SYSTEM:
        return list(messages)
    joins = joins or Joins()
    turns, prefill = split_prefill(messages)
    if layout is ChatLayout.FOLD:
        return fold_system(turns, joins.fold) + ([Message("assistant", prefill)] if prefill else [])
    return plain_text(turns, joins.plain, joins.plain_end) + prefill


_SYSTEM_UNSUPPORTED = re.compile(r"system role not supported", re.IGNORECASE)
_QUOTED_SYSTEM = re.compile(r"""['"]system['"]""")


def detect_layout(chat_template: str | None) -> ChatLayout:
    """Choose the layout from a chat template's text (None or empty: no template).

    A template that raises "System role not supported" (Gemma), or that never
    compares a role with 'system' (Mistral-Instruct v0.1/v0.2), gets ``fold``.
    Backends that can render their template prefer ``probe_layout``.
    """
    if not chat_template:
        return ChatLayout.PLAIN
    if _SYSTEM_UNSUPPORTED.search(chat_template) or not _QUOTED_SYSTEM.search(chat_template):
        return ChatLayout.FOLD
    return ChatLayout.SYSTEM


#: renders [{"role", "content"}, ...] into prompt text, ending with the
#: assistant's turn header (``add_generation_prompt``)
Renderer = Callable[[list[dict[str, str]]], str]


def hf_renderer(tokenizer: Any) -> Renderer | None:
    """The chat-template renderer of a Hugging Face tokenizer, or None when it has no template."""
    if not getattr(tokenizer, "chat_template", None):
        return None

    def render(messages: list[dict[str, str]]) -> str:
        return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))

    return render


_PROBE = "clue-probe-system-text-7f3a"


def probe_layout(render: Callable[[list[dict[str, str]]], str] | None) -> ChatLayout:
    """Choose the layout by rendering a tiny conversation with the model's template.

    ``render`` turns a list of {"role", "content"} dicts into prompt text (for
    transformers: ``tokenizer.apply_chat_template(..., tokenize=False)``), or is
    None when the model has no template. The system role is used only if the
    template renders it without raising and keeps its text.
    """
    if render is None:
        return ChatLayout.PLAIN
    try:
        text = render([{"role": "system", "content": _PROBE}, {"role": "user", "content": "hello"}])
    except Exception:  # templates signal rejection by raising
        return ChatLayout.FOLD
    return ChatLayout.SYSTEM if _PROBE in text else ChatLayout.FOLD

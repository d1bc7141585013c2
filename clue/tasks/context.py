"""Context fitting: shortening a prompt that does not fit the model's context."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from clue.core.records import Message
from clue.core.tokens import Tokenizer


class ContextBudget(Protocol):
    """What fitting reads from a build's context (``clue.tasks.base.BuildContext``)."""

    @property
    def context_length(self) -> int | None: ...

    @property
    def tokenizer(self) -> Tokenizer: ...


# Tokens kept free beyond max_new_tokens for chat-template markup the
# approximate count cannot see (role headers, BOS/EOS).
TEMPLATE_MARGIN = 64


def prompt_tokens(messages: Sequence[Message], tokenizer: Tokenizer) -> int:
    return sum(tokenizer.count(m.content) for m in messages) + TEMPLATE_MARGIN


def fit_to_context(
    render: Callable[[dict[str, Any]], list[Message]],
    inputs: dict[str, Any],
    document_field: str | None,
    ctx: ContextBudget,
    max_new_tokens: int,
    truncation: str = "document",
    limit: int | None = None,
) -> tuple[list[Message], bool]:
    """Render the prompt; if it exceeds the context, shorten it as ``truncation`` says.

    ``document`` (docs/protocols.md, "The ``clue`` protocol"): instructions, demonstrations and the question stay
    whole; only the long document is cut, from the end. ``keep-end`` (the
    reference's server, text-generation-inference ``truncate``): the prompt's
    first tokens are dropped until the last ones fit, the system prompt and
    demonstrations going first. ``none``: left as it is. Returns the messages
    and whether anything was cut. A prompt that still does not fit is left as
    it is: the backend reports it for that item. ``limit`` (``keep_end_limit``)
    replaces the default room, the context less ``max_new_tokens``.
    """
    messages = render(inputs)
    if ctx.context_length is None or truncation == "none":
        return messages, False
    budget = ctx.context_length - max_new_tokens if limit is None else limit
    used = prompt_tokens(messages, ctx.tokenizer)
    if used <= budget:
        return messages, False
    if truncation == "keep-end":
        return keep_end(messages, used - budget, ctx.tokenizer), True
    if document_field is None:
        return messages, False
    document = str(inputs[document_field])
    keep = ctx.tokenizer.count(document) - (used - budget)
    shortened = dict(inputs)
    shortened[document_field] = ctx.tokenizer.truncate(document, max(keep, 0))
    return render(shortened), True


def keep_end(messages: Sequence[Message], excess: int, tokenizer: Tokenizer) -> list[Message]:
    """Drop ``excess`` tokens from the start of the conversation: whole messages first, then a message's head."""
    out: list[Message] = []
    for message in messages:
        if excess <= 0:
            out.append(message)
            continue
        size = tokenizer.count(message.content)
        if size <= excess:
            excess -= size
            continue
        head = tokenizer.truncate(message.content, excess)
        out.append(Message(message.role, message.content[len(head):].lstrip()))
        excess = 0
    return out


def keep_end_limit(options: Mapping[str, Any], context_length: int | None, max_new_tokens: int) -> int | None:
    """The prompt tokens the reference's server kept (its ``truncate``), where a profile sets it.

    ``options.keep_end_reserve``: what the reference took off the model's
    positions (a number, or ``"max_new_tokens"``); ``options.keep_end_cap``: an
    upper bound (0: none). None when the profile sets no reserve or the
    context is unknown: the default room (context less max new tokens) applies.
    """
    reserve = options.get("keep_end_reserve")
    if reserve is None or context_length is None:
        return None
    limit = context_length - (max_new_tokens if reserve == "max_new_tokens" else int(reserve))
    cap = int(options.get("keep_end_cap") or 0)
    return min(limit, cap) if cap > 0 else limit

"""What a server's answer says: the text, the reasoning kept apart from it, the usage; or why it is no answer.

An HTTP 200 with no choices or no text is a failed attempt (``Retry``). A
reasoning model's reasoning (``reasoning_content``/``reasoning``, or a leading
``<think>`` block) goes to the completion's meta, never into the scored answer
(docs/serving.md, "Retries and failures").
"""

from __future__ import annotations

import json
from typing import Any

from clue.models.openai.retry import Retry

ERROR_TEXT_LIMIT = 300  # characters of a server's error text kept with a failed item (after masking)
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


def parse_answer(content: bytes, plain: bool) -> tuple[str, dict[str, Any]]:
    """``(answer, meta)`` from an HTTP 200 body of /completions (``plain``) or /chat/completions."""
    try:
        data = json.loads(content)
        choices = data["choices"]
    except (ValueError, KeyError, TypeError):
        raise Retry("the server's answer was not the expected JSON") from None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise Retry("HTTP 200 with no choices: the server sent no answer")
    choice = choices[0]
    answer = choice if plain else choice.get("message")
    if not isinstance(answer, dict):
        raise Retry("the server's answer was not the expected JSON")
    text = answer.get("text" if plain else "content")
    reasoning = None if plain else answer.get("reasoning_content") or answer.get("reasoning")
    if text is not None and not isinstance(text, str):
        raise Retry("the server's answer had no text field")
    if reasoning is not None and not isinstance(reasoning, str):
        reasoning = json.dumps(reasoning)
    finish = choice.get("finish_reason")
    unfinished = False
    if text is None:
        if not (reasoning and finish == "length"):
            raise Retry(f"HTTP 200 with no text ({'text' if plain else 'content'}: null): the server sent no answer")
        text, unfinished = "", True  # the token limit ended inside the reasoning: no answer was given
    else:
        text, thought, unclosed = split_reasoning(text)
        if thought is not None:
            reasoning = f"{reasoning}\n{thought}" if reasoning else thought
        unfinished = unclosed
    meta: dict[str, Any] = {"finish_reason": finish}
    usage = data.get("usage")
    if isinstance(usage, dict):
        meta["prompt_tokens"] = usage.get("prompt_tokens")
        meta["completion_tokens"] = usage.get("completion_tokens")
        details = usage.get("completion_tokens_details")
        if isinstance(details, dict) and details.get("reasoning_tokens") is not None:
            meta["reasoning_tokens"] = details["reasoning_tokens"]
    if reasoning is not None:
        meta["reasoning"] = reasoning
        meta["reasoning_unfinished"] = unfinished
    return text, meta


def server_message(content: bytes) -> str:
    """The error text a server sent, whole: mask it before shortening it."""
    try:
        data = json.loads(content)
        error = data.get("error", data) if isinstance(data, dict) else data
        message = error.get("message", error) if isinstance(error, dict) else error
        text = message if isinstance(message, str) else json.dumps(message)
    except (ValueError, AttributeError):
        text = content.decode("utf-8", "replace")
    return " ".join(text.split())


def split_reasoning(text: str) -> tuple[str, str | None, bool]:
    """``(answer, reasoning, unfinished)`` of a text that may start with a ``<think>`` block.

    ``<think>R</think>A`` gives ``(A, R, False)``; ``<think>R`` with no end
    (the token limit came first) gives ``("", R, True)``; ``R</think>A`` (the
    chat template opened the block in the prompt) gives ``(A, R, False)``; a
    text with no block is all answer.
    """
    stripped = text.lstrip()
    if stripped.startswith(THINK_OPEN):
        inner = stripped[len(THINK_OPEN):]
        if THINK_CLOSE not in inner:
            return "", inner.strip(), True
        thought, _, answer = inner.partition(THINK_CLOSE)
        return answer.strip(), thought.strip(), False
    if THINK_CLOSE in text and THINK_OPEN not in text:
        thought, _, answer = text.partition(THINK_CLOSE)
        return answer.strip(), thought.strip(), False
    return text, None, False

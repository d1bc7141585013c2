"""``clue prompts``: the requests a run would send, written out without running any model.

Each line is one request as a model would receive it: its id, the messages
after the chat layout (and any shortening to fit a context), the decoding
settings, and token counts with the named tokenizer. Nothing scored is in
it (no gold answers): it is what leaves the machine, for a reviewer to check
a protocol against.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from clue.core.chat import ChatLayout, apply_layout
from clue.core.files import write_jsonl
from clue.core.records import Case
from clue.core.tokens import Tokenizer
from clue.pipeline.config import RunSpec
from clue.pipeline.plan import plan, run_templates


def prompt_row(task: str, case: Case, layout: ChatLayout, tokenizer: Tokenizer) -> dict[str, Any]:
    request = case.request
    laid_out = apply_layout(request.messages, layout, request.joins)
    row: dict[str, Any] = {"id": request.id, "task": task, "layout": layout.value}
    if isinstance(laid_out, str):
        row["prompt"] = laid_out
        tokens = tokenizer.count(laid_out)
    else:
        row["messages"] = [asdict(m) for m in laid_out]
        tokens = sum(tokenizer.count(m.content) for m in laid_out)
    row["decoding"] = request.decoding.to_dict()
    row["tokens"] = {"prompt": tokens, "tokenizer": tokenizer.name}
    row["truncated"] = case.reference.truncated
    row["prompt_hash"] = request.prompt_hash()
    return row


def write_prompts(
    config: RunSpec, output: Path, layout: ChatLayout, tokenizer: Tokenizer, context_length: int | None
) -> dict[str, int]:
    """Plan ``config``'s tasks and write one line per request to ``output``; returns counts per task."""
    rows, counts = prompt_rows(config, layout, tokenizer, context_length)
    write_jsonl(output, rows)
    return counts


def prompt_rows(
    config: RunSpec, layout: ChatLayout, tokenizer: Tokenizer, context_length: int | None
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Plan ``config``'s tasks: one row per request (as ``write_prompts`` writes them) and the counts per task."""
    prepared = plan(config, tokenizer, context_length, run_templates(config))
    rows = [prompt_row(p.task.name, case, layout, tokenizer) for p in prepared for case in p.cases]
    return rows, {p.task.name: len(p.cases) for p in prepared}


def readable(row: dict[str, Any]) -> str:
    """One request as a person reads it: a header line, then each message under its role, as sent."""
    decoding = row.get("decoding") or {}
    head = (f"=== {row['id']} ({row['task']}, {row['layout']} layout, {row['tokens']['prompt']} prompt tokens"
            f" by {row['tokens']['tokenizer']}, at most {decoding.get('max_new_tokens')} new tokens"
            + (", shortened to fit" if row.get("truncated") else "") + ")")
    if "prompt" in row:
        body = [row["prompt"]]
    else:
        body = [f"--- {m['role']}\n{m['content']}" for m in row["messages"]]
    return "\n".join([head, *body]) + "\n"

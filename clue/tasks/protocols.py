"""The protocol profiles clue knows (``clue`` and the two reference commits) and the settings those share.

docs/protocols.md has every setting per profile and how the reference's prompts are fetched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clue.core.errors import UsageError
from clue.core.suggest import did_you_mean
from clue.tasks.settings import Settings

REFERENCE_REPO = "TIO-IKIM/CLUE"


@dataclass(frozen=True)
class Protocol:
    name: str
    description: str
    commit: str | None = None  # the reference commit it follows (reference profiles only)

    @property
    def is_reference(self) -> bool:
        return self.commit is not None


PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol("clue", "this project's protocol (docs/protocols.md): seeded demonstrations, its token limits, greedy"),
        Protocol(
            "clue-2024-06",
            "the reference code of the June 2024 results table (TIO-IKIM/CLUE ff75877, text-generation-inference)",
            commit="ff75877284133361d15f12e4ab290d230f449dd0",
        ),
        Protocol(
            "clue-2025-01",
            "the reference's vLLM revision (TIO-IKIM/CLUE 2de4314, January 2025)",
            commit="2de4314cfaf2651a362a2df2ac8336ca0937ea52",
        ),
    )
}


def get_protocol(name: str) -> Protocol:
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise UsageError(f"unknown protocol {name!r}{did_you_mean(name, PROTOCOLS)} Known: {', '.join(PROTOCOLS)}") from None


def cache_root() -> Path:
    """``$CLUE_CACHE_DIR``, else ``$XDG_CACHE_HOME/clue``, else ``~/.cache/clue``."""
    if os.environ.get("CLUE_CACHE_DIR"):
        return Path(os.environ["CLUE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "clue"


def protocol_dir(name: str) -> Path:
    """Where ``clue protocol fetch NAME`` writes the reference's prompt templates."""
    return cache_root() / "protocols" / get_protocol(name).name


# -- what the two reference commits share, declared once; each task.py picks its values --------------------

#: stop strings the reference sent to its server for Llama-3 models (eval_*.py at ff75877)
LLAMA3_STOP = ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|im_end|>")
#: lines of self-prompting the reference removed from outputs before scoring (eval_*.py at ff75877)
REFERENCE_CLEANUP = r"(You are an AI.*)|(\[INST\].*)|((<\|user\|>).*)"


def reference_2024_06(
    shots: int, max_new_tokens: int, fields: dict[str, str], *, keep_end_reserve: int | str = "max_new_tokens",
    options: dict[str, Any] | None = None, **changes: Any,
) -> Settings:
    """The settings the code at ff75877 used, as far as they are common to its tasks.

    First k rows as demonstrations, answers as stored with the reference's
    answer prefixes, the assistant turn pre-filled with that prefix, Llama-3
    stop strings and the self-prompting clean-up, over-long prompts cut by
    the server from the start (it keeps the last tokens): the server's
    ``truncate`` is the model's positions less ``keep_end_reserve`` (a number,
    or ``"max_new_tokens"``; ``options.keep_end_cap`` bounds it). ``options``
    adds task-specific settings.
    """
    base = Settings(
        shots=shots,
        max_new_tokens=max_new_tokens,
        shot_selection="first",
        answer_format="stored",
        prefill=True,
        stop=LLAMA3_STOP,
        cleanup=REFERENCE_CLEANUP,
        truncation="keep-end",
        templates="reference",
        fields=fields,
        options={"keep_end_reserve": keep_end_reserve, **(options or {})},
    )
    return base.overridden(changes)


def reference_2025_01(
    shots: int, max_new_tokens: int, fields: dict[str, str], *, options: dict[str, Any] | None = None, **changes: Any
) -> Settings:
    """The settings the code at 2de4314 used, as far as they are common to its tasks.

    Rows shuffled with Python's random.seed(1), the first k the
    demonstrations, answers as stored, no pre-fill, always a system role, no
    stop strings or clean-up, no truncation (vLLM rejects an over-long prompt).
    """
    base = Settings(
        shots=shots,
        max_new_tokens=max_new_tokens,
        shot_selection="shuffle-seed1",
        answer_format="stored",
        chat_layout="system",
        truncation="none",
        templates="reference",
        fields=fields,
        options=dict(options or {}),
    )
    return base.overridden(changes)

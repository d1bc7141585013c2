"""The typed records that flow through an evaluation.

    Item --build--> Request --generate--> Completion --score--> Scored

Every record is a plain dataclass that serialises to JSON, so each stage can
be stored and re-run from the one before it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from .io import canonical_json, sha256_text

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass
class Item:
    """One record of a dataset file, as the task reads it."""

    id: str
    inputs: dict[str, Any]
    gold: Any
    # The unit that items cluster in (LongHealth: the patient); used by the
    # bootstrap to resample clusters rather than items.
    group: str | None = None


@dataclass(frozen=True)
class Decoding:
    max_new_tokens: int
    temperature: float = 0.0  # greedy unless the user asks otherwise
    top_p: float = 1.0
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Request:
    """What a backend is asked: the canonical conversation plus decoding settings.

    ``messages`` is layout-neutral (a system message, demonstration turns, the
    test turn); the backend applies the chat layout (clue.chat) that fits its
    model. ``payload`` carries the structured inputs (document, question,
    options) for heuristic baselines; it is never sent to a model server.
    """

    id: str
    task: str
    item_id: str
    messages: list[Message]
    decoding: Decoding
    gold: Any
    group: str | None = None
    subtask: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    truncated: bool = False  # the document was shortened to fit the context

    def prompt_hash(self) -> str:
        """Hash of what the model sees (messages) and how it decodes."""
        return sha256_text(
            canonical_json(
                {"messages": [asdict(m) for m in self.messages], "decoding": self.decoding.to_dict()}
            )
        )


@dataclass
class Completion:
    request_id: str
    text: str | None
    error: str | None = None  # set when the backend gave up on this request
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None and self.text is not None


@dataclass
class Scored:
    """One request's parsed answer and per-item metric values (in [0, 1])."""

    request_id: str
    item_id: str
    parsed: Any
    metrics: dict[str, float]
    diagnostics: dict[str, float] = field(default_factory=dict)

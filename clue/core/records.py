"""The typed records that flow through an evaluation.

    Item --build--> Case (Request + Reference) --generate--> Completion --score--> Scored

What a model is sent (``Request``: an id, the messages, the decoding
settings) is a record of its own, apart from what the scorer needs
(``Reference``: the gold answer, the item, its group, the structured inputs).
A backend only ever receives requests, so no model can see an answer. Every
record is a plain dataclass that serialises to JSON, so each stage can be
stored and re-run from the one before it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from clue.core.files import canonical_json, sha256_text

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
    # The answer exactly as the file stores it, where the task normalises ``gold``
    # (demonstrations under the reference protocols show it this way); never scored.
    stored: str | None = None


@dataclass(frozen=True)
class Decoding:
    max_new_tokens: int
    temperature: float = 0.0  # greedy unless the user asks otherwise
    top_p: float = 1.0
    seed: int | None = None
    # strings that end an output (a protocol setting); omitted from to_dict when
    # empty, so requests made without them keep their hashes
    stop: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "temperature": self.temperature,
                               "top_p": self.top_p, "seed": self.seed}
        if self.stop:
            out["stop"] = list(self.stop)
        return out


@dataclass(frozen=True)
class Joins:
    """How a request's chat layouts join its parts, where the task says so (None on a request: clue's own).

    ``fold``: between the system text and the first user turn; ``plain``:
    between parts of a plain prompt, ``plain_end`` after its last part. The
    LongHealth reference (eval_LongHealth.py at ff75877) folds with nothing
    between and writes ``sys_prompt + "\n\n\n" + prompt`` for base models.
    """

    fold: str = "\n\n"
    plain: str = "\n\n"
    plain_end: str = "\n\n"


@dataclass
class Request:
    """What a model is sent: the canonical conversation and the decoding settings. Nothing else.

    ``messages`` is layout-neutral (a system message, demonstration turns, the
    test turn); the backend applies the chat layout (``clue.core.chat``) that
    fits its model.
    """

    id: str
    messages: list[Message]
    decoding: Decoding
    # how the layouts join the parts (None: clue's joins; then the hash is as before the field existed)
    joins: Joins | None = None
    # (what it was computed from, the hash): the run store's key and the predictions row both ask for it
    _hashed: tuple[tuple[Any, ...], str] | None = field(default=None, init=False, repr=False, compare=False)

    def prompt_hash(self) -> str:
        """Hash of what the model sees (messages) and how it decodes; computed once per request.

        Messages and decoding are frozen values: the hash is kept while they
        compare equal to the ones it was computed from (a cheap comparison,
        usually of the very same objects).
        """
        basis = (self.decoding, self.joins, *self.messages)
        if self._hashed is None or self._hashed[0] != basis:
            # the fields of asdict(m), without its deep copy (a message holds two strings)
            messages = [{"role": m.role, "content": m.content} for m in self.messages]
            material: dict[str, Any] = {"messages": messages, "decoding": self.decoding.to_dict()}
            if self.joins is not None:
                material["joins"] = asdict(self.joins)
            digest = sha256_text(canonical_json(material))
            self._hashed = (basis, digest)
        return self._hashed[1]


@dataclass
class Reference:
    """What scoring a request needs; never sent to a model.

    ``inputs`` are the structured inputs the prompt was made from (document,
    question, options, after any shortening); only the parameterless baseline
    reads them, and the scorer where an answer is judged against them.
    """

    request_id: str
    task: str
    item_id: str
    gold: Any
    group: str | None = None
    subtask: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    truncated: bool = False  # the document was shortened to fit the context


@dataclass
class Case:
    """One planned request and what it is scored against."""

    request: Request
    reference: Reference

    @property
    def id(self) -> str:
        return self.request.id


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

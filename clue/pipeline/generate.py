"""Generation through the run store: stored answers first, the model for the rest.

``stored_generate`` is the only way clue's commands talk to a model: every
completion is committed to the run store (``clue.store.runs``) before it is
passed on, the completions that arrived together in one commit
(``Backend.generate_groups``), so a killed run loses only the requests in
flight and the answers not yet committed. ``StoreBackend``
answers from a store alone: ``clue score RUN_DIR`` re-scores with it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from clue.core.chat import ChatLayout
from clue.core.errors import UsageError
from clue.core.records import Completion, Request
from clue.core.tokens import ApproxTokenizer, Tokenizer
from clue.models.base import Backend
from clue.store.runs import RunStore, StoredRow, model_key, request_key


def stored_generate(
    backend: Backend, requests: Sequence[Request], store: RunStore, *, refresh: bool = False
) -> Iterator[Completion]:
    """Yield stored answers first, then the backend's answers to the rest, each committed before it is yielded.

    ``refresh=True`` ignores stored answers (new ones overwrite them).
    """
    identity = backend.identity()
    mkey = model_key(identity)
    store.register_model(mkey, identity, backend.description().store_record())
    layout = backend.layout
    stored = {} if refresh else store.answers(mkey)
    missing: list[Request] = []
    if stored:
        for request in requests:
            row = stored.get(request_key(request, layout))
            if row is None:
                missing.append(request)
            else:
                yield row.completion(request.id)
    else:  # nothing to look up: no key is computed before the first request goes out
        missing = list(requests)
    if not missing:
        return
    wanted = {r.id: r for r in missing}
    for group in backend.generate_groups(missing):
        rows = []
        for completion in group:
            asked = wanted.get(completion.request_id)
            if asked is None:
                raise RuntimeError(f"backend {backend.kind!r} answered a request it was not asked: {completion.request_id!r}")
            rows.append((request_key(asked, layout), completion.request_id, completion))
        store.put_many(mkey, rows)  # what arrived together, in one commit, before any of it is passed on
        yield from group


class StoreBackend(Backend):
    """Answers from a run store, without any model: ``clue score RUN_DIR`` re-scores with it.

    It reports the recorded model, kind, chat layout and context length, so
    the rebuilt requests (and results.json) match the original run. A request
    is matched by its request key, or failing that by its id; one the store
    does not hold comes back failed. The recorded tokenizer is only known by
    name: pass the same one as ``tokenizer`` when the run used a model's own
    (otherwise prompts truncated to fit are rebuilt with the approximate count
    and may be matched by id only).
    """

    kind = "store"

    def __init__(self, path: str | Path, model: str | None = None, tokenizer: Tokenizer | None = None):
        self.store = RunStore(path)
        self.key = model or self.store.only_model()
        found = [m for m in self.store.models() if m["model_key"] == self.key]
        if not found:
            raise UsageError(f"{path}: no model with key {self.key!r}")
        self.described = found[0]["described"]
        super().__init__(self.described.get("model") or "unknown", {})
        self.kind = self.described.get("kind") or "store"
        self._tokenizer = tokenizer or ApproxTokenizer()

    @property
    def context_length(self) -> int | None:
        return self.described.get("context_length")

    @property
    def tokenizer(self) -> Tokenizer:
        return self._tokenizer

    @property
    def layout(self) -> ChatLayout | None:
        value = self.described.get("chat_layout")
        return ChatLayout(value) if value else None

    def details(self) -> dict[str, Any]:
        info = super().details()
        info.update({"answered_from": str(self.store.path), "recorded": self.described})
        return info

    def generate(self, requests: Sequence[Request]) -> Iterator[Completion]:
        rows = self.store.rows(self.key)
        by_id: dict[str, StoredRow] = {}
        for row in rows.values():
            if row.ok or row.request_id not in by_id:
                by_id[row.request_id] = row
        layout = self.layout
        for request in requests:
            found = rows.get(request_key(request, layout))
            if found is None or not found.ok:
                found = by_id.get(request.id, found)
            if found is None:
                yield Completion(request.id, None, error="not in the run store")
            else:
                yield found.completion(request.id)  # a failure keeps its recorded error, word for word

    def close(self) -> None:
        self.store.close()

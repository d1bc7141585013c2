"""Toy parity (level 1): is the number even or odd? A task declared as a built-in one is."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clue.core.access import PUBLIC
from clue.core.errors import DataError
from clue.core.records import Item, Reference, Scored
from clue.formats.readers import UniqueIds, need_object, need_text, read_records
from clue.tasks.base import Task
from clue.tasks.declaration import DataFiles, Declaration, DiagnosticColumn
from clue.tasks.settings import Settings

from . import baseline  # relative: the same import in this tree (tests.tasks...) and installed as a plugin

LABELS = ("EVEN", "ODD")

DECLARATION = Declaration(
    name="toy_parity",
    title="Toy Parity",
    level=1,
    access=PUBLIC,
    metrics=("accuracy",),
    files=DataFiles(expected="toy_parity.jsonl", format="JSONL: id, number, parity", demo="toy_parity.jsonl"),
    protocols={"clue": Settings(shots=1, max_new_tokens=4)},
    diagnostics=(DiagnosticColumn("toy_parity_no_label", "Toy parity no label (%)", "diagnostics.no_label_rate"),),
)


class ToyParity(Task):
    declaration = DECLARATION

    def load(self, path: str | Path) -> list[Item]:
        ids = UniqueIds(path, "id")
        items = []
        for label, raw in read_records(path):
            record = need_object(path, label, raw)
            item_id = ids.check(label, need_text(path, label, record, "id"))
            number = need_text(path, label, record, "number")
            gold = need_text(path, label, record, "parity").upper()
            if gold not in LABELS:
                raise DataError(path, f"unknown parity {gold!r}", record=label, field="parity")
            items.append(Item(id=item_id, inputs={"number": number}, gold=gold))
        return items

    def score(self, reference: Reference, output: str) -> Scored:
        words = output.strip().upper().split()
        parsed = words[0].strip(".") if words else None
        return Scored(
            request_id=reference.request_id,
            item_id=reference.item_id,
            parsed=parsed,
            metrics={"accuracy": float(parsed == reference.gold)},
            diagnostics={"no_label_rate": float(parsed not in LABELS)},
        )

    def baseline(self, inputs: Mapping[str, Any]) -> str:
        return baseline.answer(inputs)

"""MedNLI (level 1): natural language inference on sentence pairs from MIMIC-III notes.

File: ``mli_test_v1.jsonl`` (PhysioNet, credentialed). 1,422 pairs; 3 seeded
demonstrations from the file itself; up to 20 new tokens.
Score: accuracy, by the reference rule (the gold label occurs exactly once in
the upper-cased output). Diagnostics: first-label accuracy, share of outputs
naming no label, share naming more than one.
"""

from __future__ import annotations

from pathlib import Path

from ..datasets.readers import need_object, need_text, read_records, UniqueIds
from ..errors import DataError
from ..metrics.labels import NLI_LABELS, first_label, reference_correct
from ..schema import Item, Request, Scored
from .base import CREDENTIALED, Task, Templates


class MedNLI(Task):
    name = "mednli"
    title = "MedNLI"
    level = 1
    access = CREDENTIALED
    expected_file = "mli_test_v1.jsonl"
    file_format = "JSONL: pairID, sentence1, sentence2, gold_label"
    metrics = ("accuracy",)
    shots = 3
    max_new_tokens = 20
    document_field = None  # two sentences never need shortening

    def load(self, path: str | Path) -> list[Item]:
        items = []
        ids = UniqueIds(path, "pairID")
        for label, raw in read_records(path):
            record = need_object(path, label, raw)
            pair_id = ids.check(label, need_text(path, label, record, "pairID"))
            gold = need_text(path, label, record, "gold_label").strip().lower()
            if gold.upper() not in NLI_LABELS:
                raise DataError(
                    path, f"unknown label {gold!r}; expected entailment, neutral or contradiction",
                    record=label, field="gold_label",
                )
            items.append(
                Item(
                    id=pair_id,
                    inputs={
                        "sentence1": need_text(path, label, record, "sentence1"),
                        "sentence2": need_text(path, label, record, "sentence2"),
                    },
                    gold=gold,
                )
            )
        return items

    def render_answer(self, item: Item, templates: Templates) -> str:
        return str(item.gold).upper()

    def score(self, request: Request, output: str) -> Scored:
        found = first_label(output)
        named = sum(1 for lab in NLI_LABELS if lab in output.upper())
        return Scored(
            request_id=request.id,
            item_id=request.item_id,
            parsed=found,
            metrics={"accuracy": float(reference_correct(output, request.gold))},
            diagnostics={
                "first_label_accuracy": float(found == str(request.gold).upper()),
                "no_label_rate": float(named == 0),
                "several_labels_rate": float(named > 1),
            },
        )

"""MedNLI (level 1): natural language inference on sentence pairs from MIMIC-III notes.

File: ``mli_test_v1.jsonl`` (PhysioNet, credentialed). 1,422 pairs; 3 seeded
demonstrations from the file itself; up to 20 new tokens.
Score: accuracy, by the reference rule (the gold label occurs exactly once in
the upper-cased output). Diagnostics: first-label accuracy, share of outputs
naming no label, share naming more than one.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import permutations
from pathlib import Path
from typing import Any

from clue.core.access import CREDENTIALED
from clue.core.errors import DataError
from clue.core.records import Item, Reference, Scored
from clue.formats.readers import UniqueIds, need_object, need_text, read_records
from clue.metrics.labels import NLI_LABELS
from clue.tasks.answers import Labels
from clue.tasks.base import BuildContext, Task
from clue.tasks.declaration import DataFiles, Declaration, DiagnosticColumn, Release
from clue.tasks.mednli import baseline
from clue.tasks.protocols import reference_2024_06, reference_2025_01
from clue.tasks.settings import Settings
from clue.tasks.templates import Templates

# The reference's template fields -> this task's inputs ("@answer": the stored answer).
FIELDS = {"sentence1": "sentence1", "sentence2": "sentence2", "gold_label": "@answer"}

# The orders the three labels can be named in; order 0 is the protocol's.
LABEL_ORDERS = list(permutations(NLI_LABELS))


def label_list(order: int) -> str:
    """The labels as the prompt names them under answer order ``order``: "A, B or C"."""
    if not 0 <= order < len(LABEL_ORDERS):
        raise ValueError(f"MedNLI has {len(LABEL_ORDERS)} label orders; {order} is not one")
    first, second, third = LABEL_ORDERS[order]
    return f"{first}, {second} or {third}"


DECLARATION = Declaration(
    name="mednli",
    title="MedNLI",
    kind="classification",
    level=1,
    access=CREDENTIALED,
    metrics=("accuracy",),
    files=DataFiles(
        expected="mli_test_v1.jsonl",
        format="JSONL: pairID, sentence1, sentence2, gold_label",
        demo="mli_test_v1.jsonl",
    ),
    # Two sentences never need shortening: no document field.
    # clue-2024-06 / clue-2025-01: eval/eval_mednli.py and eval/utils.py at ff75877 / 2de4314
    protocols={
        "clue": Settings(shots=3, max_new_tokens=20),
        "clue-2024-06": reference_2024_06(3, 20, FIELDS, keep_end_reserve=200),  # eval_mednli.py line 90
        "clue-2025-01": reference_2025_01(3, 20, FIELDS),
    },
    release=Release(
        kind="physionet",
        source="PhysioNet MedNLI 1.0.0 (credentialed)",
        url_path="mednli/1.0.0/mli_test_v1.jsonl",
        records=1422,
        license="PhysioNet Credentialed Health Data License 1.5.0",
        page="https://physionet.org/content/mednli/1.0.0/",
        physionet_project="mednli/1.0.0",
    ),
    diagnostics=(
        DiagnosticColumn("mednli_no_label", "MedNLI no label (%)", "diagnostics.no_label_rate"),
        DiagnosticColumn("mednli_several_labels", "MedNLI several labels (%)", "diagnostics.several_labels_rate"),
    ),
)


# Scored as any label task: the gold label occurs exactly once in the upper-cased output.
ANSWERS = Labels(NLI_LABELS)


class MedNLI(Task):
    declaration = DECLARATION

    def load(self, path: str | Path) -> list[Item]:
        items = []
        ids = UniqueIds(path, "pairID")
        for label, raw in read_records(path):
            record = need_object(path, label, raw)
            pair_id = ids.check(label, need_text(path, label, record, "pairID"))
            stored = need_text(path, label, record, "gold_label")
            gold = stored.strip().lower()
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
                    stored=stored,
                )
            )
        return items

    def answer_orders(self) -> int:
        return len(LABEL_ORDERS)

    def prompt_values(self, ctx: BuildContext) -> dict[str, Any]:
        return {"labels": label_list(ctx.variant.order)}

    def render_answer(self, item: Item, templates: Templates) -> str:
        return str(item.gold).upper()

    def score(self, reference: Reference, output: str) -> Scored:
        return ANSWERS.score(reference, output, self.declaration.item_metrics)

    def baseline(self, inputs: Mapping[str, Any]) -> str:
        return baseline.answer(inputs)

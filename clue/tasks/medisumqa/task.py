"""MeDiSumQA (level 2): answer a patient's question about their stay from the discharge letter.

File: the released JSON (PhysioNet, credentialed; 416 pairs) or one built by
``clue data build medisumqa``: a JSON array or JSONL of objects with
``discharge_summary`` (or ``without_discharge_summary``), ``Question`` and
``Answer``. 1 seeded demonstration; 512 new tokens. Records have no id in the
file; an ``id`` field is used when present, otherwise a hash of the letter and
question (stable when the file is re-ordered; a repeated pair is an error).
Score: mean of ROUGE-1/2/L, BERTScore-F1 and UMLS-F1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from clue.core.access import CREDENTIALED
from clue.core.files import sha256_text
from clue.core.records import Case, Item
from clue.formats.readers import UniqueIds, need_object, need_text, read_records
from clue.tasks.base import BuildContext
from clue.tasks.declaration import DataFiles, Declaration, Release
from clue.tasks.medisumqa import baseline
from clue.tasks.protocols import reference_2024_06, reference_2025_01
from clue.tasks.settings import Settings
from clue.tasks.summaries import SummaryTask

# The reference's template fields -> this task's inputs ("@answer": the stored answer). The letter is the
# file's field ``options.letter_field`` names: without_discharge_summary at ff75877 (eval_MeDiSumQA.py line
# 21), discharge_summary at 2de4314; under clue (no letter_field) discharge_summary first, else the other.
FIELDS_2024 = {"without_discharge_summary": "letter", "Question": "question", "Answer": "@answer"}
LETTER_FIELDS = ("discharge_summary", "without_discharge_summary")
FIELDS_2025 = {"discharge_summary": "letter", "Question": "question", "Answer": "@answer"}

DECLARATION = Declaration(
    name="medisumqa",
    title="MeDiSumQA",
    kind="free text",
    level=2,
    access=CREDENTIALED,
    metrics=("rouge1", "rouge2", "rougeL", "bertscore", "umls_f1"),
    files=DataFiles(
        expected="medisumqa.json",
        format="JSON array or JSONL: discharge_summary (or without_discharge_summary), Question, Answer",
        alternatives=("medisumqa.jsonl", "MeDiSumQA.json", "MeDiSumQA.jsonl"),
        demo="medisumqa_demo.json",
    ),
    # clue-2024-06: eval/eval_MeDiSumQA.py at ff75877 (rows shuffled with random.seed(1) already there;
    # Bio_ClinicalBERT; no clean-up regex); clue-2025-01: the same file at 2de4314 (lang="en-sci")
    protocols={
        "clue": Settings(shots=1, max_new_tokens=512, document_field="letter"),
        # strip_output: text_generation(...).strip(), eval_MeDiSumQA.py line 122 at ff75877
        "clue-2024-06": reference_2024_06(
            1, 200, FIELDS_2024, shot_selection="shuffle-seed1", cleanup="", bertscore_model="bioclinicalbert",
            options={"letter_field": "without_discharge_summary", "strip_output": True},
        ),
        "clue-2025-01": reference_2025_01(
            1, 512, FIELDS_2025, bertscore_model="scibert", options={"letter_field": "discharge_summary"}
        ),
    },
    release=Release(
        kind="physionet",
        source="PhysioNet MeDiSumQA 1.0.0 (credentialed, 2025), or `clue data build medisumqa`",
        # The file's name inside the release is not known here: the download
        # reads the project's SHA256SUMS.txt and takes its JSON/JSONL file.
        url_path=None,
        records=416,
        license="PhysioNet Credentialed Health Data License 1.5.0",
        page="https://physionet.org/content/medisumqa/1.0.0/",
        physionet_project="medisumqa/1.0.0",
    ),
)


class MeDiSumQA(SummaryTask):
    declaration = DECLARATION

    def load(self, path: str | Path) -> list[Item]:
        ids = UniqueIds(path, "id")
        items = []
        for label, raw in read_records(path):
            record = need_object(path, label, raw)
            letter = need_text(path, label, record, *LETTER_FIELDS)
            # both letters, where the file holds both (a profile may read the other one; see build)
            letters = {f: need_text(path, label, record, f) for f in LETTER_FIELDS if f in record}
            question = need_text(path, label, record, "Question")
            answer = need_text(path, label, record, "Answer")
            given = record.get("id")
            item_id = str(given) if given not in (None, "") else sha256_text(f"{letter}\n{question}")[:12]
            items.append(
                Item(
                    id=ids.check(label, item_id),
                    inputs={"letter": letter, "question": question, **({"letters": letters} if len(letters) > 1 else {})},
                    gold=answer.strip(), stored=answer,
                )
            )
        return items

    def build(self, items: Sequence[Item], ctx: BuildContext) -> list[Case]:
        """The letter ``options.letter_field`` names where the file holds both (else the one it holds)."""
        wanted = self.settings(ctx).options.get("letter_field")

        def letter(item: Item) -> str:
            letters = item.inputs.get("letters") or {}
            return str(letters.get(wanted, item.inputs["letter"]))

        items = [
            replace(item, inputs={"letter": letter(item), "question": item.inputs["question"]}) for item in items
        ]
        return super().build(items, ctx)

    def baseline(self, inputs: Mapping[str, Any]) -> str:
        return baseline.answer(inputs)

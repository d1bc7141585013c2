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

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clue.core.access import CREDENTIALED
from clue.core.files import sha256_text
from clue.core.records import Item
from clue.formats.readers import UniqueIds, need_object, need_text, read_records
from clue.tasks.declaration import DataFiles, Declaration, Release
from clue.tasks.medisumqa import baseline
from clue.tasks.protocols import reference_2024_06, reference_2025_01
from clue.tasks.settings import Settings
from clue.tasks.summaries import SummaryTask

# The reference's template fields -> this task's inputs ("@answer": the stored answer). At ff75877 the
# letter is the file's without_discharge_summary, at 2de4314 its discharge_summary; clue reads whichever
# the file holds (discharge_summary first) into "letter".
FIELDS_2024 = {"without_discharge_summary": "letter", "Question": "question", "Answer": "@answer"}
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
        "clue-2024-06": reference_2024_06(
            1, 200, FIELDS_2024, shot_selection="shuffle-seed1", cleanup="", bertscore_model="bioclinicalbert"
        ),
        "clue-2025-01": reference_2025_01(1, 512, FIELDS_2025, bertscore_model="scibert"),
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
            letter = need_text(path, label, record, "discharge_summary", "without_discharge_summary")
            question = need_text(path, label, record, "Question")
            answer = need_text(path, label, record, "Answer")
            given = record.get("id")
            item_id = str(given) if given not in (None, "") else sha256_text(f"{letter}\n{question}")[:12]
            items.append(
                Item(
                    id=ids.check(label, item_id), inputs={"letter": letter, "question": question},
                    gold=answer.strip(), stored=answer,
                )
            )
        return items

    def baseline(self, inputs: Mapping[str, Any]) -> str:
        return baseline.answer(inputs)

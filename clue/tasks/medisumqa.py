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

from pathlib import Path

from ..datasets.readers import UniqueIds, need_object, need_text, read_records
from ..io import sha256_text
from ..schema import Item
from .base import CREDENTIALED
from .summaries import SummaryTask


class MeDiSumQA(SummaryTask):
    name = "medisumqa"
    title = "MeDiSumQA"
    level = 2
    access = CREDENTIALED
    expected_file = "medisumqa.json"
    file_format = "JSON array or JSONL: discharge_summary (or without_discharge_summary), Question, Answer"
    metrics = ("rouge1", "rouge2", "rougeL", "bertscore", "umls_f1")
    model_metrics = ("bertscore", "umls_f1")
    shots = 1
    max_new_tokens = 512
    document_field = "letter"

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
                Item(id=ids.check(label, item_id), inputs={"letter": letter, "question": question}, gold=answer.strip())
            )
        return items

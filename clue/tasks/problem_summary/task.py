"""Problem Summary (level 1; BioNLP 2023 task 1A): list a patient's problems from a progress note.

File: ``BioNLP2023-1A-Test.csv`` (PhysioNet, credentialed), columns File ID,
Subjectives, Objectives, Assessment, Summary (the train file calls them
Subjective Sections and Objective Sections). 237 notes; 3 seeded
demonstrations; 512 new tokens. The prompt shows the Subjective and
Assessment sections. The gold Summary is ``;``-separated: separators become
", " and a trailing one is dropped.
Score: mean of ROUGE-1/2/L, BERTScore-F1 and UMLS-F1.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clue.core.access import CREDENTIALED
from clue.core.records import Item
from clue.formats.readers import UniqueIds, need_nonempty, read_table
from clue.tasks.declaration import DataFiles, Declaration, Release
from clue.tasks.problem_summary import baseline
from clue.tasks.protocols import reference_2024_06, reference_2025_01
from clue.tasks.settings import Settings
from clue.tasks.summaries import SummaryTask


def normalise_summary(summary: str) -> str:
    """'A; B;C;' -> 'A, B, C' (the reference's reading of the gold list)."""
    parts = [part.strip() for part in summary.split(";")]
    while parts and not parts[-1]:
        parts.pop()
    return ", ".join(parts)


# The reference's template fields -> this task's inputs ("@answer": the stored answer).
FIELDS = {"Subjectives": "subjective", "Assessment": "assessment", "Summary": "@answer"}

DECLARATION = Declaration(
    name="problem_summary",
    title="Problem Summary",
    kind="free text",
    level=1,
    access=CREDENTIALED,
    metrics=("rouge1", "rouge2", "rougeL", "bertscore", "umls_f1"),
    files=DataFiles(
        expected="BioNLP2023-1A-Test.csv",
        format="CSV: File ID, Subjectives (or Subjective Sections), Objectives, Assessment, Summary",
        demo="BioNLP2023-1A-Test.csv",
    ),
    # clue-2024-06: eval/eval_ProblemSummary.py at ff75877 (Bio_ClinicalBERT, inputs lowercased);
    # clue-2025-01: the same file at 2de4314 (lang="en-sci": SciBERT, not lowercased)
    protocols={
        "clue": Settings(shots=3, max_new_tokens=512, document_field="subjective"),
        "clue-2024-06": reference_2024_06(
            3, 100, FIELDS, bertscore_model="bioclinicalbert", bertscore_lowercase=True
        ),
        "clue-2025-01": reference_2025_01(3, 512, FIELDS, bertscore_model="scibert"),
    },
    release=Release(
        kind="physionet",
        source="PhysioNet BioNLP Workshop 2023 Shared Task 1A 2.0.0 (credentialed)",
        url_path="bionlp-workshop-2023-task-1a/2.0.0/BioNLP2023-1A-Test.csv",
        records=237,
        license="PhysioNet Credentialed Health Data License 1.5.0",
        page="https://physionet.org/content/bionlp-workshop-2023-task-1a/2.0.0/",
        physionet_project="bionlp-workshop-2023-task-1a/2.0.0",
    ),
)


class ProblemSummary(SummaryTask):
    declaration = DECLARATION

    def load(self, path: str | Path) -> list[Item]:
        rows = read_table(
            path,
            {
                "file_id": ["File ID"],
                "subjective": ["Subjectives", "Subjective Sections", "Subjective"],
                "assessment": ["Assessment"],
                "summary": ["Summary"],
            },
        )
        ids = UniqueIds(path, "File ID")
        items = []
        for label, row in rows:
            item_id = ids.check(label, need_nonempty(path, label, "File ID", row["file_id"]).strip())
            summary = need_nonempty(path, label, "Summary", row["summary"])
            gold = normalise_summary(summary)
            need_nonempty(path, label, "Summary", gold)
            # A note may lack a subjective section; the assessment is what the
            # task is about, so only it must be present.
            items.append(
                Item(
                    id=item_id,
                    inputs={
                        "subjective": row["subjective"],
                        "assessment": need_nonempty(path, label, "Assessment", row["assessment"]),
                    },
                    gold=gold,
                    # the reference replaced every ";" with ", " (its trailing-";" cut had no effect)
                    stored=summary.replace(";", ", "),
                )
            )
        return items

    def baseline(self, inputs: Mapping[str, Any]) -> str:
        return baseline.answer(inputs)

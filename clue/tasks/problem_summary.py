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

from pathlib import Path

from ..datasets.readers import UniqueIds, need_nonempty, read_table
from ..schema import Item
from .base import CREDENTIALED
from .summaries import SummaryTask


def normalise_summary(summary: str) -> str:
    """'A; B;C;' -> 'A, B, C' (the reference's reading of the gold list)."""
    parts = [part.strip() for part in summary.split(";")]
    while parts and not parts[-1]:
        parts.pop()
    return ", ".join(parts)


class ProblemSummary(SummaryTask):
    name = "problem_summary"
    title = "Problem Summary"
    level = 1
    access = CREDENTIALED
    expected_file = "BioNLP2023-1A-Test.csv"
    file_format = "CSV: File ID, Subjectives (or Subjective Sections), Objectives, Assessment, Summary"
    metrics = ("rouge1", "rouge2", "rougeL", "bertscore", "umls_f1")
    model_metrics = ("bertscore", "umls_f1")
    shots = 3
    max_new_tokens = 512
    document_field = "subjective"

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
            gold = normalise_summary(need_nonempty(path, label, "Summary", row["summary"]))
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
                )
            )
        return items

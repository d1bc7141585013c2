"""What the free-text tasks (MeQSum, Problem Summary, MeDiSumQA) share: their answers are free text."""

from __future__ import annotations

from clue.core.records import Reference, Scored
from clue.tasks.answers import FreeText
from clue.tasks.base import Task

ANSWERS = FreeText()


class SummaryTask(Task):
    def score(self, reference: Reference, output: str) -> Scored:
        # ROUGE per item; BERTScore and UMLS-F1 are added by the pipeline in batches
        return ANSWERS.score(reference, output, self.declaration.item_metrics)

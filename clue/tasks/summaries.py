"""What the free-text tasks (MeQSum, Problem Summary, MeDiSumQA) share: scoring.

Per item: ROUGE-1/2/L F-measure against the reference. BERTScore and UMLS-F1
need model weights and run in batches over all of a task's outputs (see
``clue.metrics.model``); the pipeline adds them to these per-item scores.
"""

from __future__ import annotations

from clue.core.records import Reference, Scored
from clue.metrics.rouge import rouge
from clue.tasks.base import Task


class SummaryTask(Task):
    def score(self, reference: Reference, output: str) -> Scored:
        answer = output.strip()
        return Scored(
            request_id=reference.request_id,
            item_id=reference.item_id,
            parsed=answer,
            metrics=rouge(answer, str(reference.gold)),
            diagnostics={"empty_answer_rate": float(not answer)},
        )

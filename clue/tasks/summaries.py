"""What the free-text tasks (MeQSum, Problem Summary, MeDiSumQA) share: scoring.

Per item: ROUGE-1/2/L F-measure against the reference. BERTScore and UMLS-F1
need model weights and run in batches over all of a task's outputs (see
``clue.metrics.model``); the runner adds them to these per-item scores.
"""

from __future__ import annotations

from ..metrics.rouge import rouge
from ..schema import Request, Scored
from .base import Task


class SummaryTask(Task):
    def score(self, request: Request, output: str) -> Scored:
        answer = output.strip()
        return Scored(
            request_id=request.id,
            item_id=request.item_id,
            parsed=answer,
            metrics=rouge(answer, str(request.gold)),
            diagnostics={"empty_answer_rate": float(not answer)},
        )

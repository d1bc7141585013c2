"""Scoring a predictions file without any model (``clue score --task T --data F --predictions P``).

Predictions are matched to the planned requests by request id
(``longhealth/patient_01/q00/task2/3``) or, for tasks with one request per
item, by item id (a MedNLI ``pairID``). A request with no prediction comes
back as a failed completion, so it is reported as missing rather than scored
as zero; a prediction that matches no request is reported too, and one that
names a few-shot demonstration is said to be one (demonstrations are not scored).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from clue.core.errors import DataError
from clue.core.results import RunResults
from clue.core.tokens import ApproxTokenizer
from clue.formats.readers import need_object, need_text, read_records
from clue.models.replay import ReplayBackend
from clue.pipeline.config import RunSpec
from clue.pipeline.plan import PreparedTask, plan, run_templates
from clue.pipeline.run import generate_all, score_and_write


def read_predictions(path: str | Path) -> dict[str, str]:
    """``{"id": ..., "output": ...}`` lines into id -> output; a repeated id or a missing output is an error."""
    outputs: dict[str, str] = {}
    for label, raw in read_records(path):
        record = need_object(path, label, raw)
        key = need_text(path, label, record, "id")
        if key in outputs:
            raise DataError(path, f"duplicate id {key!r}", record=label, field="id")
        output = record.get("output")
        if not isinstance(output, str):
            raise DataError(path, "missing or not text", record=label, field="output")
        outputs[key] = output
    return outputs


@dataclass
class Matched:
    outputs: dict[str, str]  # request id -> output
    unmatched: list[str]  # prediction ids that name no request and no demonstration
    demonstrations: list[str]  # prediction ids that name a few-shot demonstration


def match(prepared: Sequence[PreparedTask], outputs: dict[str, str]) -> Matched:
    per_item: dict[str, int] = {}
    for p in prepared:
        for case in p.cases:
            per_item[case.reference.item_id] = per_item.get(case.reference.item_id, 0) + 1
    by_request: dict[str, str] = {}
    used: set[str] = set()
    for p in prepared:
        for case in p.cases:
            item = case.reference.item_id
            for key in (case.id, item if per_item[item] == 1 else None):
                if key is not None and key in outputs:
                    used.add(key)
                    by_request[case.id] = outputs[key]
                    break
    scored_items = set(per_item)
    shot_items = {item.id for p in prepared for item in p.items} - scored_items
    leftover = sorted(set(outputs) - used)
    return Matched(
        outputs=by_request,
        unmatched=[k for k in leftover if k not in shot_items],
        demonstrations=[k for k in leftover if k in shot_items],
    )


def score_predictions(config: RunSpec, predictions: Path) -> tuple[RunResults, Matched]:
    """Plan ``config``'s tasks, answer them from ``predictions``, score and write the run files."""
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    templates = run_templates(config)
    prepared = plan(config, ApproxTokenizer(), None, templates)
    matched = match(prepared, read_predictions(predictions))
    backend = ReplayBackend(str(predictions), {}, matched.outputs)
    completions = generate_all(backend, prepared, None, None)
    generation_s = time.perf_counter() - t0
    results = score_and_write(config, backend, prepared, completions, templates, started, t0, generation_s)
    return results, matched

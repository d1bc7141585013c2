"""A backend that answers from recorded outputs: scoring without any model.

Predictions are matched to requests by request id (``longhealth/patient_01/q00/task2/3``)
or, for tasks with one request per item, by item id (a MedNLI ``pairID``).
A request with no recorded output comes back as a failed completion, so it
is reported as missing rather than scored as zero.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from ..datasets.readers import need_object, need_text, read_records
from ..errors import DataError
from ..schema import Completion, Request
from .base import Backend


class ReplayBackend(Backend):
    kind = "replay"

    def __init__(self, target: str, options: Mapping[str, Any] | None = None, outputs: Mapping[str, str] | None = None):
        super().__init__(target, options)
        self.outputs = dict(outputs or {})
        self._used: set[str] = set()

    @classmethod
    def from_jsonl(cls, path: str | Path) -> "ReplayBackend":
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
        return cls(str(path), {}, outputs)

    def generate(self, requests: Sequence[Request]) -> Iterator[Completion]:
        per_item: dict[str, int] = {}
        for request in requests:
            per_item[request.item_id] = per_item.get(request.item_id, 0) + 1
        for request in requests:
            for key in (request.id, request.item_id if per_item[request.item_id] == 1 else None):
                if key is not None and key in self.outputs:
                    self._used.add(key)
                    yield Completion(request.id, self.outputs[key])
                    break
            else:
                yield Completion(request.id, None, error="no recorded output for this request")

    def unmatched(self) -> list[str]:
        return sorted(set(self.outputs) - self._used)

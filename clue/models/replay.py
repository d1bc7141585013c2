"""A backend that answers from recorded outputs: scoring without any model.

It is given the outputs by request id (``clue.pipeline.predictions`` matches a
predictions file's ids to the planned requests). A request with no recorded
output comes back as a failed completion, so it is reported as missing
rather than scored as zero.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from clue.core.records import Completion, Request
from clue.models.base import Backend


class ReplayBackend(Backend):
    kind = "replay"

    def __init__(self, target: str, options: Mapping[str, Any] | None = None, outputs: Mapping[str, str] | None = None):
        super().__init__(target, options)
        self.outputs = dict(outputs or {})

    def generate(self, requests: Sequence[Request]) -> Iterator[Completion]:
        for request in requests:
            output = self.outputs.get(request.id)
            if output is None:
                yield Completion(request.id, None, error="no recorded output for this request")
            else:
                yield Completion(request.id, output)

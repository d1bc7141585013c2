"""Plan: load every task's file and build its requests, before a model sees anything.

All tasks are loaded and built first, so a bad data file stops the run
before any compute is spent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from clue.core.files import sha256_file
from clue.core.records import Case, Item
from clue.core.tokens import Tokenizer
from clue.pipeline.config import RunConfig
from clue.pipeline.data import locate_all
from clue.tasks.base import BuildContext, Task, Templates
from clue.tasks.registry import get_task


@dataclass
class PreparedTask:
    task: Task
    path: Path
    source: str  # "explicit", "data-dir" or "demo"
    sha256: str
    items: list[Item]
    cases: list[Case]

    @property
    def truncated(self) -> int:
        return sum(c.reference.truncated for c in self.cases)


def limit_cases(cases: Sequence[Case], limit: int | None) -> list[Case]:
    """Keep the cases of the first ``limit`` scored items (all sub-prompts of each)."""
    if limit is None:
        return list(cases)
    keep: dict[str, None] = {}
    for case in cases:
        item = case.reference.item_id
        if item not in keep and len(keep) >= limit:
            continue
        keep.setdefault(item, None)
    return [c for c in cases if c.reference.item_id in keep]


def plan(
    config: RunConfig, tokenizer: Tokenizer, context_length: int | None, templates: Templates
) -> list[PreparedTask]:
    """Load and build every task of ``config`` for a model with this tokenizer and context."""
    prepared = []
    files = locate_all([get_task(name) for name in config.tasks], config.data, config.data_dir)
    for name in config.tasks:
        task = get_task(name)
        path, source = files[name]
        items = task.load(path)
        ctx = BuildContext(
            seed=config.seed,
            tokenizer=tokenizer,
            context_length=context_length,
            templates=templates,
            max_new_tokens=config.max_new_tokens,
            temperature=config.temperature,
            task_options=config.task_options,
            protocol=config.protocol,
        )
        cases = limit_cases(task.build(items, ctx), config.limit)
        prepared.append(PreparedTask(task, path, source, sha256_file(path), items, cases))
    return prepared

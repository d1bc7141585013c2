"""Plan: load every task's file and build its requests, before a model sees anything.

All tasks are loaded and built first, so a bad data file stops the run
before any compute is spent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clue.core.errors import UsageError
from clue.core.files import sha256_file
from clue.core.records import Case, Item
from clue.core.tokens import Tokenizer
from clue.pipeline.config import RunSpec
from clue.pipeline.data import locate_all
from clue.tasks.base import BuildContext, Task
from clue.tasks.protocols import get_protocol, protocol_dir
from clue.tasks.registry import get_task
from clue.tasks.settings import Settings, parse_setting
from clue.tasks.templates import Templates
from clue.tasks.variant import Variant

# The model's context length, or a function that finds it (e.g. by asking a server): called only when needed.
ContextLength = int | None | Callable[[], int | None]


@dataclass
class PreparedTask:
    task: Task
    path: Path
    source: str  # "explicit", "task-file", "data-dir" or "demo"
    sha256: str
    items: list[Item]
    cases: list[Case]
    settings: Settings  # the protocol's settings for this task, overrides applied

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


def run_templates(config: RunSpec) -> Templates:
    """The run's templates: the user's folder, else a reference protocol's fetched folder, else the tasks' own."""
    if config.templates_dir:
        return Templates(config.templates_dir)
    if get_protocol(config.protocol).is_reference:
        return Templates(protocol_dir(config.protocol))
    return Templates()


def protocol_overrides(config: RunSpec) -> list[tuple[str | None, str, Any]]:
    """The run's ``--protocol-setting`` overrides, checked against its protocol and tasks."""
    get_protocol(config.protocol)
    overrides = [parse_setting(text) for text in config.protocol_settings]
    for target, name, _ in overrides:
        if target is not None and target not in config.tasks:
            get_task(target)  # an unknown task name stops the run
            raise UsageError(f"--protocol-setting {target}.{name}: task {target!r} is not in this run")
    return overrides


def build_context(
    task: Task,
    config: RunSpec,
    tokenizer: Tokenizer,
    context_length: ContextLength,
    templates: Templates,
    overrides: Sequence[tuple[str | None, str, Any]],
    variant: Variant | None = None,
) -> BuildContext:
    """What a task's build depends on in this run (and, for a prompt variant, that variant).

    The context length is looked up (``context_length`` called, when it is a
    function) only if the task's prompts depend on it (``Task.uses_context``).
    """
    ctx = BuildContext(
        seed=config.seed,
        tokenizer=tokenizer,
        templates=templates,
        max_new_tokens=config.max_new_tokens,
        temperature=config.temperature,
        top_p=config.top_p,
        decoding_seed=config.decoding_seed,
        protocol=config.protocol,
        overrides=overrides,
        variant=variant or Variant(),
        model=config.model,
        limit=config.limit,
    )
    if task.uses_context(ctx):
        ctx.context_length = context_length() if callable(context_length) else context_length
    return ctx


def plan(
    config: RunSpec, tokenizer: Tokenizer, context_length: ContextLength, templates: Templates
) -> list[PreparedTask]:
    """Load and build every task of ``config`` for a model with this tokenizer and context.

    Pass the context as a function (``lambda: backend.context_length``) when
    finding it costs something: it is called only for tasks that need it.
    """
    overrides = protocol_overrides(config)
    prepared = []
    files = locate_all([get_task(name) for name in config.tasks], config.data, config.data_dir)
    for name in config.tasks:
        task = get_task(name)
        path, source = files[name]
        items = task.load(path)
        ctx = build_context(task, config, tokenizer, context_length, templates, overrides)
        cases = limit_cases(task.build(items, ctx), config.limit)
        prepared.append(PreparedTask(task, path, source, sha256_file(path), items, cases, task.settings(ctx)))
    return prepared

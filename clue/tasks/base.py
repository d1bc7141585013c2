"""What every task shares: its declaration, few-shot selection, prompt templates
and the policy that shortens a prompt that does not fit the model's context.

A task module (``clue/tasks/<name>.py``) reads top to bottom as the protocol:
``load`` the file, ``build`` requests, ``parse`` an answer, ``score`` it.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Sequence

from ..errors import UsageError
from ..io import sha256_text
from ..schema import Decoding, Item, Message, Request, Scored
from ..seeding import rng
from ..tokens import ApproxTokenizer, Tokenizer

PUBLIC = "public"
CREDENTIALED = "credentialed"


@dataclass
class BuildContext:
    """Everything ``build`` may depend on besides the items."""

    seed: int
    tokenizer: Tokenizer = field(default_factory=ApproxTokenizer)
    context_length: int | None = None  # None: unlimited (baselines)
    templates: "Templates | None" = None
    max_new_tokens: int | None = None  # override the task's own
    temperature: float = 0.0
    task_options: dict[str, Any] = field(default_factory=dict)  # e.g. longhealth_budget


@dataclass(frozen=True)
class Template:
    name: str
    text: str
    source: str  # "builtin" or the override file's path

    @property
    def sha256(self) -> str:
        return sha256_text(self.text)

    def fill(self, **values: str) -> str:
        # string.Template with $name placeholders: clinical text is full of
        # braces and percent signs, which str.format would trip over.
        return string.Template(self.text).substitute(values).strip()


class Templates:
    """Prompt templates, loaded from ``clue/tasks/prompts`` or a user's override folder.

    A file ``<task>.<part>.txt`` in the override folder replaces the built-in
    one of the same name; the hashes of the templates actually used go into
    the manifest.
    """

    def __init__(self, override_dir: str | Path | None = None):
        self.override_dir = Path(override_dir) if override_dir else None
        self.used: dict[str, Template] = {}

    def get(self, name: str) -> Template:
        if name in self.used:
            return self.used[name]
        filename = f"{name}.txt"
        if self.override_dir and (self.override_dir / filename).is_file():
            path = self.override_dir / filename
            tpl = Template(name, path.read_text(encoding="utf-8"), str(path))
        else:
            try:
                text = resources.files("clue.tasks").joinpath("prompts", filename).read_text(encoding="utf-8")
            except FileNotFoundError:
                raise UsageError(f"no prompt template named {filename!r}") from None
            tpl = Template(name, text, "builtin")
        self.used[name] = tpl
        return tpl

    def manifest(self) -> dict[str, dict[str, str]]:
        return {name: {"sha256": t.sha256, "source": t.source} for name, t in sorted(self.used.items())}


class Task:
    """Base class: subclasses set the declaration and implement load/build/score."""

    name: ClassVar[str]
    title: ClassVar[str]
    level: ClassVar[int]
    access: ClassVar[str]
    expected_file: ClassVar[str]
    file_format: ClassVar[str]
    metrics: ClassVar[tuple[str, ...]]  # metrics averaged into the task score
    model_metrics: ClassVar[tuple[str, ...]] = ()  # of those, the ones needing model weights
    shots: ClassVar[int] = 0
    max_new_tokens: ClassVar[int] = 512
    # The input field that is shortened when a prompt is too long.
    document_field: ClassVar[str | None] = None

    # -- load -----------------------------------------------------------
    def load(self, path: str | Path) -> list[Item]:
        raise NotImplementedError

    # -- build ----------------------------------------------------------
    def build(self, items: Sequence[Item], ctx: BuildContext) -> list[Request]:
        """Default: seeded k-shot prompts; the shots are not scored."""
        templates = ctx.templates or Templates()
        shots, scored = split_shots(items, self.shots, ctx.seed, self.name)
        system = templates.get(f"{self.name}.system").fill()
        demos: list[Message] = []
        for shot in shots:
            demos.append(Message("user", self.render_user(shot.inputs, templates)))
            demos.append(Message("assistant", self.render_answer(shot, templates)))
        decoding = self.decoding(ctx)
        requests = []
        for item in scored:
            messages, truncated = fit_to_context(
                lambda inputs: [Message("system", system), *demos, Message("user", self.render_user(inputs, templates))],
                item.inputs,
                self.document_field,
                ctx,
                decoding.max_new_tokens,
            )
            requests.append(
                Request(
                    id=f"{self.name}/{item.id}",
                    task=self.name,
                    item_id=item.id,
                    messages=messages,
                    decoding=decoding,
                    gold=item.gold,
                    group=item.group,
                    payload=dict(item.inputs),
                    truncated=truncated,
                )
            )
        return requests

    def decoding(self, ctx: BuildContext) -> Decoding:
        return Decoding(max_new_tokens=ctx.max_new_tokens or self.max_new_tokens, temperature=ctx.temperature)

    def render_user(self, inputs: dict[str, Any], templates: Templates) -> str:
        return templates.get(f"{self.name}.user").fill(**inputs)

    def render_answer(self, item: Item, templates: Templates) -> str:
        return str(item.gold)

    # -- parse and score ------------------------------------------------
    def score(self, request: Request, output: str) -> Scored:
        raise NotImplementedError

    # -- description ----------------------------------------------------
    def describe(self) -> dict[str, Any]:
        return {
            "task": self.name,
            "title": self.title,
            "level": self.level,
            "access": self.access,
            "expected_file": self.expected_file,
            "format": self.file_format,
            "metrics": list(self.metrics),
            "shots": self.shots,
            "max_new_tokens": self.max_new_tokens,
        }


def split_shots(items: Sequence[Item], k: int, seed: int, task: str) -> tuple[list[Item], list[Item]]:
    """Shuffle with a seed, take the first k as demonstrations, score the rest.

    The scored items keep the file's order so predictions read like the file.
    """
    if k == 0:
        return [], list(items)
    if len(items) <= k:
        raise UsageError(f"{task}: {len(items)} items cannot give {k} demonstrations and anything to score")
    order = list(range(len(items)))
    rng(seed, task, "shots").shuffle(order)
    shot_idx = set(order[:k])
    return [items[i] for i in order[:k]], [it for i, it in enumerate(items) if i not in shot_idx]


# Tokens kept free beyond max_new_tokens for chat-template markup the
# approximate count cannot see (role headers, BOS/EOS).
TEMPLATE_MARGIN = 64


def prompt_tokens(messages: Sequence[Message], tokenizer: Tokenizer) -> int:
    return sum(tokenizer.count(m.content) for m in messages) + TEMPLATE_MARGIN


def fit_to_context(
    render,
    inputs: dict[str, Any],
    document_field: str | None,
    ctx: BuildContext,
    max_new_tokens: int,
) -> tuple[list[Message], bool]:
    """Render the prompt; if it exceeds the context, shorten the document field.

    The declared policy (SPEC §1): instructions, demonstrations and the
    question stay whole; only the long document is cut, from the end. Returns
    the messages and whether anything was cut. A prompt that still does not
    fit is left as it is: the backend reports it for that item.
    """
    messages = render(inputs)
    if ctx.context_length is None or document_field is None:
        return messages, False
    budget = ctx.context_length - max_new_tokens
    used = prompt_tokens(messages, ctx.tokenizer)
    if used <= budget:
        return messages, False
    document = str(inputs[document_field])
    keep = ctx.tokenizer.count(document) - (used - budget)
    shortened = dict(inputs)
    shortened[document_field] = ctx.tokenizer.truncate(document, max(keep, 0))
    return render(shortened), True

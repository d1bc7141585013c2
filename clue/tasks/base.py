"""What every task shares: its declaration, few-shot selection, prompt templates
and the policy that shortens a prompt that does not fit the model's context.

A task is one folder, ``clue/tasks/<name>/``: ``task.py`` (the declaration and
``load``, ``build``, ``score``, ``baseline``), ``prompts/`` (its templates),
``demo/`` (a synthetic file in the real format) and ``baseline.py`` (the
parameterless heuristic). Everything the rest of clue needs to know about a
task (level, access class, metrics, resampling unit, files, release,
per-protocol settings) is read from its ``Declaration``; nothing else names
a task.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

from clue.core.access import CREDENTIALED, PUBLIC
from clue.core.errors import UsageError
from clue.core.files import sha256_text
from clue.core.records import Case, Decoding, Item, Message, Reference, Request, Scored
from clue.core.seeding import rng
from clue.core.tokens import ApproxTokenizer, Tokenizer

__all__ = [
    "CREDENTIALED",
    "DEFAULT_PROTOCOL",
    "PUBLIC",
    "BuildContext",
    "DataFiles",
    "Declaration",
    "DiagnosticColumn",
    "Release",
    "Settings",
    "Task",
    "Template",
    "Templates",
    "Variant",
    "fit_to_context",
    "prompt_tokens",
    "split_shots",
]

# The protocol a run follows unless it names another (``--protocol``).
DEFAULT_PROTOCOL = "clue"


@dataclass(frozen=True)
class Release:
    """Where a task's real data file comes from, and what is known about it.

    ``kind`` is "public" (a plain download), "physionet" (a credentialed
    download) or "build" (made locally from MIMIC-IV). A sha256 is given only
    where it was verified against the real file; otherwise fetched files are
    checked by the task's loader and the hash seen is reported, never invented.
    """

    kind: str
    source: str  # human-readable origin
    url_path: str | None = None  # below the host base (GitHub raw or PhysioNet files)
    sha256: str | None = None
    records: int | None = None  # expected record count, where known
    license: str = ""
    page: str = ""  # where a person reads about and signs for the data
    physionet_project: str | None = None  # slug/version, for PhysioNet downloads
    remote_names: tuple[str, ...] = ()  # names the file may have in the release


@dataclass(frozen=True)
class DataFiles:
    """The file a task reads: its expected name, format, other accepted names, the bundled demo."""

    expected: str
    format: str
    alternatives: tuple[str, ...] = ()  # other names a data folder may hold it under
    demo: str | None = None  # a file in the task's demo/ folder


@dataclass(frozen=True)
class Settings:
    """How a task is run under one protocol: shots, token limits, what may be shortened.

    ``options`` holds task-specific settings (LongHealth's document budget);
    ``clue run`` can override each (``--max-new-tokens``, ``--longhealth-budget``).
    """

    shots: int
    max_new_tokens: int
    document_field: str | None = None  # the input shortened when a prompt is too long
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DiagnosticColumn:
    """A diagnostic the leaderboard shows beside the scores: ``source`` is
    ``diagnostics.<key>``, ``metrics.<key>`` or ``invert:metrics.<key>`` (100 minus it)."""

    key: str
    title: str
    source: str


@dataclass(frozen=True)
class Declaration:
    """Everything clue knows about a task, in one place."""

    name: str
    title: str
    level: int | None  # CLUE level (1 or 2); None: outside the level scores
    access: str  # clue.core.access: public or credentialed
    metrics: tuple[str, ...]  # averaged into the task score
    files: DataFiles
    protocols: Mapping[str, Settings]
    model_metrics: tuple[str, ...] = ()  # of the metrics, those that need model weights
    paired_binary: tuple[str, ...] = ()  # per-request right/wrong metrics: McNemar's test in comparisons
    resampling_unit: str = "item"  # what the bootstrap resamples; not "item": rows' ``group``
    release: Release | None = None
    diagnostics: tuple[DiagnosticColumn, ...] = ()
    description: str = ""

    def settings(self, protocol: str = DEFAULT_PROTOCOL) -> Settings:
        try:
            return self.protocols[protocol]
        except KeyError:
            known = ", ".join(self.protocols)
            raise UsageError(f"{self.name}: no settings for protocol {protocol!r}; known: {known}") from None

    def describe(self, protocol: str = DEFAULT_PROTOCOL) -> dict[str, Any]:
        settings = self.settings(protocol)
        return {
            "task": self.name,
            "title": self.title,
            "level": self.level,
            "access": self.access,
            "expected_file": self.files.expected,
            "format": self.files.format,
            "metrics": list(self.metrics),
            "model_metrics": list(self.model_metrics),
            "paired_binary": list(self.paired_binary),
            "resampling_unit": self.resampling_unit,
            "shots": settings.shots,
            "max_new_tokens": settings.max_new_tokens,
        }


@dataclass(frozen=True)
class Variant:
    """One way of asking the same questions: a wording, a draw of demonstrations, an answer order.

    0 on every axis is the protocol's own prompt. ``wording`` n > 0 reads the
    templates of ``prompts/variants/w<n>/``; ``shots`` d > 0 takes the d-th
    disjoint block of demonstrations from the run's seeded shuffle; ``order``
    k > 0 is the k-th order of the answer options (LongHealth) or of the
    labels as they are named (MedNLI). ``shot_draws`` is how many draws the
    whole design holds: the demonstrations of all of them are kept out of
    scoring, so every variant scores the same items. A variant never changes
    what is scored, only how it is asked.
    """

    wording: int = 0
    shots: int = 0
    order: int = 0
    shot_draws: int = 1

    @property
    def name(self) -> str:
        return f"p{self.wording}-s{self.shots}-o{self.order}"

    @property
    def is_default(self) -> bool:
        return self.wording == self.shots == self.order == 0

    @property
    def suffix(self) -> str:
        """Appended to request ids: none for the protocol's own prompt, so its ids match a plain run's."""
        return "" if self.is_default else f"@{self.name}"


def base_request_id(request_id: str) -> str:
    """A request id without its variant suffix: the same question under every variant."""
    return request_id.split("@", 1)[0]


@dataclass
class BuildContext:
    """Everything ``build`` may depend on besides the items."""

    seed: int
    tokenizer: Tokenizer = field(default_factory=ApproxTokenizer)
    context_length: int | None = None  # None: unlimited (baselines)
    templates: Templates | None = None
    max_new_tokens: int | None = None  # override the task's own
    temperature: float = 0.0
    task_options: dict[str, Any] = field(default_factory=dict)  # overrides of Settings.options
    protocol: str = DEFAULT_PROTOCOL
    variant: Variant = field(default_factory=Variant)

    def template_set(self) -> Templates:
        """The templates of this build's wording (the run's own, or a variant's folder)."""
        return (self.templates or Templates()).for_wording(self.variant.wording)


@dataclass(frozen=True)
class Template:
    name: str
    text: str
    source: str  # "builtin" or the override file's path

    @property
    def sha256(self) -> str:
        return sha256_text(self.text)

    def fill(self, **values: Any) -> str:
        # string.Template with $name placeholders: clinical text is full of
        # braces and percent signs, which str.format would trip over.
        return string.Template(self.text).substitute(values).strip()


class Templates:
    """Prompt templates: a task's own (its ``prompts/`` folder) or a user's override folder.

    A file ``<task>.<part>.txt`` in the override folder replaces the task's
    file of the same name; the hashes of the templates actually used go into
    the manifest. A wording variant n (``for_wording``) reads
    ``variants/w<n>/<task>.<part>.txt`` in both places instead; each
    variant folder is a complete set, so a missing file is an error, never
    a silent fall back to the default wording.
    """

    def __init__(self, override_dir: str | Path | None = None):
        self.override_dir = Path(override_dir) if override_dir else None
        self.used: dict[str, Template] = {}
        self.wording = 0

    def for_wording(self, wording: int) -> Templates:
        """The same templates in another wording; what either uses goes into one manifest."""
        if wording == self.wording:
            return self
        other = Templates(self.override_dir)
        other.used = self.used
        other.wording = wording
        return other

    def get(self, name: str, builtin: Traversable | Path | None) -> Template:
        folder = ("variants", f"w{self.wording}") if self.wording else ()
        key = "/".join([*folder, name])
        if key in self.used:
            return self.used[key]
        filename = f"{name}.txt"
        relative = "/".join([*folder, filename])
        override = self.override_dir / relative if self.override_dir else None
        if override is not None and override.is_file():
            tpl = Template(name, override.read_text(encoding="utf-8"), str(override))
        else:
            found = builtin.joinpath(relative) if builtin is not None else None
            if found is None or not found.is_file():
                raise UsageError(f"no prompt template named {relative!r}")
            tpl = Template(name, found.read_text(encoding="utf-8"), "builtin")
        self.used[key] = tpl
        return tpl

    def manifest(self) -> dict[str, dict[str, str]]:
        return {name: {"sha256": t.sha256, "source": t.source} for name, t in sorted(self.used.items())}


class Task:
    """Base class: a subclass sets ``declaration`` and implements load, (build,) score and baseline."""

    declaration: Declaration

    # -- the declaration, read by the rest of clue ------------------------------
    @property
    def name(self) -> str:
        return self.declaration.name

    @property
    def title(self) -> str:
        return self.declaration.title

    @property
    def level(self) -> int | None:
        return self.declaration.level

    @property
    def access(self) -> str:
        return self.declaration.access

    @property
    def metrics(self) -> tuple[str, ...]:
        return self.declaration.metrics

    @property
    def model_metrics(self) -> tuple[str, ...]:
        return self.declaration.model_metrics

    @property
    def expected_file(self) -> str:
        return self.declaration.files.expected

    def describe(self, protocol: str = DEFAULT_PROTOCOL) -> dict[str, Any]:
        return self.declaration.describe(protocol)

    # -- where its files are ---------------------------------------------------------
    def folder(self) -> Traversable:
        """The task's package folder (built-in or from a plugin package)."""
        return resources.files(type(self).__module__.rpartition(".")[0])

    def prompts_dir(self) -> Traversable | Path | None:
        return self.folder().joinpath("prompts")

    def demo_path(self) -> Path | None:
        demo = self.declaration.files.demo
        return Path(str(self.folder() / "demo" / demo)) if demo else None

    def template(self, templates: Templates, part: str) -> Template:
        return templates.get(f"{self.name}.{part}", self.prompts_dir())

    # -- the ways it can be asked (clue.pipeline.variants) ------------------------
    def wordings(self) -> int:
        """How many wordings the task has: its own and one per ``prompts/variants/w<n>/`` folder."""
        folder = self.prompts_dir()
        n = 1
        while folder is not None and folder.joinpath(f"variants/w{n}").is_dir():
            n += 1
        return n

    def answer_orders(self) -> int:
        """How many distinct orders its answer options (or labels) can be shown in; 1: no options."""
        return 1

    def prompt_values(self, ctx: BuildContext) -> dict[str, Any]:
        """Values the system template is filled with besides its text (e.g. labels in a variant's order)."""
        return {}

    # -- load -----------------------------------------------------------
    def load(self, path: str | Path) -> list[Item]:
        raise NotImplementedError

    # -- build ----------------------------------------------------------
    def build(self, items: Sequence[Item], ctx: BuildContext) -> list[Case]:
        """Default: seeded k-shot prompts; the shots are not scored."""
        templates = ctx.template_set()
        settings = self.declaration.settings(ctx.protocol)
        variant = ctx.variant
        shots, scored = split_shots(items, settings.shots, ctx.seed, self.name, variant.shots, variant.shot_draws)
        system = self.template(templates, "system").fill(**self.prompt_values(ctx))
        demos: list[Message] = []
        for shot in shots:
            demos.append(Message("user", self.render_user(shot.inputs, templates)))
            demos.append(Message("assistant", self.render_answer(shot, templates)))
        decoding = self.decoding(ctx)
        cases = []
        for item in scored:
            messages, truncated = fit_to_context(
                lambda inputs: [Message("system", system), *demos, Message("user", self.render_user(inputs, templates))],
                item.inputs,
                settings.document_field,
                ctx,
                decoding.max_new_tokens,
            )
            request = Request(id=f"{self.name}/{item.id}{variant.suffix}", messages=messages, decoding=decoding)
            reference = Reference(
                request_id=request.id,
                task=self.name,
                item_id=item.id,
                gold=item.gold,
                group=item.group,
                inputs=dict(item.inputs),
                truncated=truncated,
            )
            cases.append(Case(request, reference))
        return cases

    def decoding(self, ctx: BuildContext) -> Decoding:
        settings = self.declaration.settings(ctx.protocol)
        return Decoding(max_new_tokens=ctx.max_new_tokens or settings.max_new_tokens, temperature=ctx.temperature)

    def option(self, ctx: BuildContext, key: str) -> Any:
        """A task-specific setting: the run's override, else the protocol's value."""
        value = ctx.task_options.get(f"{self.name}_{key}")
        return self.declaration.settings(ctx.protocol).options[key] if value is None else value

    def render_user(self, inputs: dict[str, Any], templates: Templates) -> str:
        return self.template(templates, "user").fill(**inputs)

    def render_answer(self, item: Item, templates: Templates) -> str:
        return str(item.gold)

    # -- parse and score ------------------------------------------------
    def score(self, reference: Reference, output: str) -> Scored:
        raise NotImplementedError

    def scoring_settings(self) -> dict[str, Any]:
        """Settings of this task's scoring that decide its numbers (e.g. the ICD-10-CM edition), for the record."""
        return {}

    # -- the parameterless baseline ------------------------------------------
    def baseline(self, inputs: Mapping[str, Any]) -> str:
        """The baseline's answer from the request's structured inputs; tasks without one raise."""
        raise UsageError(f"task {self.name!r} has no parameterless baseline; run it with a model (--model)")

    @property
    def has_baseline(self) -> bool:
        return type(self).baseline is not Task.baseline


def split_shots(
    items: Sequence[Item], k: int, seed: int, task: str, draw: int = 0, draws: int = 1
) -> tuple[list[Item], list[Item]]:
    """Shuffle with a seed, take k demonstrations, score the rest.

    Draw d of ``draws`` takes the d-th block of k from the one seeded shuffle
    (draw 0: the first k, as in a plain run); the items of every block are
    kept out of scoring, so all draws score the same items. The scored items
    keep the file's order so predictions read like the file.
    """
    if k == 0:
        return [], list(items)
    if not 0 <= draw < draws:
        raise UsageError(f"{task}: demonstration draw {draw} is not one of the design's {draws}")
    if len(items) <= k * draws:
        what = f"{k} demonstrations" if draws == 1 else f"{draws} draws of {k} demonstrations"
        raise UsageError(f"{task}: {len(items)} items cannot give {what} and anything to score")
    order = list(range(len(items)))
    rng(seed, task, "shots").shuffle(order)
    reserved = set(order[: k * draws])
    chosen = order[k * draw : k * (draw + 1)]
    return [items[i] for i in chosen], [it for i, it in enumerate(items) if i not in reserved]


# Tokens kept free beyond max_new_tokens for chat-template markup the
# approximate count cannot see (role headers, BOS/EOS).
TEMPLATE_MARGIN = 64


def prompt_tokens(messages: Sequence[Message], tokenizer: Tokenizer) -> int:
    return sum(tokenizer.count(m.content) for m in messages) + TEMPLATE_MARGIN


def fit_to_context(
    render: Callable[[dict[str, Any]], list[Message]],
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


def with_settings(declaration: Declaration, protocol: str, **changes: Any) -> Declaration:
    """A copy of ``declaration`` whose settings for ``protocol`` have ``changes`` applied."""
    protocols = dict(declaration.protocols)
    protocols[protocol] = replace(declaration.settings(protocol), **changes)
    return replace(declaration, protocols=protocols)

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

import random
import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from functools import cache
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
    "apply_overrides",
    "clean_output",
    "Variant",
    "fit_to_context",
    "parse_setting",
    "select_shots",
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


# Values the protocol settings may take (checked when a profile or an override is read).
SHOT_SELECTIONS = ("seeded", "first", "shuffle-seed1")
ANSWER_FORMATS = ("clue", "stored")
CHAT_LAYOUTS = ("backend", "system")
TRUNCATIONS = ("document", "keep-end", "none")
TEMPLATE_SOURCES = ("builtin", "reference")


@dataclass(frozen=True)
class Settings:
    """How a task is run under one protocol: every setting that decides what a model is sent and how it is scored.

    A protocol profile (``clue``, ``clue-2024-06``, ``clue-2025-01``) is one
    ``Settings`` per task, declared in the task's own ``task.py``; a run can
    override any single field (``--protocol-setting KEY=VALUE``, see
    ``apply_overrides``). ``options`` holds task-specific settings
    (LongHealth's document budget and its accounting). The defaults are the
    ``clue`` protocol's; docs/protocols.md has the table per profile.
    """

    shots: int
    max_new_tokens: int
    document_field: str | None = None  # the input shortened when a prompt is too long
    options: Mapping[str, Any] = field(default_factory=dict)
    # few-shot demonstrations: "seeded" (clue's SHA-256-derived RNG, scored items
    # in file order), "first" (the first k rows of the file), "shuffle-seed1"
    # (Python's random.seed(1) then random.shuffle of the rows, the first k)
    shot_selection: str = "seeded"
    # demonstration answers: "clue" (the task's own formatting) or "stored" (as the file stores them)
    answer_format: str = "clue"
    # pre-fill the assistant turn with the answer template's text before the answer
    prefill: bool = False
    # "backend": the backend chooses (probing the template); "system": always a system role
    chat_layout: str = "backend"
    # strings that end an output; the output is cut at the first (also sent where a backend supports it)
    stop: tuple[str, ...] = ()
    # a regular expression whose matches are removed from the output before scoring
    cleanup: str = ""
    # over-long prompts: shorten the document ("document"), keep the last tokens ("keep-end"), or leave them ("none")
    truncation: str = "document"
    # BERTScore model for this task (a preset or repo id; "" = the run's --metric setting or the default)
    bertscore_model: str = ""
    # lowercase output and gold before BERTScore (UMLS-F1 and the rest see them as they are)
    bertscore_lowercase: bool = False
    # prompt templates: the task's own ("builtin") or the fetched reference scripts' ("reference")
    templates: str = "builtin"
    # reference template field -> the task's input key (reference templates only)
    fields: Mapping[str, str] = field(default_factory=dict)

    def overridden(self, changes: Mapping[str, Any]) -> Settings:
        """A copy with ``changes`` applied, each checked against the field's type and allowed values."""
        return check_settings(replace(self, **changes))


def check_settings(settings: Settings) -> Settings:
    allowed = {
        "shot_selection": SHOT_SELECTIONS,
        "answer_format": ANSWER_FORMATS,
        "chat_layout": CHAT_LAYOUTS,
        "truncation": TRUNCATIONS,
        "templates": TEMPLATE_SOURCES,
    }
    for name, values in allowed.items():
        value = getattr(settings, name)
        if value not in values:
            raise UsageError(f"protocol setting {name}={value!r}: choose one of {', '.join(values)}")
    if settings.shots < 0 or settings.max_new_tokens < 1:
        raise UsageError("protocol settings: shots must be >= 0 and max_new_tokens >= 1")
    return settings


def parse_setting(text: str) -> tuple[str | None, str, Any]:
    """``[TASK.]KEY=VALUE`` -> (task or None, key, typed value); the type comes from the Settings field."""
    key, sep, raw = text.partition("=")
    if not sep:
        raise UsageError(f"--protocol-setting {text!r}: expected KEY=VALUE or TASK.KEY=VALUE")
    parts = [part.strip() for part in key.split(".")]
    task = parts.pop(0) if len(parts) > 1 and parts[0] != "options" else ""
    name = ".".join(parts)
    kinds = {f.name: f.type for f in fields(Settings)}
    if name.startswith("options.") and len(name) > len("options."):
        return task or None, name, _guess(raw)
    if name not in kinds or name in ("options", "fields"):
        known = ", ".join(k for k in kinds if k not in ("options", "fields"))
        raise UsageError(f"--protocol-setting {text!r}: unknown setting {name!r}; known: {known}, options.NAME")
    kind = str(kinds[name])
    value: Any
    try:
        if kind.startswith("int"):
            value = int(raw)
        elif kind.startswith("bool"):
            if raw.strip().lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(raw)
            value = raw.strip().lower() in ("true", "1", "yes")
        elif kind.startswith("tuple"):
            value = tuple(part for part in raw.split("|") if part) if raw else ()
        elif kind.startswith("str | None"):
            value = raw or None
        else:
            value = raw
    except ValueError:
        raise UsageError(f"--protocol-setting {text!r}: {raw!r} is not a valid {kind}") from None
    return task or None, name, value


def _guess(raw: str) -> Any:
    for convert in (int, float):
        try:
            return convert(raw)
        except ValueError:
            pass
    return raw


def apply_overrides(settings: Settings, task: str, overrides: Sequence[tuple[str | None, str, Any]]) -> Settings:
    """``settings`` with the run's overrides for ``task`` (those naming no task apply to every task)."""
    changes: dict[str, Any] = {}
    options = dict(settings.options)
    for target, name, value in overrides:
        if target not in (None, task):
            continue
        if name.startswith("options."):
            options[name.removeprefix("options.")] = value
        else:
            changes[name] = value
    if options != dict(settings.options):
        changes["options"] = options
    return settings.overridden(changes) if changes else settings


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


@cache
def package_folder(package: str) -> Traversable:
    """A package's folder, found once: a task's templates are looked up for every prompt it builds."""
    return resources.files(package)


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
    top_p: float | None = None  # None: the neutral 1.0
    decoding_seed: int | None = None  # the backend's sampling seed (sampled decoding only)
    task_options: dict[str, Any] = field(default_factory=dict)  # overrides of Settings.options
    protocol: str = DEFAULT_PROTOCOL
    # --protocol-setting overrides: (task or None for every task, key, value), from parse_setting
    overrides: Sequence[tuple[str | None, str, Any]] = ()
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

    def fill_exact(self, values: Mapping[str, Any]) -> str:
        """Filled without stripping: reference templates keep their leading and trailing newlines."""
        return string.Template(self.text).substitute(values)

    def placeholders(self) -> list[str]:
        found: dict[str, None] = {}
        for match in string.Template.pattern.finditer(self.text):
            name = match.group("named") or match.group("braced")
            if name:
                found.setdefault(name, None)
        return list(found)


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
        return package_folder(type(self).__module__.rpartition(".")[0])

    def prompts_dir(self) -> Traversable | Path | None:
        return self.folder().joinpath("prompts")

    def demo_path(self) -> Path | None:
        demo = self.declaration.files.demo
        return Path(str(self.folder() / "demo" / demo)) if demo else None

    def own_data_file(self) -> Path | None:
        """A data file the task names itself (a task file's ``data``): read unless ``--data`` names another."""
        return None

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
    def settings(self, ctx: BuildContext) -> Settings:
        """The protocol's settings for this task, with the run's overrides applied."""
        return apply_overrides(self.declaration.settings(ctx.protocol), self.name, ctx.overrides)

    def uses_context(self, ctx: BuildContext) -> bool:
        """Whether this task's prompts depend on the model's context length (``ctx.context_length``).

        By default they do when a prompt that does not fit is shortened
        (``fit_to_context``): the server cuts its start (``keep-end``), or the
        declared document is cut. When they do not, the context is never
        looked up, so a server is not asked for its model list before the first
        request (``clue.pipeline.plan``); a prompt too long for the model then
        fails alone, reported by the backend.
        """
        settings = self.settings(ctx)
        return settings.truncation == "keep-end" or (settings.truncation == "document" and settings.document_field is not None)

    def build(self, items: Sequence[Item], ctx: BuildContext) -> list[Case]:
        """Default: k-shot prompts as the protocol says (in the run's variant); the shots are not scored."""
        templates = ctx.template_set()
        settings = self.settings(ctx)
        variant = ctx.variant
        shots, scored = select_shots(items, settings, ctx.seed, self.name, variant.shots, variant.shot_draws)
        prompt = self.prompt_parts(templates, settings, ctx)
        demos: list[Message] = []
        for shot in shots:
            demos.append(Message("user", prompt.user(shot.inputs)))
            demos.append(Message("assistant", prompt.answer(shot)))
        tail = [Message("assistant", prompt.prefill)] if prompt.prefill else []
        decoding = self.decoding(ctx)
        cases = []
        for item in scored:
            messages, truncated = fit_to_context(
                lambda inputs: [Message("system", prompt.system), *demos, Message("user", prompt.user(inputs)), *tail],
                item.inputs,
                settings.document_field,
                ctx,
                decoding.max_new_tokens,
                settings.truncation,
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

    def prompt_parts(self, templates: Templates, settings: Settings, ctx: BuildContext) -> PromptParts:
        """The system text and how a user turn, a demonstration answer and the pre-fill are made."""
        if settings.templates == "reference":
            return self.reference_parts(templates, settings, ctx)
        system = self.template(templates, "system").fill(**self.prompt_values(ctx))

        def answer(item: Item) -> str:
            if settings.answer_format == "stored":
                return self.stored_answer(item)
            return self.render_answer(item, templates)

        return PromptParts(system, lambda inputs: self.render_user(inputs, templates), answer, "")

    def reference_parts(self, templates: Templates, settings: Settings, ctx: BuildContext) -> PromptParts:
        """The reference's prompts: its texts verbatim, fields filled as its ``str.format`` did.

        ``settings.fields`` maps each reference field to the task's input key
        (``@answer``: the demonstration's answer, as the file stores it). The
        pre-fill is the answer template with an empty answer, as the reference
        appended it after the chat template's generation prompt.
        """
        system = self.reference_template(templates, "system", ctx).fill_exact({})
        user_tpl = self.reference_template(templates, "user", ctx)
        answer_tpl = self.reference_template(templates, "answer", ctx)

        def values(inputs: Mapping[str, Any], answer: str) -> dict[str, Any]:
            out = {ref: (answer if key == "@answer" else inputs.get(key)) for ref, key in settings.fields.items()}
            return {k: ("" if v is None else v) for k, v in out.items()}

        def user(inputs: dict[str, Any]) -> str:
            return user_tpl.fill_exact(values(inputs, ""))

        def answer(item: Item) -> str:
            return answer_tpl.fill_exact(values(item.inputs, self.stored_answer(item)))

        prefill = answer_tpl.fill_exact(dict.fromkeys(answer_tpl.placeholders(), "")) if settings.prefill else ""
        return PromptParts(system, user, answer, prefill)

    def reference_template(self, templates: Templates, part: str, ctx: BuildContext) -> Template:
        name = f"{self.name}.{part}"
        folder = templates.override_dir
        if folder is None or not (folder / f"{name}.txt").is_file():
            raise UsageError(
                f"protocol {ctx.protocol}: the reference's prompt {name!r} is not on this machine "
                f"(looked in {folder}); run `clue protocol fetch {ctx.protocol}` first"
            )
        return templates.get(name, None)

    def stored_answer(self, item: Item) -> str:
        """A demonstration's answer as the data file stores it (the reference's formatting)."""
        return item.stored if item.stored is not None else str(item.gold)

    def decoding(self, ctx: BuildContext) -> Decoding:
        settings = self.settings(ctx)
        return Decoding(
            max_new_tokens=ctx.max_new_tokens or settings.max_new_tokens, temperature=ctx.temperature,
            top_p=1.0 if ctx.top_p is None else ctx.top_p, seed=ctx.decoding_seed, stop=settings.stop,
        )

    def option(self, ctx: BuildContext, key: str) -> Any:
        """A task-specific setting: the run's override, else the protocol's value."""
        value = ctx.task_options.get(f"{self.name}_{key}")
        return self.settings(ctx).options[key] if value is None else value

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


@dataclass(frozen=True)
class PromptParts:
    """What a task's prompt is made of under one protocol."""

    system: str
    user: Callable[[dict[str, Any]], str]
    answer: Callable[[Item], str]  # a demonstration's answer turn
    prefill: str  # text the assistant turn starts with ("" for none)


def select_shots(
    items: Sequence[Item], settings: Settings, seed: int, task: str, draw: int = 0, draws: int = 1
) -> tuple[list[Item], list[Item]]:
    """The demonstrations and the scored items, as ``settings.shot_selection`` says.

    ``seeded``: clue's derived RNG (``split_shots``). ``first``: the first k
    rows, the rest scored in file order. ``shuffle-seed1``: the rows shuffled
    as Python's ``random.seed(1); random.shuffle(rows)`` does, the first k the
    demonstrations, the rest scored in that shuffled order. A variant's draw d
    of ``draws`` takes the d-th block of k instead, and every block is kept out
    of scoring (``split_shots``).
    """
    k = settings.shots
    if settings.shot_selection == "seeded":
        return split_shots(items, k, seed, task, draw, draws)
    rows = list(items)
    if settings.shot_selection == "shuffle-seed1":
        random.Random(1).shuffle(rows)
    if k and len(rows) <= k * draws:
        raise UsageError(f"{task}: {len(rows)} items cannot give {draws} x {k} demonstrations and anything to score")
    return rows[draw * k:(draw + 1) * k], rows[k * draws:]


def clean_output(text: str, settings: Settings) -> str:
    """The output as the protocol scores it: cut at the first stop string, then ``cleanup`` matches removed."""
    for stop in settings.stop:
        text = text.split(stop, 1)[0]
    if settings.cleanup:
        text = re.sub(settings.cleanup, "", text)
    return text


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
    truncation: str = "document",
) -> tuple[list[Message], bool]:
    """Render the prompt; if it exceeds the context, shorten it as ``truncation`` says.

    ``document`` (SPEC §1): instructions, demonstrations and the question stay
    whole; only the long document is cut, from the end. ``keep-end`` (the
    reference's server, text-generation-inference ``truncate``): the prompt's
    first tokens are dropped until the last ones fit, the system prompt and
    demonstrations going first. ``none``: left as it is. Returns the messages
    and whether anything was cut. A prompt that still does not fit is left as
    it is: the backend reports it for that item.
    """
    messages = render(inputs)
    if ctx.context_length is None or truncation == "none":
        return messages, False
    budget = ctx.context_length - max_new_tokens
    used = prompt_tokens(messages, ctx.tokenizer)
    if used <= budget:
        return messages, False
    if truncation == "keep-end":
        return keep_end(messages, used - budget, ctx.tokenizer), True
    if document_field is None:
        return messages, False
    document = str(inputs[document_field])
    keep = ctx.tokenizer.count(document) - (used - budget)
    shortened = dict(inputs)
    shortened[document_field] = ctx.tokenizer.truncate(document, max(keep, 0))
    return render(shortened), True


def keep_end(messages: Sequence[Message], excess: int, tokenizer: Tokenizer) -> list[Message]:
    """Drop ``excess`` tokens from the start of the conversation: whole messages first, then a message's head."""
    out: list[Message] = []
    for message in messages:
        if excess <= 0:
            out.append(message)
            continue
        size = tokenizer.count(message.content)
        if size <= excess:
            excess -= size
            continue
        head = tokenizer.truncate(message.content, excess)
        out.append(Message(message.role, message.content[len(head):].lstrip()))
        excess = 0
    return out

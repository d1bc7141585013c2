"""The Task base class: what a task implements (load, build, score, baseline) and what ``build`` gets."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

from clue.core.errors import UsageError
from clue.core.records import Case, Decoding, Item, Message, Reference, Request, Scored
from clue.core.tokens import ApproxTokenizer, Tokenizer
from clue.tasks.context import fit_to_context, keep_end_limit
from clue.tasks.declaration import Declaration
from clue.tasks.settings import DEFAULT_PROTOCOL, Settings, apply_overrides
from clue.tasks.shots import select_shots
from clue.tasks.templates import Template, Templates, package_folder
from clue.tasks.variant import Variant


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
    protocol: str = DEFAULT_PROTOCOL
    # --protocol-setting overrides: (task or None for every task, key, value), from parse_setting
    overrides: Sequence[tuple[str | None, str, Any]] = ()
    variant: Variant = field(default_factory=Variant)
    # the run's model spec (the reference chose LongHealth's stop strings by the model's name)
    model: str = ""
    # --limit: only the first N scored items are asked, so a build may stop after their prompts (the shots
    # are still drawn from the whole file, so the prompts are those of a full build); None: all of them
    limit: int | None = None

    def template_set(self) -> Templates:
        """The templates of this build's wording (the run's own, or a variant's folder)."""
        return (self.templates or Templates()).for_wording(self.variant.wording)


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
    def paired_binary(self) -> tuple[str, ...]:
        return self.declaration.paired_binary

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
        return templates.get(f"{self.name}.{part}", self.prompts_dir)  # the folder is found on first use only

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
        limit = keep_end_limit(settings.options, ctx.context_length, decoding.max_new_tokens)
        cases = []
        for item in scored if ctx.limit is None else scored[:ctx.limit]:
            messages, truncated = fit_to_context(
                lambda inputs: [Message("system", prompt.system), *demos, Message("user", prompt.user(inputs)), *tail],
                item.inputs,
                settings.document_field,
                ctx,
                decoding.max_new_tokens,
                settings.truncation,
                limit,
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
        """A task-specific setting (``TASK.options.KEY``): the protocol's value with the run's overrides."""
        return self.settings(ctx).options[key]

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


def clean_output(text: str, settings: Settings) -> str:
    """The output as the protocol scores it: cut at the first stop string, stripped where
    ``options.strip_output`` says so, then ``cleanup`` matches removed."""
    for stop in settings.stop:
        text = text.split(stop, 1)[0]
    if settings.options.get("strip_output"):  # MeDiSumQA at ff75877 strips the server's text
        text = text.strip()
    if settings.cleanup:
        text = re.sub(settings.cleanup, "", text)
    return text

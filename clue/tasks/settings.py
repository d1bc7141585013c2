"""Protocol settings: how a task is run under one protocol, their checks, and ``--protocol-setting`` overrides."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from clue.core.errors import UsageError

# The protocol a run follows unless it names another (``--protocol``).
DEFAULT_PROTOCOL = "clue"


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

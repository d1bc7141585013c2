"""Tasks users write without touching clue: one TOML or YAML file per task (docs/tasks.md has every key).

The file is checked strictly, naming the file and the key; its metrics pick one
answer kind (``clue.tasks.answers``), which reads the gold, scores and makes the baseline.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from clue.core.access import ACCESS_CLASSES, CREDENTIALED
from clue.core.errors import UsageError
from clue.core.files import read_utf8, sha256_file, sha256_text
from clue.core.records import Item, Reference, Scored
from clue.formats.config import read_mapping
from clue.formats.readers import UniqueIds, need_object, need_text, read_records, read_table
from clue.metrics.metric import ANSWER_KINDS, CHOICE, CODES, LABELS, TEXT, Metric
from clue.metrics.registry import all_metrics, find_metric
from clue.tasks.answers import DEFAULT_CHOICES, AnswerKind, Choice, Codes, FreeText, Labels
from clue.tasks.base import Task
from clue.tasks.declaration import DataFiles, Declaration
from clue.tasks.settings import DEFAULT_PROTOCOL, Settings
from clue.tasks.templates import Template, Templates

TASK_FILE_SUFFIXES = (".toml", ".yaml", ".yml")
TABLE_SUFFIXES = (".csv", ".xlsx", ".xlsm", ".xls")
RECORD_SUFFIXES = (".jsonl", ".json")

TOP_KEYS = (
    "name", "title", "description", "level", "access", "data", "fields", "prompts", "shots",
    "max_new_tokens", "document_field", "metrics", "labels", "choices", "code_separator",
)
REQUIRED_KEYS = ("name", "data", "fields", "max_new_tokens", "metrics")
FIELD_KEYS = ("id", "gold", "inputs", "group")
REQUIRED_FIELD_KEYS = ("id", "gold", "inputs")

# The keys only one answer kind reads, and what a task file of another kind is told.
KIND_KEYS: dict[str, tuple[str, str]] = {
    LABELS: ("labels", "only the accuracy metric reads a label set"),
    CHOICE: ("choices", "only the choice_accuracy metric reads choices"),
    CODES: ("code_separator", "only ICD-10 metrics (em_f1, ap_f1, valid) read codes"),
}
# Variables the answer template gets besides the inputs.
ANSWER_VARIABLES = ("answer", "answer_text")
RESERVED_NAMES = ("all", "overall")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LEVEL_NAME = re.compile(r"^level\d+$")


def is_task_file(spec: str | Path) -> bool:
    """Whether a ``--tasks`` entry names a task file (by its suffix) rather than a task or level."""
    return Path(str(spec)).suffix.lower() in TASK_FILE_SUFFIXES


def template_variables(text: str) -> set[str]:
    """The ``$name`` and ``${name}`` placeholders of a template (``$$`` is a literal dollar)."""
    found = set()
    for match in string.Template.pattern.finditer(text):
        name = match.group("named") or match.group("braced")
        if name:
            found.add(name)
        elif match.group("invalid") is not None:
            found.add("$")  # a lone "$" that string.Template cannot fill
    return found


@dataclass(frozen=True)
class FieldMap:
    """Which data field holds what: the id, the gold answer, each template variable, the cluster."""

    id: str
    gold: str
    inputs: Mapping[str, str]  # template variable -> data field
    group: str | None = None


@dataclass(frozen=True)
class Spec:
    """A task file, checked: everything the task needs besides its rows."""

    path: Path
    sha256: str
    name: str
    title: str
    description: str
    level: int | None
    access: str
    data: Path
    fields: FieldMap
    prompts: Path
    shots: int
    max_new_tokens: int
    document_field: str | None
    metrics: tuple[str, ...]
    answer: AnswerKind  # the kind the metrics score: it reads the gold, scores, makes the baseline


# -- reading and checking the task file ----------------------------------------------------------
class _Checker:
    """Typed access to a task file's keys; every error names the file and the key."""

    def __init__(self, path: Path, raw: Mapping[str, Any]):
        self.path, self.raw = path, raw

    def fail(self, key: str, problem: str) -> UsageError:
        return UsageError(f"{self.path}: {key}: {problem}")

    def text(self, key: str, default: str | None = None, raw: Mapping[str, Any] | None = None, at: str = "") -> str:
        source = self.raw if raw is None else raw
        value = source.get(key, default)
        if value is None:
            raise self.fail(at + key, "missing (required)")
        if not isinstance(value, str) or not value.strip():
            raise self.fail(at + key, f"must be non-empty text, got {value!r}")
        return value.strip()

    def integer(self, key: str, default: int | None, minimum: int) -> int | None:
        value = self.raw.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be a whole number, got {value!r}")
        if value < minimum:
            raise self.fail(key, f"must be at least {minimum}, got {value}")
        return value

    def text_list(self, key: str) -> tuple[str, ...]:
        value = self.raw.get(key)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(key, f"must be a non-empty list of text, got {value!r}")
        return tuple(v.strip() for v in value)

    def unknown(self, raw: Mapping[str, Any], known: Sequence[str], at: str = "") -> None:
        extra = sorted(str(k) for k in raw if k not in known)
        if extra:
            raise self.fail(at + extra[0], f"unknown key; known keys: {', '.join(known)}")


def read_spec(path: str | Path) -> Spec:
    """Read and check a task file; nothing is loaded until the whole file is valid."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise UsageError(f"{path}: task file not found")
    if not is_task_file(path):
        raise UsageError(f"{path}: a task file ends in {', '.join(TASK_FILE_SUFFIXES)}")
    raw = read_mapping(path, "task file")
    check = _Checker(path, raw)
    check.unknown(raw, TOP_KEYS)
    for key in REQUIRED_KEYS:
        if key not in raw:
            raise check.fail(key, "missing (required)")
    base = path.parent

    name = check.text("name")
    if not _NAME.match(name) or name in RESERVED_NAMES or _LEVEL_NAME.match(name):
        raise check.fail("name", f"{name!r} must be letters, digits, '_' or '-' (and not all, overall or levelN)")
    access = check.text("access", CREDENTIALED)
    if access not in ACCESS_CLASSES:
        raise check.fail("access", f"must be one of {', '.join(ACCESS_CLASSES)}, got {access!r}")
    data = base / Path(check.text("data")).expanduser()
    if data.suffix.lower() not in (*TABLE_SUFFIXES, *RECORD_SUFFIXES):
        raise check.fail("data", f"{data.name}: expected a .jsonl, .json, .csv or .xlsx file")
    fields = _fields(check)

    metrics = check.text_list("metrics")
    for metric in metrics:
        find_metric(metric)  # a name clue does not have may come from an installed package
    usable = task_file_metrics()
    unknown_metrics = [m for m in metrics if m not in usable]
    if unknown_metrics:
        raise check.fail("metrics", f"unknown metric {unknown_metrics[0]!r}; known: {', '.join(usable)}")
    if len(set(metrics)) != len(metrics):
        raise check.fail("metrics", "lists a metric twice")
    families = {usable[m].answer for m in metrics}
    if len(families) > 1:
        raise check.fail("metrics", f"mixes metric families ({', '.join(sorted(families))}); a task's gold fits one")
    family = families.pop()
    for kind, (key, problem) in KIND_KEYS.items():
        if key in raw and raw[key] is not None and kind != family:
            raise check.fail(key, problem)

    document_field = check.text("document_field") if raw.get("document_field") is not None else None
    if document_field is not None and document_field not in fields.inputs:
        raise check.fail("document_field", f"{document_field!r} is not one of the inputs ({', '.join(fields.inputs)})")

    answer = ANSWER_READERS[family](check, fields)

    spec = Spec(
        path=path,
        sha256=sha256_file(path),
        name=name,
        title=check.text("title", name),
        description=check.text("description") if raw.get("description") is not None else "",
        level=check.integer("level", None, 1),
        access=access,
        data=data,
        fields=fields,
        prompts=base / Path(check.text("prompts", ".")).expanduser(),
        shots=check.integer("shots", 0, 0) or 0,
        max_new_tokens=check.integer("max_new_tokens", None, 1) or 0,
        document_field=document_field,
        metrics=metrics,
        answer=answer,
    )
    _check_templates(spec)
    return spec


def _fields(check: _Checker) -> FieldMap:
    raw = check.raw["fields"]
    if not isinstance(raw, Mapping):
        raise check.fail("fields", "must be a table: id, gold, inputs (and optionally group)")
    check.unknown(raw, FIELD_KEYS, "fields.")
    for key in REQUIRED_FIELD_KEYS:
        if key not in raw:
            raise check.fail(f"fields.{key}", "missing (required)")
    inputs_raw = raw["inputs"]
    if isinstance(inputs_raw, str):
        inputs_raw = [inputs_raw]
    if isinstance(inputs_raw, list):
        inputs_raw = {str(v): v for v in inputs_raw}
    if not isinstance(inputs_raw, Mapping) or not inputs_raw:
        raise check.fail("fields.inputs", "must map template variables to data fields (or list the fields)")
    inputs: dict[str, str] = {}
    for variable, column in inputs_raw.items():
        if not isinstance(variable, str) or not _IDENTIFIER.match(variable) or variable in ANSWER_VARIABLES:
            raise check.fail("fields.inputs", f"{variable!r} cannot be a template variable "
                             f"(letters, digits and '_', not starting with a digit; not {' or '.join(ANSWER_VARIABLES)})")
        if not isinstance(column, str) or not column.strip():
            raise check.fail(f"fields.inputs.{variable}", f"must name a data field, got {column!r}")
        inputs[variable] = column.strip()
    group = raw.get("group")
    return FieldMap(
        id=check.text("id", raw=raw, at="fields."),
        gold=check.text("gold", raw=raw, at="fields."),
        inputs=inputs,
        group=check.text("group", raw=raw, at="fields.") if group is not None else None,
    )


def task_file_metrics() -> dict[str, Metric]:
    """The registered metrics a task file may name: those that score one of the four answer kinds."""
    return {m.name: m for m in all_metrics() if m.answer in ANSWER_KINDS}


def _labels(check: _Checker, fields: FieldMap) -> Labels:
    if "labels" not in check.raw:
        raise check.fail("labels", "missing: the accuracy metric needs the label set (e.g. labels = [\"yes\", \"no\"])")
    labels = check.text_list("labels")
    upper = [lab.upper() for lab in labels]
    if len(set(upper)) != len(upper):
        raise check.fail("labels", "lists a label twice (labels are compared upper-cased)")
    for a in upper:
        for b in upper:
            if a != b and a in b:
                raise check.fail("labels", f"{a!r} occurs inside {b!r}: the reference rule (the gold label occurs "
                                 "exactly once in the output) cannot tell them apart; rename one")
    return Labels(labels)


def _choices(check: _Checker, fields: FieldMap) -> Choice:
    raw = check.raw.get("choices")
    if raw is None:
        return Choice(dict.fromkeys(DEFAULT_CHOICES))
    if isinstance(raw, str):
        raw = list(raw)
    if isinstance(raw, list):
        raw = dict.fromkeys(raw)
    if not isinstance(raw, Mapping) or len(raw) < 2:
        raise check.fail("choices", "must list at least two letters, or map letters to the inputs holding the options")
    choices: dict[str, str | None] = {}
    for letter, variable in raw.items():
        if not isinstance(letter, str) or not re.fullmatch(r"[A-Z]", letter):
            raise check.fail("choices", f"{letter!r} is not one capital letter")
        if variable is not None and variable not in fields.inputs:
            raise check.fail(f"choices.{letter}", f"{variable!r} is not one of the inputs ({', '.join(fields.inputs)})")
        choices[letter] = variable
    if any(v is None for v in choices.values()) and any(v is not None for v in choices.values()):
        raise check.fail("choices", "map every letter to an input, or none")
    return Choice(choices)


def _codes(check: _Checker, fields: FieldMap) -> Codes:
    separator = check.raw.get("code_separator")
    if separator is not None and (not isinstance(separator, str) or not separator):
        raise check.fail("code_separator", f"must be non-empty text, got {separator!r}")
    return Codes(separator)


# Each answer kind read from the task file's keys.
ANSWER_READERS = {
    LABELS: _labels,
    CHOICE: _choices,
    TEXT: lambda check, fields: FreeText(),
    CODES: _codes,
}


def _check_templates(spec: Spec) -> None:
    """The system and user templates exist; every placeholder is a variable they will get."""
    where = f"{spec.path}: prompts"
    if not spec.prompts.is_dir():
        raise UsageError(f"{where}: {spec.prompts} is not a folder")
    inputs = set(spec.fields.inputs)
    allowed = {"system": set(), "user": inputs, "answer": inputs | set(ANSWER_VARIABLES)}
    for part, variables in allowed.items():
        file = spec.prompts / f"{spec.name}.{part}.txt"
        if not file.is_file():
            if part == "answer":
                continue
            raise UsageError(f"{where}: {file} is missing (the {part} prompt)")
        unknown = sorted(template_variables(read_utf8(file)) - variables)
        if unknown:
            known = ", ".join(sorted(variables)) or "none"
            raise UsageError(f"{where}: {file.name} uses ${unknown[0]}, which is no variable it gets (it gets: {known}; "
                             "write $$ for a dollar sign)")


# -- the task ------------------------------------------------------------------------------------
def declaration_of(spec: Spec) -> Declaration:
    mapping = ", ".join(f"{v} <- {c}" for v, c in spec.fields.inputs.items())
    return Declaration(
        name=spec.name,
        title=spec.title,
        level=spec.level,
        access=spec.access,
        metrics=spec.metrics,
        resampling_unit=spec.fields.group or "item",
        files=DataFiles(
            expected=spec.data.name,
            format=f"{spec.data.suffix.lstrip('.').upper()}: id <- {spec.fields.id}, gold <- {spec.fields.gold}, {mapping}",
        ),
        protocols={"clue": Settings(shots=spec.shots, max_new_tokens=spec.max_new_tokens, document_field=spec.document_field)},
        diagnostics=spec.answer.diagnostic_columns(spec.name, spec.title),
        description=spec.description,
    )


class FileTask(Task):
    """A task read from a task file (see the module docstring)."""

    def __init__(self, spec: Spec):
        self.spec = spec
        self.declaration = declaration_of(spec)
        # scored in the registry's order, as the kind computes them
        order = {m.name: n for n, m in enumerate(all_metrics())}
        self.scored_metrics = sorted(self.declaration.item_metrics, key=lambda m: order[m.name])

    @classmethod
    def from_file(cls, path: str | Path) -> FileTask:
        return cls(read_spec(path))

    # -- where its files are -------------------------------------------------------------------
    def prompts_dir(self) -> Path:
        return self.spec.prompts

    def demo_path(self) -> Path | None:
        return None

    def own_data_file(self) -> Path:
        return self.spec.data

    def template(self, templates: Templates, part: str) -> Template:
        found = templates.get(f"{self.name}.{part}", self.spec.prompts)
        if found.source == "builtin":  # the task file's own template: record where it is
            found = replace(found, source=str(self.spec.prompts / f"{found.name}.txt"))
            templates.used[found.name] = found
        return found

    def definition_sha256(self) -> str:
        """The task file and its templates, hashed together: what a sweep's skip check must see change."""
        parts = [self.spec.sha256]
        for part in ("system", "user", "answer"):
            file = self.spec.prompts / f"{self.name}.{part}.txt"
            parts.append(sha256_file(file) if file.is_file() else "-")
        return sha256_text("\n".join(parts))

    def describe(self, protocol: str = DEFAULT_PROTOCOL) -> dict[str, Any]:
        info = super().describe(protocol)
        info.update({
            "task_file": str(self.spec.path),
            "task_file_sha256": self.spec.sha256,
            "data_file": str(self.spec.data),
            "document_field": self.spec.document_field,
        })
        info.update(self.spec.answer.describe())
        return info

    # -- load ----------------------------------------------------------------------------------
    def load(self, path: str | Path) -> list[Item]:
        fields = self.spec.fields
        ids = UniqueIds(path, fields.id)
        items = []
        for label, record in self._rows(Path(path)):
            item_id = ids.check(label, need_text(path, label, record, fields.id).strip())
            inputs = {var: need_text(path, label, record, column) for var, column in fields.inputs.items()}
            group = need_text(path, label, record, fields.group).strip() if fields.group else None
            gold = self._gold(path, label, record, inputs)
            items.append(Item(id=item_id, inputs=inputs, gold=gold, group=group))
        return items

    def _rows(self, path: Path) -> list[tuple[str, Mapping[str, Any]]]:
        fields = self.spec.fields
        if path.suffix.lower() in TABLE_SUFFIXES:
            wanted = [fields.id, fields.gold, *fields.inputs.values(), *([fields.group] if fields.group else [])]
            table = read_table(path, {column: [column] for column in dict.fromkeys(wanted)})
            return [(label, row) for label, row in table]
        return [(label, need_object(path, label, raw)) for label, raw in read_records(path)]

    def _gold(self, path: str | Path, label: str, record: Mapping[str, Any], inputs: Mapping[str, str]) -> Any:
        return self.spec.answer.read_gold(path, label, record, self.spec.fields.gold, inputs)

    # -- prompts -------------------------------------------------------------------------------
    def render_user(self, inputs: dict[str, Any], templates: Templates) -> str:
        return self._fill(self.template(templates, "user"), inputs)

    def render_answer(self, item: Item, templates: Templates) -> str:
        values = {**item.inputs, **self.spec.answer.answer_values(item)}
        try:
            template = self.template(templates, "answer")
        except UsageError:  # no answer template: the family's own format
            return self.spec.answer.default_answer(values)
        return self._fill(template, values)

    @staticmethod
    def _fill(template: Template, values: Mapping[str, Any]) -> str:
        try:
            return template.fill(**values)
        except (KeyError, ValueError) as exc:
            raise UsageError(f"{template.source}: cannot fill ${exc.args[0] if isinstance(exc, KeyError) else ''} "
                             f"({type(exc).__name__}: {exc}); it gets: {', '.join(sorted(values))}") from None

    # -- score ---------------------------------------------------------------------------------
    def score(self, reference: Reference, output: str) -> Scored:
        # the declared per-item metrics (the batch ones are added by the pipeline)
        return self.spec.answer.score(reference, output, self.scored_metrics)

    def scoring_settings(self) -> dict[str, Any]:
        return self.spec.answer.scoring_settings()

    # -- the parameterless baseline ------------------------------------------------------------
    def baseline(self, inputs: Mapping[str, Any]) -> str:
        return self.spec.answer.baseline(inputs, self.spec.document_field or next(iter(self.spec.fields.inputs)))

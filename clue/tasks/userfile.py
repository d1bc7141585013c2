"""Tasks users write without touching clue: one TOML or YAML file per task.

A task file names a local data file (JSONL or JSON array, CSV, xlsx), maps
its fields to the prompt's variables, points at a folder of prompt templates
and picks metrics from clue's own. ``clue run --tasks ./my_task.toml`` loads
it, registers it under its ``name`` and runs it like a built-in task; see
docs/tasks.md for a worked example and every key.

Relative paths (``data``, ``prompts``) are read relative to the task file.
The file is checked strictly: an unknown key, a missing one, a wrong type, an
unknown metric or a label task without its label set stop with a
``UsageError`` naming the file and the key; a bad data row stops with a
``DataError`` naming the file, the row and the field.

Metrics come in four families; a task uses one (they need different gold):

- ``accuracy`` (labels): correct iff the gold label occurs exactly once in
  the upper-cased output (MedNLI's reference rule), with the first label
  named as a stricter diagnostic. Needs ``labels``.
- ``choice_accuracy`` (multiple choice): the letter of the first "The correct
  answer is X:" (LongHealth's reference parse), with a lenient parse as a
  diagnostic. ``choices`` lists the letters, or maps them to the inputs
  holding each option's text.
- ``rouge1``, ``rouge2``, ``rougeL``, ``bertscore``, ``umls_f1`` (free text).
- ``em_f1``, ``ap_f1``, ``valid`` (ICD-10-CM codes, MeDiSumCode's rules);
  gold codes are a list field or a separated string (``code_separator``).

The parameterless baseline (``clue run`` with no ``--model``) follows the
family: the first label of the label set, the first choice letter, the first
sentence of the document, or the ICD-10-CM codes whose descriptions the
document names (MeDiSumCode's heuristic). It is a floor to compare a model
against, not a model.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from clue.core.access import ACCESS_CLASSES, CREDENTIALED
from clue.core.errors import DataError, UsageError
from clue.core.files import sha256_file, sha256_text
from clue.core.records import Item, Reference, Scored
from clue.formats.config import read_mapping
from clue.formats.readers import UniqueIds, need_nonempty, need_object, need_text, read_records, read_table
from clue.metrics import icd
from clue.metrics.choice import lenient_letter, reference_letter
from clue.metrics.labels import first_label, labels_named, reference_correct
from clue.metrics.rouge import rouge
from clue.tasks.base import Task
from clue.tasks.declaration import DataFiles, Declaration, DiagnosticColumn
from clue.tasks.heuristics import find_diagnoses, sentences
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

# metric -> family; a task's metrics all come from one family.
LABEL, CHOICE, TEXT, CODES = "label", "choice", "text", "icd10"
METRIC_FAMILY: dict[str, str] = {
    "accuracy": LABEL,
    "choice_accuracy": CHOICE,
    "rouge1": TEXT, "rouge2": TEXT, "rougeL": TEXT, "bertscore": TEXT, "umls_f1": TEXT,
    "em_f1": CODES, "ap_f1": CODES, "valid": CODES,
}
MODEL_METRICS = ("bertscore", "umls_f1")
PAIRED_BINARY = ("accuracy", "choice_accuracy")
DEFAULT_CHOICES = ("A", "B", "C", "D", "E")
# Variables the answer template gets besides the inputs.
ANSWER_VARIABLES = ("answer", "answer_text")
RESERVED_NAMES = ("all", "overall")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LEVEL_NAME = re.compile(r"^level\d+$")
_CODE_SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z][0-9A-Z]{0,4}$")
_DEFAULT_SEPARATORS = re.compile(r"[,;|\s]+")


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
    family: str
    labels: tuple[str, ...]
    choices: Mapping[str, str | None]  # letter -> the input holding its text (None: letters only)
    code_separator: str | None


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
    unknown_metrics = [m for m in metrics if m not in METRIC_FAMILY]
    if unknown_metrics:
        raise check.fail("metrics", f"unknown metric {unknown_metrics[0]!r}; known: {', '.join(METRIC_FAMILY)}")
    if len(set(metrics)) != len(metrics):
        raise check.fail("metrics", "lists a metric twice")
    families = {METRIC_FAMILY[m] for m in metrics}
    if len(families) > 1:
        raise check.fail("metrics", f"mixes metric families ({', '.join(sorted(families))}); a task's gold fits one")
    family = families.pop()

    document_field = check.text("document_field") if raw.get("document_field") is not None else None
    if document_field is not None and document_field not in fields.inputs:
        raise check.fail("document_field", f"{document_field!r} is not one of the inputs ({', '.join(fields.inputs)})")

    labels = _labels(check, family)
    choices = _choices(check, family, fields)
    code_separator = raw.get("code_separator")
    if code_separator is not None:
        if family != CODES:
            raise check.fail("code_separator", "only ICD-10 metrics (em_f1, ap_f1, valid) read codes")
        if not isinstance(code_separator, str) or not code_separator:
            raise check.fail("code_separator", f"must be non-empty text, got {code_separator!r}")

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
        family=family,
        labels=labels,
        choices=choices,
        code_separator=code_separator,
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


def _labels(check: _Checker, family: str) -> tuple[str, ...]:
    if "labels" not in check.raw:
        if family == LABEL:
            raise check.fail("labels", "missing: the accuracy metric needs the label set (e.g. labels = [\"yes\", \"no\"])")
        return ()
    if family != LABEL:
        raise check.fail("labels", "only the accuracy metric reads a label set")
    labels = check.text_list("labels")
    upper = [lab.upper() for lab in labels]
    if len(set(upper)) != len(upper):
        raise check.fail("labels", "lists a label twice (labels are compared upper-cased)")
    for a in upper:
        for b in upper:
            if a != b and a in b:
                raise check.fail("labels", f"{a!r} occurs inside {b!r}: the reference rule (the gold label occurs "
                                 "exactly once in the output) cannot tell them apart; rename one")
    return labels


def _choices(check: _Checker, family: str, fields: FieldMap) -> dict[str, str | None]:
    raw = check.raw.get("choices")
    if raw is None:
        return dict.fromkeys(DEFAULT_CHOICES) if family == CHOICE else {}
    if family != CHOICE:
        raise check.fail("choices", "only the choice_accuracy metric reads choices")
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
    return choices


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
        unknown = sorted(template_variables(file.read_text(encoding="utf-8")) - variables)
        if unknown:
            known = ", ".join(sorted(variables)) or "none"
            raise UsageError(f"{where}: {file.name} uses ${unknown[0]}, which is no variable it gets (it gets: {known}; "
                             "write $$ for a dollar sign)")


# -- the task ------------------------------------------------------------------------------------
def declaration_of(spec: Spec) -> Declaration:
    metrics = spec.metrics
    diagnostics: tuple[DiagnosticColumn, ...] = ()
    if spec.family == LABEL:
        diagnostics = (DiagnosticColumn(f"{spec.name}_no_label", f"{spec.title} no label (%)", "diagnostics.no_label_rate"),)
    elif spec.family == CHOICE:
        diagnostics = (DiagnosticColumn(f"{spec.name}_unparsed", f"{spec.title} unparsed (%)", "diagnostics.unparsed_rate"),)
    mapping = ", ".join(f"{v} <- {c}" for v, c in spec.fields.inputs.items())
    return Declaration(
        name=spec.name,
        title=spec.title,
        level=spec.level,
        access=spec.access,
        metrics=metrics,
        model_metrics=tuple(m for m in metrics if m in MODEL_METRICS),
        paired_binary=tuple(m for m in metrics if m in PAIRED_BINARY),
        resampling_unit=spec.fields.group or "item",
        files=DataFiles(
            expected=spec.data.name,
            format=f"{spec.data.suffix.lstrip('.').upper()}: id <- {spec.fields.id}, gold <- {spec.fields.gold}, {mapping}",
        ),
        protocols={"clue": Settings(shots=spec.shots, max_new_tokens=spec.max_new_tokens, document_field=spec.document_field)},
        diagnostics=diagnostics,
        description=spec.description,
    )


class FileTask(Task):
    """A task read from a task file (see the module docstring)."""

    def __init__(self, spec: Spec):
        self.spec = spec
        self.declaration = declaration_of(spec)

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
        if self.spec.labels:
            info["labels"] = list(self.spec.labels)
        if self.spec.family == CHOICE:
            info["choices"] = list(self.spec.choices)
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
        column = self.spec.fields.gold
        family = self.spec.family
        if family == CODES:
            return self._codes(path, label, record)
        value = need_text(path, label, record, column).strip()
        if family == LABEL:
            for known in self.spec.labels:
                if value.upper() == known.upper():
                    return known
            raise DataError(path, f"unknown label {value!r}; the task file's labels are {list(self.spec.labels)}",
                            record=label, field=column)
        if family == CHOICE:
            letter = value.upper()
            if letter in self.spec.choices:
                return letter
            texts = {L: inputs[v].strip() for L, v in self.spec.choices.items() if v is not None}
            matches = [L for L, text in texts.items() if text == value]
            if len(matches) == 1:
                return matches[0]
            problem = f"equals options {matches}" if matches else "is neither a choice letter nor one option's text"
            raise DataError(path, f"{value!r} {problem}; choices: {', '.join(self.spec.choices)}", record=label, field=column)
        return need_nonempty(path, label, column, value)

    def _codes(self, path: str | Path, label: str, record: Mapping[str, Any]) -> list[str]:
        column = self.spec.fields.gold
        if column not in record:
            raise DataError(path, f"missing field {column!r}", record=label, field=column)
        raw = record[column]
        pieces: list[str] = []
        if isinstance(raw, str):
            sep = self.spec.code_separator
            pieces = raw.split(sep) if sep else _DEFAULT_SEPARATORS.split(raw)
        elif isinstance(raw, list):
            for n, entry in enumerate(raw):
                if isinstance(entry, Mapping):  # MeDiSumCode's {code, description} entries
                    entry = need_text(path, f"{label}, {column}[{n}]", entry, "code")
                if not isinstance(entry, str):
                    raise DataError(path, f"entry {n} is {type(entry).__name__}, expected a code", record=label, field=column)
                pieces.append(entry)
        else:
            raise DataError(path, f"expected a list of codes or separated text, found {type(raw).__name__}",
                            record=label, field=column)
        codes = []
        for piece in pieces:
            code = piece.strip().replace(".", "").upper()
            if not code:
                continue
            if not _CODE_SHAPE.match(code):
                raise DataError(path, f"{piece.strip()!r} is not an ICD-10 code", record=label, field=column)
            codes.append(code)
        return codes

    # -- prompts -------------------------------------------------------------------------------
    def render_user(self, inputs: dict[str, Any], templates: Templates) -> str:
        return self._fill(self.template(templates, "user"), inputs)

    def render_answer(self, item: Item, templates: Templates) -> str:
        values = {**item.inputs, **self._answer_values(item)}
        try:
            template = self.template(templates, "answer")
        except UsageError:  # no answer template: the family's own format
            return self._default_answer(values)
        return self._fill(template, values)

    def _answer_values(self, item: Item) -> dict[str, str]:
        if self.spec.family == CODES:
            return {"answer": ", ".join(icd.add_dot(c) for c in item.gold), "answer_text": ""}
        if self.spec.family == CHOICE:
            variable = self.spec.choices.get(str(item.gold))
            return {"answer": str(item.gold), "answer_text": item.inputs[variable] if variable else ""}
        return {"answer": str(item.gold), "answer_text": ""}

    def _default_answer(self, values: Mapping[str, str]) -> str:
        if self.spec.family == CHOICE:
            text = values["answer_text"]
            return f"The correct answer is {values['answer']}:" + (f" {text}" if text else "")
        return values["answer"]

    @staticmethod
    def _fill(template: Template, values: Mapping[str, Any]) -> str:
        try:
            return template.fill(**values)
        except (KeyError, ValueError) as exc:
            raise UsageError(f"{template.source}: cannot fill ${exc.args[0] if isinstance(exc, KeyError) else ''} "
                             f"({type(exc).__name__}: {exc}); it gets: {', '.join(sorted(values))}") from None

    # -- score ---------------------------------------------------------------------------------
    def score(self, reference: Reference, output: str) -> Scored:
        family = self.spec.family
        if family == LABEL:
            parsed, metrics, diagnostics = self._score_label(reference, output)
        elif family == CHOICE:
            parsed, metrics, diagnostics = self._score_choice(reference, output)
        elif family == CODES:
            parsed, metrics, diagnostics = self._score_codes(reference, output)
        else:
            parsed = output.strip()
            metrics = rouge(parsed, str(reference.gold))
            diagnostics = {"empty_answer_rate": float(not parsed)}
        # Only the declared metrics are kept (the model-based ones are added by the pipeline).
        kept = {k: v for k, v in metrics.items() if k in self.spec.metrics}
        return Scored(request_id=reference.request_id, item_id=reference.item_id, parsed=parsed,
                      metrics=kept, diagnostics=diagnostics)

    def _score_label(self, reference: Reference, output: str) -> tuple[Any, dict[str, float], dict[str, float]]:
        labels = self.spec.labels
        found = first_label(output, labels)
        named = labels_named(output, labels)
        return found, {"accuracy": float(reference_correct(output, str(reference.gold)))}, {
            "first_label_accuracy": float(found == str(reference.gold).upper()),
            "no_label_rate": float(named == 0),
            "several_labels_rate": float(named > 1),
        }

    def _score_choice(self, reference: Reference, output: str) -> tuple[Any, dict[str, float], dict[str, float]]:
        strict = reference_letter(output)
        options = {L: str(reference.inputs.get(v, "")) for L, v in self.spec.choices.items() if v is not None}
        lenient = lenient_letter(output, options)
        return strict, {"choice_accuracy": float(strict == reference.gold)}, {
            "lenient_accuracy": float(lenient == reference.gold),
            "unparsed_rate": float(strict is None),
        }

    def _score_codes(self, reference: Reference, output: str) -> tuple[Any, dict[str, float], dict[str, float]]:
        gold = list(reference.gold)
        predicted = icd.extract_codes(output)
        return predicted, icd.headline(predicted, gold), {
            "codes_predicted": float(len(predicted)),
            "no_code_rate": float(not predicted),
        }

    def scoring_settings(self) -> dict[str, Any]:
        return icd.settings_record() if self.spec.family == CODES else {}

    # -- the parameterless baseline ------------------------------------------------------------
    def baseline(self, inputs: Mapping[str, Any]) -> str:
        family = self.spec.family
        if family == LABEL:
            return self.spec.labels[0]
        if family == CHOICE:
            return f"The correct answer is {next(iter(self.spec.choices))}:"
        document = str(inputs[self.spec.document_field or next(iter(self.spec.fields.inputs))])
        if family == CODES:
            return "ICD-10 Codes: " + ", ".join(icd.add_dot(code) for code, _ in find_diagnoses(document)[:12])
        lead = sentences(document)
        return lead[0] if lead else ""


def load_task_file(path: str | Path) -> FileTask:
    """Read a task file into a task (not registered: see ``clue.tasks.registry.load_task_file``)."""
    return FileTask.from_file(path)

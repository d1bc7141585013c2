"""The four answer kinds (labels, multiple choice, free text, ICD-10 codes): parse an output, score it.

Built-in tasks and task files score through the same kind; a task file's kind
also reads its gold answers and writes its demonstration answers and its
baseline. docs/metrics.md says each kind's rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from clue.core.errors import DataError
from clue.core.records import Item, Reference, Scored
from clue.formats.readers import need_nonempty, need_text
from clue.metrics import icd
from clue.metrics.choice import lenient_letter, reference_letter
from clue.metrics.labels import NLI_LABELS, first_label, labels_named
from clue.metrics.metric import CHOICE, CODES, LABELS, TEXT, Metric
from clue.tasks.declaration import DiagnosticColumn
from clue.tasks.heuristics import find_diagnoses, sentences

_CODE_SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z][0-9A-Z]{0,4}$")
_DEFAULT_SEPARATORS = re.compile(r"[,;|\s]+")
DEFAULT_CHOICES = ("A", "B", "C", "D", "E")


class AnswerKind:
    """How one kind of answer is parsed and scored; the metrics of ``name`` (``Metric.answer``) score it."""

    name: str = ""

    def parse(self, output: str, reference: Reference) -> Any:
        raise NotImplementedError

    def diagnostics(self, output: str, parsed: Any, reference: Reference) -> dict[str, float]:
        return {}

    def gold(self, reference: Reference) -> Any:
        return reference.gold

    def score(self, reference: Reference, output: str, metrics: Sequence[Metric]) -> Scored:
        """The parsed answer, the per-item ``metrics`` (batch metrics are left to the pipeline), the diagnostics."""
        parsed = self.parse(output, reference)
        gold = self.gold(reference)
        values = {m.name: m.score(parsed, gold, output) for m in metrics if not m.batch}
        return Scored(
            request_id=reference.request_id,
            item_id=reference.item_id,
            parsed=parsed,
            metrics=values,
            diagnostics=self.diagnostics(output, parsed, reference),
        )

    # -- what a task file needs besides scoring -------------------------------------------------
    def read_gold(self, path: str | Path, label: str, record: Mapping[str, Any], column: str,
                  inputs: Mapping[str, str]) -> Any:
        """A row's gold answer from ``column``; a bad value is a DataError naming the row and field."""
        return need_nonempty(path, label, column, need_text(path, label, record, column).strip())

    def answer_values(self, item: Item) -> dict[str, str]:
        """What an answer template gets besides the inputs: ``answer`` and ``answer_text``."""
        return {"answer": str(item.gold), "answer_text": ""}

    def default_answer(self, values: Mapping[str, str]) -> str:
        """A demonstration's answer where the task file has no answer template."""
        return values["answer"]

    def baseline(self, inputs: Mapping[str, Any], document: str) -> str:
        """The parameterless baseline's answer, from the structured inputs (``document``: the document's key)."""
        lead = sentences(str(inputs[document]))
        return lead[0] if lead else ""

    def diagnostic_columns(self, task: str, title: str) -> tuple[DiagnosticColumn, ...]:
        return ()

    def describe(self) -> dict[str, Any]:
        return {}

    def scoring_settings(self) -> dict[str, Any]:
        """What the kind's scores depend on besides the metrics (the ICD-10 code tables), for the record."""
        return {}


class Labels(AnswerKind):
    """A label from a set: MedNLI's rule (the gold label occurs exactly once in the upper-cased output).

    Parsed: the first label named. Diagnostics: first-label accuracy, no label, several labels.
    """

    name = LABELS

    def __init__(self, labels: Sequence[str] = NLI_LABELS):
        self.labels = tuple(labels)

    def parse(self, output: str, reference: Reference) -> str | None:
        return first_label(output, self.labels)

    def diagnostics(self, output: str, parsed: Any, reference: Reference) -> dict[str, float]:
        named = labels_named(output, self.labels)
        return {
            "first_label_accuracy": float(parsed == str(reference.gold).upper()),
            "no_label_rate": float(named == 0),
            "several_labels_rate": float(named > 1),
        }

    def read_gold(self, path: str | Path, label: str, record: Mapping[str, Any], column: str,
                  inputs: Mapping[str, str]) -> str:
        value = need_text(path, label, record, column).strip()
        for known in self.labels:
            if value.upper() == known.upper():
                return known
        raise DataError(path, f"unknown label {value!r}; the task file's labels are {list(self.labels)}",
                        record=label, field=column)

    def baseline(self, inputs: Mapping[str, Any], document: str) -> str:
        return self.labels[0]

    def diagnostic_columns(self, task: str, title: str) -> tuple[DiagnosticColumn, ...]:
        return (DiagnosticColumn(f"{task}_no_label", f"{title} no label (%)", "diagnostics.no_label_rate"),)

    def describe(self) -> dict[str, Any]:
        return {"labels": list(self.labels)}


class Choice(AnswerKind):
    """A letter among options: LongHealth's parse (the first "The correct answer is X:").

    ``choices`` maps each letter to the input holding its text (None: letters only);
    without it the options are the reference's ``options`` input. A lenient parse is a diagnostic.
    """

    name = CHOICE

    def __init__(self, choices: Mapping[str, str | None] | None = None):
        self.choices = dict(choices) if choices is not None else None

    def parse(self, output: str, reference: Reference) -> str | None:
        return reference_letter(output)

    def options(self, reference: Reference) -> Mapping[str, str]:
        if self.choices is None:
            return reference.inputs.get("options", {})
        return {L: str(reference.inputs.get(v, "")) for L, v in self.choices.items() if v is not None}

    def lenient(self, output: str, reference: Reference) -> str | None:
        return lenient_letter(output, self.options(reference))

    def diagnostics(self, output: str, parsed: Any, reference: Reference) -> dict[str, float]:
        return {
            "lenient_accuracy": float(self.lenient(output, reference) == reference.gold),
            "unparsed_rate": float(parsed is None),
        }

    @property
    def letters(self) -> list[str]:
        return list(self.choices or DEFAULT_CHOICES)

    def read_gold(self, path: str | Path, label: str, record: Mapping[str, Any], column: str,
                  inputs: Mapping[str, str]) -> str:
        value = need_text(path, label, record, column).strip()
        choices = self.choices if self.choices is not None else dict.fromkeys(DEFAULT_CHOICES)
        letter = value.upper()
        if letter in choices:
            return letter
        texts = {L: inputs[v].strip() for L, v in choices.items() if v is not None}
        matches = [L for L, text in texts.items() if text == value]
        if len(matches) == 1:
            return matches[0]
        problem = f"equals options {matches}" if matches else "is neither a choice letter nor one option's text"
        raise DataError(path, f"{value!r} {problem}; choices: {', '.join(choices)}", record=label, field=column)

    def answer_values(self, item: Item) -> dict[str, str]:
        variable = (self.choices or {}).get(str(item.gold))
        return {"answer": str(item.gold), "answer_text": item.inputs[variable] if variable else ""}

    def default_answer(self, values: Mapping[str, str]) -> str:
        text = values["answer_text"]
        return f"The correct answer is {values['answer']}:" + (f" {text}" if text else "")

    def baseline(self, inputs: Mapping[str, Any], document: str) -> str:
        return f"The correct answer is {self.letters[0]}:"

    def diagnostic_columns(self, task: str, title: str) -> tuple[DiagnosticColumn, ...]:
        return (DiagnosticColumn(f"{task}_unparsed", f"{title} unparsed (%)", "diagnostics.unparsed_rate"),)

    def describe(self) -> dict[str, Any]:
        return {"choices": self.letters}


class FreeText(AnswerKind):
    """Free text (summaries, answers): the stripped output against the reference text."""

    name = TEXT

    def parse(self, output: str, reference: Reference) -> str:
        return output.strip()

    def gold(self, reference: Reference) -> str:
        return str(reference.gold)

    def diagnostics(self, output: str, parsed: Any, reference: Reference) -> dict[str, float]:
        return {"empty_answer_rate": float(not parsed)}


class Codes(AnswerKind):
    """ICD-10-CM codes: MeDiSumCode's extraction (``clue.metrics.icd.extract_codes``) against the gold list."""

    name = CODES

    def __init__(self, separator: str | None = None):
        self.separator = separator  # how a task file's gold text separates codes (None: , ; | or spaces)

    def parse(self, output: str, reference: Reference) -> list[str]:
        return icd.extract_codes(output)

    def gold(self, reference: Reference) -> list[str]:
        return list(reference.gold)

    def diagnostics(self, output: str, parsed: Any, reference: Reference) -> dict[str, float]:
        return {"codes_predicted": float(len(parsed)), "no_code_rate": float(not parsed)}

    def read_gold(self, path: str | Path, label: str, record: Mapping[str, Any], column: str,
                  inputs: Mapping[str, str]) -> list[str]:
        if column not in record:
            raise DataError(path, f"missing field {column!r}", record=label, field=column)
        raw = record[column]
        pieces: list[str] = []
        if isinstance(raw, str):
            pieces = raw.split(self.separator) if self.separator else _DEFAULT_SEPARATORS.split(raw)
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

    def answer_values(self, item: Item) -> dict[str, str]:
        return {"answer": ", ".join(icd.add_dot(c) for c in item.gold), "answer_text": ""}

    def baseline(self, inputs: Mapping[str, Any], document: str) -> str:
        found = find_diagnoses(str(inputs[document]))
        return "ICD-10 Codes: " + ", ".join(icd.add_dot(code) for code, _ in found[:12])

    def scoring_settings(self) -> dict[str, Any]:
        return icd.settings_record()

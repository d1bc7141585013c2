"""MeQSum (level 1): summarise a consumer health question into one short question.

File: ``MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx`` (public, CC BY 4.0),
one sheet with columns File, CHQ, Summary; 1,000 rows. 3 seeded
demonstrations from the file itself, so 997 items are scored; 512 new tokens.
Score: mean of ROUGE-1, ROUGE-2, ROUGE-L and BERTScore-F1.
"""

from __future__ import annotations

from pathlib import Path

from ..datasets.readers import UniqueIds, need_nonempty, read_table
from ..schema import Item
from .base import PUBLIC
from .summaries import SummaryTask


class MeQSum(SummaryTask):
    name = "meqsum"
    title = "MeQSum"
    level = 1
    access = PUBLIC
    expected_file = "MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx"
    file_format = "xlsx, one sheet: File, CHQ, Summary"
    metrics = ("rouge1", "rouge2", "rougeL", "bertscore")
    model_metrics = ("bertscore",)
    shots = 3
    max_new_tokens = 512
    document_field = "chq"

    def load(self, path: str | Path) -> list[Item]:
        rows = read_table(path, {"file": ["File"], "chq": ["CHQ"], "summary": ["Summary"]})
        ids = UniqueIds(path, "File")
        items = []
        for label, row in rows:
            item_id = ids.check(label, need_nonempty(path, label, "File", row["file"]).strip())
            items.append(
                Item(
                    id=item_id,
                    inputs={"chq": need_nonempty(path, label, "CHQ", row["chq"])},
                    gold=need_nonempty(path, label, "Summary", row["summary"]).strip(),
                )
            )
        return items

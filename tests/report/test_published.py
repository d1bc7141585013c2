"""Published reference rows: aggregated by the project's code, they give back the published level scores."""

from __future__ import annotations

import pytest

from clue.core.errors import DataError
from clue.report.published import load_published, reproduced_table
from tests.helpers.fake_runs import PUBLISHED_CSV

# Three rows of clue-2024-06.csv (June 2024 per-task metrics, as published), so
# the check runs even where the shared file is not present.
HEADER = (
    "model,mednli_accuracy,meqsum_rouge1,meqsum_rouge2,meqsum_rougeL,meqsum_bertscore,problem_summary_rouge1,"
    "problem_summary_rouge2,problem_summary_rougeL,problem_summary_bertscore,problem_summary_umls_f1,medisumqa_rouge1,"
    "medisumqa_rouge2,medisumqa_rougeL,medisumqa_bertscore,medisumqa_umls_f1,medisumcode_em_f1,medisumcode_ap_f1,"
    "medisumcode_valid,longhealth_task1,longhealth_task2,longhealth_task3"
)
ROWS = {
    "Meta-Llama-3-8B-Instruct": (
        "74.08,36.49,16.37,32.2,72.74,28.52,9.87,22.7,71.45,25.32,28.15,9.63,22"
        ".44,68.62,22.74,3.95,17.55,61.93,68.3,66.55,56.25"
    ),
    "Llama3-OpenBioLLM-8B": (
        "44.93,29.41,14.03,26.21,62.39,13.62,4.03,10.82,64.14,15.67,27.95,10.45"
        ",22.89,68.7,22.15,0.84,4.84,51.16,37.55,41.75,1.55"
    ),
    "Meta-Llama-3-70B-Instruct": (
        "79.37,40.2,19.3,36.57,75.74,33.16,13.01,25.43,73.0,29.12,32.5,11.93,26"
        ".2,70.24,25.78,19.65,39.2,93.94,81.65,77.9,91.7"
    ),
}
# The published June 2024 figures a reproduction is checked against (docs/protocols.md, "The `clue` protocol").
SPEC_LEVELS = {
    "Meta-Llama-3-70B-Instruct": (52.36, 56.00),
    "Meta-Llama-3-8B-Instruct": (48.37, 40.61),
    "Llama3-OpenBioLLM-8B": (33.20, 25.44),
}


def check_spec_levels(entries) -> None:
    by_name = {e.name: e for e in entries}
    for model, (l1, l2) in SPEC_LEVELS.items():
        e = by_name[model]
        assert round(e.level("level1"), 2) == pytest.approx(l1, abs=0.01), model
        assert round(e.level("level2"), 2) == pytest.approx(l2, abs=0.01), model
        assert e.level("overall") == pytest.approx((e.level("level1") + e.level("level2")) / 2)


def test_three_published_rows_reproduce_the_spec_level_scores(tmp_path):
    path = tmp_path / "published.csv"
    path.write_text(HEADER + "\n" + "".join(f"{m},{v}\n" for m, v in ROWS.items()))
    entries = load_published(path)
    assert [e.source for e in entries] == ["published"] * 3
    check_spec_levels(entries)
    llama70 = next(e for e in entries if e.name == "Meta-Llama-3-70B-Instruct")
    assert llama70.score("mednli")[0] == pytest.approx(79.37)
    assert llama70.score("longhealth")[0] == pytest.approx((81.65 + 77.90 + 91.70) / 3)
    assert llama70.score("medisumcode")[0] == pytest.approx((19.65 + 39.20 + 93.94) / 3)


def test_the_whole_published_file_aggregates(tmp_path):
    if not PUBLISHED_CSV.is_file():
        pytest.skip(f"the published results file is not here ({PUBLISHED_CSV})")
    entries = load_published(PUBLISHED_CSV)
    assert len(entries) == 26
    check_spec_levels(entries)
    table = {row["model"]: row for row in reproduced_table(entries)}
    # 4k-context models have level 1 only; so has the Mixtral base.
    for model in ("llama2-7b", "meditron-7b", "Llama-2-70b", "meditron-70b", "ClinicalCamel-70B", "Mixtral-8x7B-v0.1"):
        assert table[model]["level1"] is not None and table[model]["level2"] is None and table[model]["overall"] is None
    assert all(e.results.levels_complete["level1"] for e in entries)


def test_a_malformed_published_file_names_the_row_and_column(tmp_path):
    path = tmp_path / "published.csv"
    path.write_text(HEADER + "\nsome-model," + ROWS["Llama3-OpenBioLLM-8B"].replace("44.93", "n/a", 1) + "\n")
    with pytest.raises(DataError, match=r"row 2 \(some-model\).*mednli_accuracy.*not a number"):
        load_published(path)
    path.write_text("model,mednli_acc\nx,1\n")
    with pytest.raises(DataError, match="unknown column"):
        load_published(path)
    # A task with some of its metrics but not all is an error, not a silent mean over fewer.
    path.write_text("model,meqsum_rouge1,meqsum_rouge2\nx,1,2\n")
    with pytest.raises(DataError, match="meqsum has some metrics but not rougeL, bertscore"):
        load_published(path)


def test_the_published_rows_ship_in_the_package_and_are_found_by_name():
    from clue.report.published import DEFAULT_PUBLISHED, published_path
    from tests.helpers.fake_runs import SHARED_PUBLISHED_CSV

    shipped = published_path()
    assert shipped.is_file() and shipped.resolve() == published_path(DEFAULT_PUBLISHED).resolve() == PUBLISHED_CSV.resolve()
    assert (shipped.parent / "SOURCE.md").is_file()
    by_name, by_path = load_published("clue-2024-06"), load_published(shipped)
    assert [e.name for e in by_name] == [e.name for e in by_path] and len(by_name) == 26
    if SHARED_PUBLISHED_CSV.is_file():  # the copy in the package is the project's data file, byte for byte
        assert shipped.read_bytes() == SHARED_PUBLISHED_CSV.read_bytes()

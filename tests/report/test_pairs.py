"""Pairs: the study's preset, name matching, and the pairs table on runs with a known gap."""

from __future__ import annotations

import csv
import json

import pytest

from clue.core.errors import UsageError
from clue.report.html import ReportOptions, build_report
from clue.report.leaderboard import Entry, load_run, name_key
from clue.report.pairs import find_entry, load_pairs, match_pairs, parse_pairs
from tests.helpers.fake_runs import PUBLISHED_CSV, level1_tasks, write_run

STUDY_PAIRS = {
    ("meditron-7b", "llama2-7b"), ("meditron-70b", "Llama-2-70b"), ("ClinicalCamel-70B", "Llama-2-70b"),
    ("internistai/base-7b-v0.2", "Mistral-7B-v0.1"), ("BioMistral-7B", "Mistral-7B-Instruct-v0.1"),
    ("BioMistral-7B-DARE", "Mistral-7B-Instruct-v0.1"), ("Llama3-OpenBioLLM-8B", "Meta-Llama-3-8B-Instruct"),
    ("JSL-Med-Sft-Llama-3-8B", "Meta-Llama-3-8B-Instruct"), ("JSL-MedLlama-3-8B-v1.0", "Meta-Llama-3-8B-Instruct"),
    ("JSL-MedLlama-3-8B-v2.0", "Meta-Llama-3-8B-Instruct"), ("Llama3-Aloe-8B-Alpha", "Meta-Llama-3-8B-Instruct"),
    ("Llama3-OpenBioLLM-70B", "Meta-Llama-3-70B-Instruct"),
}


def test_the_clue_preset_holds_the_studys_12_pairs():
    pairs = load_pairs("clue")
    assert {(p.biomedical, p.base) for p in pairs.pairs} == STUDY_PAIRS
    # The paper's name for Meditron-7B's base reaches the published file's name.
    assert name_key("llama2-7b") in pairs.names_of("Llama-2-7b")


def test_preset_names_are_the_published_files_names():
    if not PUBLISHED_CSV.is_file():
        pytest.skip(f"the published results file is not here ({PUBLISHED_CSV})")
    with open(PUBLISHED_CSV, newline="") as fh:
        published = {row["model"] for row in csv.DictReader(fh)}
    named = {n for pair in STUDY_PAIRS for n in pair}
    assert named <= published


def test_runs_match_by_folder_model_id_or_last_path_part(tmp_path):
    pairs = load_pairs("clue")
    internist = write_run(tmp_path / "internistai_base-7b-v0.2", "whatever", {"mednli": {"accuracy": [1.0]}})
    bio = write_run(tmp_path / "run-17", "epfl-llm/meditron-7b", {"mednli": {"accuracy": [1.0]}})
    base = write_run(tmp_path / "run-18", "meta-llama/Llama-2-7b-hf", {"mednli": {"accuracy": [1.0]}})
    entries = [load_run(p) for p in (internist, bio, base)]
    assert find_entry(pairs, "internistai/base-7b-v0.2", entries).path == internist
    matched = match_pairs(pairs, entries)
    assert [(r.biomedical.path, r.base.path) for r in matched] == [(bio, base)]


def test_a_name_matching_two_runs_is_an_error(tmp_path):
    a = write_run(tmp_path / "a" / "BioMistral-7B", "x", {"mednli": {"accuracy": [1.0]}})
    b = write_run(tmp_path / "b" / "BioMistral-7B", "y", {"mednli": {"accuracy": [1.0]}})
    with pytest.raises(UsageError, match="matches 2 entries"):
        find_entry(load_pairs("clue"), "BioMistral-7B", [load_run(a), load_run(b)])


@pytest.mark.parametrize(
    "data, message",
    [({}, "no pairs"), ({"pair": [{"biomedical": "x"}]}, "needs both"), ({"pair": [], "pears": 1}, "unknown key"),
     ({"pair": [{"biomedical": "x", "base": "y", "weight": 2}]}, "unknown key")],
)
def test_pairs_files_are_checked(data, message):
    with pytest.raises(UsageError, match=message):
        parse_pairs(data, "test.toml")


def test_a_user_pairs_file_in_yaml(tmp_path):
    path = tmp_path / "pairs.yaml"
    path.write_text("pair:\n  - biomedical: my-med-model\n    base: my-base\n    note: LoRA on notes\n")
    pairs = load_pairs(path)
    assert [(p.biomedical, p.base, p.note) for p in pairs.pairs] == [("my-med-model", "my-base", "LoRA on notes")]


@pytest.fixture(scope="module")
def gap_report(gap_runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("gap-report")
    build_report(list(gap_runs), ReportOptions(out=out, pairs="clue", n_resamples=2000))
    return out


def test_a_10_point_gap_on_500_items_is_significant(gap_report):
    data = json.loads((gap_report / "pairs.json").read_text())
    rows = {(r["source"], r["what"]): r for r in data["rows"]}
    mednli = rows[("runs", "mednli")]
    assert mednli["biomedical"] == "openbio" and mednli["base"] == "Meta-Llama-3-8B-Instruct"
    assert mednli["delta"] == pytest.approx(-10.0)
    assert mednli["score_base"] == pytest.approx(70.0) and mednli["score_biomedical"] == pytest.approx(60.0)
    assert mednli["ci_high"] < 0 and mednli["ci_low"] > -16
    assert mednli["p_value"] < 0.01 and mednli["significant"] is True
    assert mednli["mcnemar_p"]["accuracy"] < 1e-10  # 50 discordant pairs, all one way
    # The summaries are identical: no difference, not significant.
    assert rows[("runs", "meqsum")]["delta"] == pytest.approx(0.0)
    assert rows[("runs", "meqsum")]["significant"] is False
    # Level 1 moves by a third of the MedNLI gap.
    assert rows[("runs", "level1")]["delta"] == pytest.approx(-10.0 / 3)
    heads = {h["level"]: h for h in data["headline"] if h["source"] == "runs"}
    assert set(heads) == {"level1"}
    assert heads["level1"]["text"].startswith("Level 1: 1 of 1 biomedical models score below their base, 1 of them significantly")


def test_the_pairs_csv_and_markdown_agree_with_the_json(gap_report):
    data = json.loads((gap_report / "pairs.json").read_text())
    with open(gap_report / "pairs.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(data["rows"])
    for row, want in zip(rows, data["rows"]):
        assert float(row["delta"]) == want["delta"]
    md = (gap_report / "pairs.md").read_text()
    assert "| openbio | Meta-Llama-3-8B-Instruct | runs | MedNLI | 70.00 | 60.00 | −10.00 [" in md


def test_equal_runs_are_not_below_their_base(tmp_path):
    base = write_run(tmp_path / "Mistral-7B-Instruct-v0.1", "m", level1_tasks(300, n=200))
    bio = write_run(tmp_path / "BioMistral-7B-DARE", "b", level1_tasks(300, n=200))
    report = build_report([base, bio], ReportOptions(out=tmp_path / "r", pairs="clue", n_resamples=500))
    [result] = report.pairs
    cell = result.cell("level1")
    assert cell["delta"] == pytest.approx(0.0) and cell["significant"] is False
    heads = json.loads((tmp_path / "r" / "pairs.json").read_text())["headline"]
    assert heads[0]["below"] == 0 and heads[0]["significant"] == 0


def test_published_pairs_get_deltas_without_intervals(tmp_path):
    from clue.report.published import results_from_metrics

    base = Entry("Meta-Llama-3-8B-Instruct", "published", results_from_metrics("b", {"mednli": {"accuracy": 74.08}}))
    bio = Entry("Llama3-OpenBioLLM-8B", "published", results_from_metrics("o", {"mednli": {"accuracy": 44.93}}))
    [result] = match_pairs(load_pairs("clue"), [base, bio])
    cell = result.cell("mednli")
    assert cell["delta"] == pytest.approx(44.93 - 74.08) and cell["ci"] is None and cell["significant"] is None

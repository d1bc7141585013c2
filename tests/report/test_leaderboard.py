"""The leaderboard files: numbers as in results.json, incomplete scores marked, published rows flagged."""

from __future__ import annotations

import csv
import json

import pytest

from clue.core.errors import DataError
from clue.core.results import RunResults
from clue.report.leaderboard import Entry, diagnostics_row, leaderboard_markdown, load_run, sort_entries, write_leaderboard
from clue.report.published import results_from_metrics
from tests.helpers.fake_runs import level1_tasks, write_run


@pytest.fixture
def runs(tmp_path):
    full = write_run(tmp_path / "full", "full-model", level1_tasks(80, n=100))
    partial_tasks = level1_tasks(40, n=100)
    partial_tasks["meqsum"].pop("bertscore")  # a metric that could not be computed
    partial = write_run(tmp_path / "partial", "partial-model", partial_tasks)
    return [load_run(full), load_run(partial)]


def test_leaderboard_csv_and_json_hold_the_results_numbers(runs, tmp_path):
    published = Entry("Some-Published-Model", "published", results_from_metrics("p", {"mednli": {"accuracy": 55.5}}))
    write_leaderboard([*runs, published], tmp_path / "out")
    with open(tmp_path / "out" / "leaderboard.csv", newline="") as fh:
        rows = {r["name"]: r for r in csv.DictReader(fh)}
    for e in runs:
        row = rows[e.name]
        assert row["source"] == "run"
        for task, t in e.results.tasks.items():
            assert float(row[task]) == t.score
            lo, hi = t.ci
            assert float(row[f"{task}_ci_low"]) == lo and float(row[f"{task}_ci_high"]) == hi
        assert float(row["level1"]) == e.results.levels["level1"]
        assert row["level2"] == "" and row["overall"] == ""
    assert rows["partial"]["meqsum_complete"] == "false" and rows["partial"]["level1_complete"] == "false"
    assert rows["full"]["level1_complete"] == "true"
    assert rows["Some-Published-Model"]["source"] == "published" and float(rows["Some-Published-Model"]["mednli"]) == 55.5
    data = json.loads((tmp_path / "out" / "leaderboard.json").read_text())
    by_name = {r["name"]: r for r in data["rows"]}
    assert by_name["full"]["levels"]["level1"]["score"] == runs[0].results.levels["level1"]
    # the published row is ranked on its own: the runs were not scored under its protocol and data
    assert [(r["group"], r["rank"], r["source"]) for r in data["rows"]] == [(1, 1, "published"), (2, 1, "run"), (2, 2, "run")]
    assert "protocol clue (not clue-2024-06)" in by_name["full"]["apart"]


def test_intervals_are_added_to_runs_that_have_none(runs):
    full = runs[0]
    score, (lo, hi), _ = full.score("mednli")
    assert score == pytest.approx(80.0)
    assert lo < 80.0 < hi
    level, (lo, hi), _ = full.score("level1")
    assert lo < level < hi


def test_markdown_marks_incomplete_scores_and_published_rows(runs):
    published = Entry("Ref", "published", results_from_metrics("p", {"mednli": {"accuracy": 10.0}}))
    md = leaderboard_markdown([*runs, published])
    partial_line = next(line for line in md.splitlines() if "| partial |" in line)
    assert "*" in partial_line.split("|")[4]  # MeQSum column of the partial run
    assert "| Ref *(published)* |" in md


def test_best_overall_first_then_level_1():
    def entry(name, l1, overall):
        return Entry(name, "run", RunResults(tasks={}, levels={"level1": l1, "overall": overall}))

    ordered = sort_entries([entry("a", 30, None), entry("b", 20, 40), entry("c", 50, None), entry("d", 10, 45)])
    assert [e.name for e in ordered] == ["d", "b", "c", "a"]


def test_diagnostics_side_by_side():
    results = {"tasks": {
        "mednli": {"score": None, "n": 0, "diagnostics": {"no_label_rate": 12.5, "truncated_prompts": 1, "failed_requests": 0}},
        "longhealth": {"score": 40.0, "n": 9, "metrics": {"task3": 40.0},
                       "diagnostics": {"task2_unparsed_rate": 5.0, "truncated_prompts": 3, "failed_requests": 2}},
        "medisumcode": {"score": 93.94, "n": 3, "metrics": {"valid": 93.94}, "diagnostics": {}},
    }}
    row = diagnostics_row(Entry("m", "run", RunResults.from_json(results)))
    assert row["mednli_no_label"] == 12.5 and row["longhealth_task2_unparsed"] == 5.0
    assert row["longhealth_task3"] == 40.0 and row["medisumcode_invalid"] == pytest.approx(6.06)
    assert row["truncated_prompts"] == 4 and row["failed_requests"] == 2
    assert row["longhealth_task1_unparsed"] is None


def test_a_folder_that_is_not_a_run_is_named_in_the_error(tmp_path):
    with pytest.raises(DataError, match="results.json"):
        load_run(tmp_path)


def test_a_score_lacking_a_metric_of_the_published_rows_is_ranked_apart(tmp_path):
    from clue.report.leaderboard import differences, group_entries, scored_on
    from clue.tasks.registry import get_task

    metrics = {m: 30.0 for m in get_task("meqsum").metrics}
    published = Entry("Published", "published", results_from_metrics("p", {"meqsum": metrics}))
    tasks = level1_tasks(40, n=100)
    tasks["meqsum"].pop("bertscore")
    lacking = load_run(write_run(tmp_path / "lacking", "lacking-model", tasks))
    whole = load_run(write_run(tmp_path / "whole", "whole-model", level1_tasks(40, n=100)))
    # scored alike otherwise: the published rows' protocol and data
    for e in (lacking, whole):
        record = scored_on(published)
        e.results.scored_on = {**record, "data": {t: record["data"]["meqsum"] for t in e.results.tasks}}
    reasons = differences(lacking, published)
    assert "meqsum scored without bertscore" in reasons
    assert "meqsum scored with bertscore (which the others lack)" in differences(published, lacking)
    assert not any("scored with" in r for r in differences(whole, published))
    assert not any("scored with" in r for r in differences(lacking, whole))  # two runs: same group as before
    groups = group_entries([published, lacking])
    assert len(groups) == 2 and groups[0] == [published]

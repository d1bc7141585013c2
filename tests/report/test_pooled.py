"""The study's question across pairs, honest at every sample size.

- two one-item runs (made with the baseline): `clue compare` gives no interval and no
  "significant" for any task or level, and says why;
- three or more pairs of hand-made runs: pairs.json has a pooled section per task and
  level (estimate, CI, tau2, I2, prediction interval, k declining of n, sign test, by
  task kind) that agrees with the pairs' own differences, and a forest plot;
- the published June 2024 rows with the study's pairs: the sign test (k of 12) and the
  split by task kind, without intervals.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from clue.report.html import ReportOptions, build_report
from clue.report.tables import md_text
from clue.stats.exact import sign_test_p
from clue.stats.meta import pool
from tests.helpers.cli import clue
from tests.helpers.fake_runs import level1_tasks, write_run

# (biomedical MedNLI correct of 500, base correct of 500): three decline, one gains
GAPS = [(300, 350), (320, 340), (330, 325), (280, 330)]


@pytest.fixture(scope="module")
def pair_runs(tmp_path_factory) -> tuple[Path, list[Path]]:
    root = tmp_path_factory.mktemp("pooled")
    runs = []
    for i, (bio, base) in enumerate(GAPS):
        runs.append(write_run(root / f"bio{i}", f"bio{i}", level1_tasks(bio)))
        runs.append(write_run(root / f"base{i}", f"base{i}", level1_tasks(base)))
    (root / "pairs.toml").write_text("".join(f'[[pair]]\nbiomedical = "bio{i}"\nbase = "base{i}"\n\n'
                                             for i in range(len(GAPS))))
    return root, runs


@pytest.fixture(scope="module")
def pooled_report(pair_runs, tmp_path_factory):
    root, runs = pair_runs
    out = tmp_path_factory.mktemp("pooled-report")
    report = build_report(runs, ReportOptions(out=out, pairs=root / "pairs.toml", n_resamples=1000))
    return out, report


def test_two_one_item_runs_give_no_interval_and_no_significant(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder, seed in ((a, "42"), (b, "7")):
        made = clue("run", "--limit", "1", "--seed", seed, "-o", folder)
        assert made.returncode == 0, made.stderr
    shown = clue("compare", a, b, "--resamples", "1000", "--out", tmp_path / "cmp.json")
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert "significant" not in text.replace("not significant", "")
    assert "not significant" not in text  # no test was made, so not even that
    assert "(95% CI" not in text and not re.search(r"\[[+-]\d", text)  # the header names the column; no row fills it
    assert "too few items (n=1) for a verdict" in text and "too few patients (n=1)" in text
    assert "a paired bootstrap has too few distinct resamples" in text
    cmp = json.loads((tmp_path / "cmp.json").read_text())
    for part in (*cmp["tasks"].values(), *(lv for lv in cmp["levels"].values() if lv.get("available"))):
        if part.get("delta") is None:
            continue
        assert part["ci"] is None and part["p_value"] is None and part["significant"] is False
        assert part["withheld"].startswith("too few")
    assert cmp["honesty"] == {"min_items": 10, "min_clusters": 5, "exact_max": 20, "p_floor": pytest.approx(2 / 1001)}


def test_clue_run_shows_no_interval_below_ten_items(tmp_path):
    shown = clue("run", "--limit", "1", "-o", tmp_path / "r")
    assert shown.returncode == 0, shown.stderr
    assert "[too few]" in shown.stdout and "[zero width]" in shown.stdout
    assert not re.search(r"\[\d+\.\d, \d+\.\d\]", shown.stdout)
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    assert results["tasks"]["meqsum"]["ci"] is not None  # results.json keeps the interval as computed


def test_pairs_json_has_a_pooled_section_per_task_level_and_kind(pooled_report):
    out, report = pooled_report
    pooled = json.loads((out / "pairs.json").read_text())["pooled"]
    runs = pooled["runs"]
    assert runs["n_pairs"] == 4 and "DerSimonian-Laird" in pooled["estimator"]
    assert set(runs["tasks"]) == {"mednli", "meqsum", "problem_summary"} and "level1" in runs["levels"]
    mednli = runs["tasks"]["mednli"]
    assert (mednli["k_declining"], mednli["n"], mednli["ties"]) == (3, 4, 0)
    assert mednli["sign_test_p"] == pytest.approx(sign_test_p(3, 4)) == pytest.approx(0.625)
    p = mednli["pooled"]
    for key in ("estimate", "ci", "tau2", "i2", "prediction_interval"):
        assert p[key] is not None, key
    # the pooled numbers are those of the pairs' own differences and standard errors
    again = pool([x["delta"] for x in mednli["pairs"]], [x["se"] for x in mednli["pairs"]])
    assert p["estimate"] == pytest.approx(again["estimate"]) and p["tau2"] == pytest.approx(again["tau2"])
    deltas = sorted(x["delta"] for x in mednli["pairs"])
    assert deltas == pytest.approx(sorted(100 * (b - a) / 500 for b, a in GAPS))
    assert p["ci"][0] < p["estimate"] < p["ci"][1]
    assert p["prediction_interval"][0] <= p["ci"][0] and p["prediction_interval"][1] >= p["ci"][1]
    # identical summaries in every pair: four ties, no standard error, nothing pooled, and said so
    meqsum = runs["tasks"]["meqsum"]
    assert meqsum["ties"] == 4 and meqsum["pooled"] is None and meqsum["sign_test_p"] is None
    assert "pooling needs at least 2" in meqsum["pooled_reason"]
    # by task kind: MedNLI is classification, the summaries free text
    assert runs["kinds"]["classification"]["tasks"] == ["mednli"]
    assert runs["kinds"]["free text"]["tasks"] == ["meqsum", "problem_summary"]
    assert runs["kinds"]["classification"]["pooled"]["estimate"] == pytest.approx(p["estimate"])
    assert runs["tasks"]["mednli"]["kind"] == "classification"


def test_the_verdict_paragraph_quotes_pairs_json(pooled_report):
    out, report = pooled_report
    pooled = json.loads((out / "pairs.json").read_text())["pooled"]
    text = pooled["verdict"]
    lv = pooled["runs"]["levels"]["level1"]
    assert f"in {lv['k_declining']} of {lv['n']} pairs" in text
    assert f"p={lv['sign_test_p']:.3f}" in text
    est = f"{lv['pooled']['estimate']:+.1f}".replace("-", "\u2212")
    assert f"pooled difference {est} points" in text
    assert f"I\u00b2 {100 * lv['pooled']['i2']:.0f}%" in text
    assert "By task kind: classification (mednli): 3 of 4 decline" in text
    assert f"Of the {pooled['task_tests']['n']} per-pair task tests, {pooled['task_tests']['significant_holm']}" in text
    assert md_text(text) in (out / "pairs.md").read_text()


def test_a_forest_plot_and_the_pooled_section_on_the_page(pooled_report):
    pytest.importorskip("matplotlib")
    pytest.importorskip("jinja2")
    out, report = pooled_report
    assert (out / "figures" / "forest.svg").is_file() and (out / "figures" / "forest.png").is_file()
    page = (out / "report.html").read_text()
    assert 'id="pooled"' in page and "Pooled across pairs" in page and "prediction interval" in page
    assert "p Holm" in page and "p BH" in page


def test_pairs_rows_carry_holm_and_bh(pooled_report):
    out, _ = pooled_report
    rows = json.loads((out / "pairs.json").read_text())["rows"]
    tested = [r for r in rows if r["kind"] == "task" and r["p_value"] is not None]
    assert tested and all(r["n_tests"] == len(tested) for r in tested)
    assert all(r["p_holm"] >= r["p_bh"] - 1e-12 and r["p_holm"] >= r["p_value"] - 1e-12 for r in tested)


def test_published_rows_give_the_sign_test_and_the_split_by_kind(tmp_path):
    shown = clue("report", "--published", "--pairs", "clue", "-o", tmp_path / "rep")
    assert shown.returncode == 0, shown.stderr
    pooled = json.loads((tmp_path / "rep" / "pairs.json").read_text())["pooled"]
    pub = pooled["published"]
    assert pub["n_pairs"] == 12 and pooled["runs"] is None
    lv1 = pub["levels"]["level1"]
    assert lv1["n"] == 12 and lv1["sign_test_p"] == pytest.approx(sign_test_p(lv1["k_declining"], 12))
    assert f"{lv1['k_declining']} of 12 pairs" in shown.stdout
    assert set(pub["kinds"]) == {"classification", "free text", "coding", "multiple choice"}
    assert "By task kind: classification (mednli)" in shown.stdout and "multiple choice (longhealth)" in shown.stdout
    assert "no per-pair intervals" in pub["note"] and all("pooled" not in b for b in pub["tasks"].values())
    # the same as a path, and by name
    by_name = clue("report", "--published", "clue-2024-06", "--pairs", "clue", "-o", tmp_path / "rep2")
    assert by_name.returncode == 0 and json.loads((tmp_path / "rep2" / "pairs.json").read_text())["pooled"] == pooled


def test_the_pair_item_browser_shows_the_prompt_as_sent_both_outputs_and_the_labels(tmp_path):
    for folder, seed in (("base", "42"), ("bio", "7")):
        made = clue("run", "--tasks", "meqsum,mednli", "--seed", seed, "-o", tmp_path / folder)
        assert made.returncode == 0, made.stderr
    (tmp_path / "p.toml").write_text('[[pair]]\nbiomedical = "bio"\nbase = "base"\n')
    from clue.core.results import PredictionRow
    from clue.report.items import PAIR_ITEM_FIELDS, label, pair_items
    from clue.report.leaderboard import load_run
    from clue.report.pairs import compare_pairs, load_pairs

    entries = [load_run(tmp_path / "base"), load_run(tmp_path / "bio")]
    results = compare_pairs(load_pairs(tmp_path / "p.toml"), entries, n_resamples=200)
    # public tasks only (MeQSum); MedNLI is credentialed and not allowed here
    shown = pair_items(results, {"base": ["meqsum"], "bio": ["meqsum"]})
    rows = shown["bio vs base"]["meqsum"]
    assert list(shown["bio vs base"]) == ["meqsum"] and len(rows) == results[0].comparison.tasks["meqsum"]["n_paired"]
    F = {name: i for i, name in enumerate(PAIR_ITEM_FIELDS)}
    first = rows[0]
    assert first[F["prompt_note"]] == "as sent (hash checked)"
    assert [m["role"] for m in first[F["prompt"]]][-1] == "user"
    assert first[F["output_base"]] is not None and first[F["gold"]] is not None
    # the labels of a right/wrong metric, both ways
    right, wrong = PredictionRow(id="x", metrics={"accuracy": 1.0}), PredictionRow(id="x", metrics={"accuracy": 0.0})
    assert label(wrong, right, ["accuracy"], -100.0) == "bio wrong, base right"
    assert label(right, wrong, ["accuracy"], 100.0) == "bio right, base wrong"
    assert label(right, right, [], 0.0) == "same" and label(wrong, right, [], -3.0) == "bio lower"


def test_hand_made_runs_say_why_there_is_no_prompt(pair_runs, tmp_path):
    root, runs = pair_runs
    report = build_report(runs[:2], ReportOptions(out=tmp_path, pairs=root / "pairs.toml", n_resamples=200,
                                                   show_items=True, allow_credentialed_items=True))
    page = (tmp_path / "report.html").read_text()
    assert 'id="pair-items"' in page and "bio wrong, base right" in page
    assert "the run has no store" in page
    assert report.pooled is not None

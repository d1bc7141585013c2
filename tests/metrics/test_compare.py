"""Paired comparison of two run directories, on constructed runs with known answers."""

from __future__ import annotations

import json

import pytest

from clue.report.compare import compare_runs as compare
from tests.metrics.metric_runs import full_run, rows, write_run


def compare_runs(*args, **kwargs) -> dict:
    """The comparison as ``clue compare --out`` writes it."""
    return compare(*args, **kwargs).to_json()


def test_identical_runs_differ_by_zero_with_p_one(tmp_path):
    data = full_run(5)
    a = write_run(tmp_path / "a", "model-a", data)
    b = write_run(tmp_path / "b", "model-b", data)
    out = compare_runs(a, b, seed=1, n_resamples=2000)
    for task, t in out["tasks"].items():
        assert t["delta"] == pytest.approx(0.0, abs=1e-12), task
        assert t["ci"] == pytest.approx([0.0, 0.0], abs=1e-9)
        assert t["p_value"] == 1.0
        assert not t["significant"]
        for _name, m in t["mcnemar"].items():
            assert m["p_value"] == 1.0 and m["only_a_correct"] == m["only_b_correct"] == 0
    for level in ("level1", "level2", "overall"):
        lv = out["levels"][level]
        assert lv["delta"] == pytest.approx(0.0, abs=1e-12) and lv["p_value"] == 1.0
    assert "within 0.1 points" in out["tasks"]["mednli"]["verdict"]
    assert out["tasks"]["mednli"]["verdict"].endswith("not significant.")
    assert out["tasks"]["longhealth"]["unit"] == "patient" and out["tasks"]["longhealth"]["n_units"] == 20


def gap_rows(correct_every: int) -> list[dict]:
    # item i is right when i % 10 < correct_every: exactly correct_every * 10 % of 500 items
    return rows("mednli", [{"accuracy": float(i % 10 < correct_every)} for i in range(500)])


def test_a_ten_point_gap_on_500_items_is_significant(tmp_path):
    a = write_run(tmp_path / "a", "base", {"mednli": gap_rows(8)})
    b = write_run(tmp_path / "b", "tuned", {"mednli": gap_rows(7)})
    t = compare_runs(a, b, seed=3, n_resamples=5000)["tasks"]["mednli"]
    assert t["score_a"] == pytest.approx(80.0) and t["score_b"] == pytest.approx(70.0)
    assert t["delta"] == pytest.approx(-10.0)
    low, high = t["ci"]
    assert low < -10.0 < high < 0.0
    assert t["p_value"] < 0.001 and t["significant"]
    # 50 items only A gets right, none only B: McNemar p = 2 / 2**50
    m = t["mcnemar"]["accuracy"]
    assert (m["only_a_correct"], m["only_b_correct"], m["both_correct"], m["both_wrong"]) == (50, 0, 350, 100)
    assert m["p_value"] == pytest.approx(2 / 2**50)
    assert t["verdict"].startswith("tuned scores 10.0 points below base on MedNLI (95% CI \u2212")
    assert t["verdict"].endswith("p <= 2/5001, paired bootstrap): significant.")  # the floor 2/(R+1), not "p<0.001"


def test_items_in_only_one_run_are_reported_not_dropped(tmp_path):
    base = rows("mednli", [{"accuracy": 1.0}] * 10)
    more = base + rows("mednli", [{"accuracy": 0.0}] * 13)[10:]  # ids mednli/10..12 only in B
    failed = [dict(r) for r in base]
    failed[4] = {**failed[4], "metrics": None, "error": "timeout"}
    a = write_run(tmp_path / "a", "a", {"mednli": failed})
    b = write_run(tmp_path / "b", "b", {"mednli": more})
    out = compare_runs(a, b, n_resamples=200)
    t = out["tasks"]["mednli"]
    assert t["only_in_b"] == {"count": 3, "ids": ["mednli/10", "mednli/11", "mednli/12"]}
    assert t["only_in_a"]["count"] == 0
    assert t["unscored_in_a"] == {"count": 1, "ids": ["mednli/4"]}
    assert t["n_paired"] == 9
    assert any("not paired" in w for w in out["warnings"])


def test_tasks_in_one_run_only_and_levels_that_cannot_be_compared(tmp_path):
    data = full_run(6)
    a = write_run(tmp_path / "a", "a", data)
    b = write_run(tmp_path / "b", "b", {k: v for k, v in data.items() if k != "longhealth"})
    out = compare_runs(a, b, n_resamples=200)
    assert out["tasks_only_in_a"] == ["longhealth"]
    assert out["levels"]["level1"]["available"] is True
    assert out["levels"]["level2"] == {"tasks": ["medisumqa", "medisumcode", "longhealth"], "available": False,
                                       "reason": "not compared in both runs: longhealth"}


def test_levels_combine_task_differences(tmp_path):
    a_data, b_data = full_run(7), full_run(8, shift=0.05)
    out = compare_runs(write_run(tmp_path / "a", "a", a_data), write_run(tmp_path / "b", "b", b_data), n_resamples=1000)
    level1 = out["levels"]["level1"]
    expected = sum(out["tasks"][t]["delta"] for t in ("mednli", "meqsum", "problem_summary")) / 3
    assert level1["delta"] == pytest.approx(expected)
    assert level1["ci"][0] <= level1["delta"] <= level1["ci"][1]
    assert len(out["verdicts"]) == 6 + 3
    json.dumps(out)  # a plain, serialisable dict


def test_compare_is_seeded(tmp_path):
    a = write_run(tmp_path / "a", "a", full_run(9))
    b = write_run(tmp_path / "b", "b", full_run(10))
    assert compare_runs(a, b, seed=5, n_resamples=300) == compare_runs(a, b, seed=5, n_resamples=300)


def test_a_missing_run_directory_names_the_file(tmp_path):
    from clue.core.errors import DataError

    with pytest.raises(DataError, match="results.json"):
        compare_runs(tmp_path / "nope", tmp_path / "nope2")

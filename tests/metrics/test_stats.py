"""Bootstrap and McNemar on cases with known answers."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest

from clue.core.results import PredictionRow
from clue.stats.bootstrap import (
    contingency,
    draw_units,
    generator,
    mcnemar_exact,
    paired_p_value,
    percentile_ci,
    resampled_means,
    task_scores,
    unit_table,
)


def test_mcnemar_matches_a_hand_computed_table():
    # 10 pairs only A got right, 3 only B: p = 2 * P(X <= 3), X ~ Bin(13, 1/2)
    expected = 2 * (1 + 13 + 78 + 286) / 2**13
    assert mcnemar_exact(10, 3) == pytest.approx(expected, rel=1e-12)
    assert mcnemar_exact(3, 10) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.0922851562, abs=1e-9)


def test_mcnemar_edge_cases():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 5) == 1.0  # balanced discordance: no evidence either way
    assert mcnemar_exact(0, 1) == 1.0
    # thousands of discordant pairs stay exact (no float overflow)
    p = mcnemar_exact(3000, 2800)
    assert 0 < p < 0.01
    assert mcnemar_exact(60, 0) == pytest.approx(2 * comb(60, 0) / 2**60)


def test_contingency_counts_each_cell():
    a = [True, True, False, False, True]
    b = [True, False, True, False, False]
    assert contingency(a, b) == {"both_correct": 1, "only_a_correct": 2, "only_b_correct": 1, "both_wrong": 1}


def test_bootstrap_of_a_constant_is_degenerate():
    rows = [{"id": str(i), "item_id": str(i), "metrics": {"m": 0.37}} for i in range(50)]
    table = unit_table(((r["item_id"], r["metrics"]) for r in rows), ["m"])
    means = resampled_means(generator(1, "t"), table.sums, table.counts, 2000)
    ci = percentile_ci(100 * means[:, 0])
    assert ci[0] == pytest.approx(37.0, abs=1e-9) and ci[1] == pytest.approx(37.0, abs=1e-9)


def test_each_resample_is_the_mean_of_the_drawn_units():
    values = np.array([0.0, 1.0, 0.5, 0.25, 0.75, 1.0, 0.0])
    rows = [{"id": str(i), "item_id": str(i), "metrics": {"m": v}} for i, v in enumerate(values)]
    table = unit_table(((r["item_id"], r["metrics"]) for r in rows), ["m"])
    means = resampled_means(generator(7, "x"), table.sums, table.counts, 300)[:, 0]
    draws = draw_units(generator(7, "x"), 300, len(values))
    np.testing.assert_allclose(means, values[draws].mean(axis=1), rtol=0, atol=1e-12)


def test_cluster_resampling_keeps_patients_whole():
    # 20 patients x 15 prompts; each patient all right or all wrong. Resampling
    # whole patients can only give multiples of 1/20; resampling prompts would not.
    rows = []
    for p in range(20):
        for q in range(15):
            rows.append({"id": f"lh/{p}/{q}", "item_id": f"p{p}q{q // 5}", "group": f"patient_{p:02d}",
                         "subtask": "task1", "metrics": {"task1": float(p % 3 == 0)}})
    table = unit_table(((row.unit, row.metrics) for row in map(PredictionRow.from_json, rows)), ["task1"])
    assert table.n_units == 20
    assert table.counts.sum() == 300
    means = resampled_means(generator(3, "lh"), table.sums, table.counts, 500)[:, 0]
    np.testing.assert_allclose(means * 20, np.round(means * 20), atol=1e-9)
    # the same rows resampled by item are not so constrained
    items = unit_table(((str(r["item_id"]), r["metrics"]) for r in rows), ["task1"])
    assert items.n_units == 60


def test_unscored_rows_are_left_out_and_missing_metrics_are_nan():
    rows = [
        {"id": "a", "item_id": "a", "metrics": {"x": 1.0}},
        {"id": "b", "item_id": "b", "metrics": None},
        {"id": "c", "item_id": "c", "metrics": {"x": 0.0}},
    ]
    table = unit_table(((r["item_id"], r["metrics"]) for r in rows), ["x", "y"])
    assert table.units == ["a", "c"]
    means = table.means()
    assert means[0] == 0.5 and np.isnan(means[1])
    # a task score ignores a metric with no values rather than becoming NaN
    assert task_scores(np.array([[0.5, np.nan]]))[0] == pytest.approx(50.0)


def test_paired_p_value_conventions():
    assert paired_p_value(np.zeros(1000)) == 1.0
    assert paired_p_value(np.full(999, 2.0)) == pytest.approx(2 / 1000)
    symmetric = np.concatenate([np.full(500, -1.0), np.full(500, 1.0)])
    assert paired_p_value(symmetric) == 1.0


def test_seeded_draws_are_reproducible_and_seed_dependent():
    sums = np.arange(30, dtype=float)[:, None] / 30
    counts = np.ones_like(sums)
    a = resampled_means(generator(42, "k"), sums, counts, 100)
    b = resampled_means(generator(42, "k"), sums, counts, 100)
    c = resampled_means(generator(43, "k"), sums, counts, 100)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)

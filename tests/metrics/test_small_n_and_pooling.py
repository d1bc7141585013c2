"""The statistics behind an honest verdict, each against values computed by hand.

- the exact sign-flip permutation test against a full enumeration written out here;
- the sign test (scipy's binomtest) against the binomial sum;
- Holm and Benjamini-Hochberg (statsmodels' multipletests) on a known list, adjusted by hand;
- the DerSimonian-Laird random-effects pool (statsmodels' combine_effects) on a small table
  of effects and variances, every step of the estimator computed here;
- the n=1 case: no interval, no test, no "significant".
"""

from __future__ import annotations

import itertools
import math
import random

import pytest

from clue.stats.bootstrap import mcnemar_exact
from clue.stats.exact import (
    binomial_two_sided,
    degenerate,
    format_p,
    minimum_units,
    p_floor,
    sign_flip_p,
    sign_test_p,
    too_few,
)
from clue.stats.meta import adjust, pool


def enumerate_sign_flips(d: list[float]) -> float:
    """The definition, as plainly as it can be written: every one of the 2^n sign patterns."""
    observed = abs(sum(d))
    hits = 0
    for signs in itertools.product((1, -1), repeat=len(d)):
        if abs(sum(s * x for s, x in zip(signs, d))) >= observed - 1e-9:
            hits += 1
    return hits / 2 ** len(d)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 12])
def test_sign_flip_p_is_the_full_enumeration(n):
    rng = random.Random(n)
    for _ in range(5):
        d = [round(rng.uniform(-1, 1), 2) for _ in range(n)]
        assert sign_flip_p(d) == pytest.approx(enumerate_sign_flips(d))


def test_sign_flip_p_known_values():
    assert sign_flip_p([0.3]) == 1.0  # n=1: the pattern and its mirror are all there is
    assert sign_flip_p([1.0] * 5) == pytest.approx(2 / 32)  # every unit the same way
    assert sign_flip_p([1.0] * 10) == pytest.approx(2 / 1024)
    assert sign_flip_p([0.0, 0.0, 0.0]) == 1.0  # no difference at all
    assert sign_flip_p([1.0, -1.0]) == 1.0


def test_on_right_wrong_items_the_sign_flip_test_is_mcnemars():
    # 7 items only A right (-1), 2 only B right (+1), 6 concordant (0): the flips of the 9 discordant ones
    d = [-1.0] * 7 + [1.0] * 2 + [0.0] * 6
    assert sign_flip_p(d) == pytest.approx(mcnemar_exact(7, 2))


def test_sign_test_is_the_binomial_sum():
    # 9 of 12 decline: 2 * (C(12,0) + C(12,1) + C(12,2) + C(12,3)) / 2^12 = 2 * 299 / 4096
    assert sign_test_p(9, 12) == pytest.approx(2 * 299 / 4096) == pytest.approx(binomial_two_sided(9, 12))
    assert sign_test_p(11, 12) == pytest.approx(2 * 13 / 4096)
    assert sign_test_p(6, 12) == pytest.approx(1.0)
    assert sign_test_p(1, 1) == 1.0


def test_minimum_n_and_the_reason():
    assert minimum_units("item") == 10 and minimum_units("patient") == 5
    assert too_few(1, "item") == "too few items (n=1) for a verdict; at least 10 are needed"
    assert too_few(4, "patient").startswith("too few patients (n=4)")
    assert too_few(10, "item") is None and too_few(5, "patient") is None


def test_a_p_at_the_resampling_floor_says_so():
    assert p_floor(1000) == pytest.approx(2 / 1001)
    assert format_p(2 / 1001, 1000) == "p <= 2/1001"
    assert format_p(2 / 10001, 10000) == "p <= 2/10001"
    assert format_p(0.0312) == "p=0.031" and format_p(float("nan")) == "p=n/a"
    assert "0.001" not in format_p(2 / 1001, 1000)
    assert degenerate([11.76, 11.76]) and not degenerate([11.7, 11.8])


def test_holm_and_bh_on_a_known_list():
    p = [0.01, 0.04, 0.03, 0.005, None]
    holm, bh = adjust(p)
    # Holm: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04, then running max
    assert holm == pytest.approx([0.03, 0.06, 0.06, 0.02, None])
    # BH: sorted times 4/1, 4/2, 4/3, 4/4 = 0.02, 0.02, 0.04, 0.04, then running min from the top
    assert bh == pytest.approx([0.02, 0.04, 0.04, 0.02, None])
    assert adjust([]) == ([], [])


# A small table of per-pair differences and their variances (points, points^2).
EFFECTS = [1.0, 2.0, -0.5, 3.0]
VARIANCES = [0.5, 0.4, 1.0, 0.8]


def dersimonian_laird_by_hand(y: list[float], v: list[float]) -> dict[str, float]:
    w = [1 / x for x in v]  # 2, 2.5, 1, 1.25
    fixed = sum(wi * yi for wi, yi in zip(w, y)) / sum(w)  # 10.25 / 6.75
    q = sum(wi * (yi - fixed) ** 2 for wi, yi in zip(w, y))
    c = sum(w) - sum(wi * wi for wi in w) / sum(w)  # 6.75 - 12.8125 / 6.75
    df = len(y) - 1
    tau2 = max(0.0, (q - df) / c)
    w_re = [1 / (x + tau2) for x in v]
    mu = sum(wi * yi for wi, yi in zip(w_re, y)) / sum(w_re)
    se = math.sqrt(1 / sum(w_re))
    return {"fixed": fixed, "q": q, "tau2": tau2, "i2": (q - df) / q, "mu": mu, "se": se}


def test_dersimonian_laird_pool_against_the_hand_computation():
    hand = dersimonian_laird_by_hand(EFFECTS, VARIANCES)
    # the hand numbers themselves, written out: Q = 7.9352, C = 4.8519, tau^2 = 4.9352 / 4.8519
    assert hand["fixed"] == pytest.approx(10.25 / 6.75)
    assert hand["q"] == pytest.approx(7.935185, abs=1e-6)
    assert hand["tau2"] == pytest.approx(1.017176, abs=1e-6)
    assert hand["i2"] == pytest.approx(0.621937, abs=1e-6)
    out = pool(EFFECTS, [math.sqrt(x) for x in VARIANCES])
    assert out["k"] == 4
    assert out["fixed"]["estimate"] == pytest.approx(hand["fixed"])
    assert out["q"] == pytest.approx(hand["q"])
    assert out["tau2"] == pytest.approx(hand["tau2"])
    assert out["i2"] == pytest.approx(hand["i2"])
    assert out["estimate"] == pytest.approx(hand["mu"])
    assert out["se"] == pytest.approx(hand["se"])
    z = 1.959963984540054
    assert out["ci"] == pytest.approx([hand["mu"] - z * hand["se"], hand["mu"] + z * hand["se"]])
    # prediction interval, t with k - 2 = 2 degrees of freedom: t(0.975, 2) = 4.302653
    half = 4.302652729749464 * math.sqrt(hand["tau2"] + hand["se"] ** 2)
    assert out["prediction_interval"] == pytest.approx([hand["mu"] - half, hand["mu"] + half])
    assert "DerSimonian-Laird" in out["estimator"]


def test_homogeneous_pairs_have_no_between_pair_variance():
    out = pool([1.0, 1.0, 1.0], [0.5, 0.5, 0.5])
    assert out["tau2"] == 0.0 and out["i2"] == 0.0 and out["estimate"] == pytest.approx(1.0)
    # Q = 0.0267 < df = 2: DerSimonian-Laird truncates tau^2 at 0, the estimate is the fixed-effect mean
    close = pool([1.0, 1.1, 1.0], [0.5, 0.5, 0.5])
    assert close["tau2"] == 0.0 and close["i2"] == 0.0
    assert close["estimate"] == pytest.approx(3.1 / 3) and close["se"] == pytest.approx(math.sqrt(0.25 / 3))
    two = pool([1.0, 2.0], [0.5, 0.5])
    assert two["prediction_interval"] is None  # needs three pairs
    with pytest.raises(ValueError):
        pool([1.0], [0.5])
    with pytest.raises(ValueError):
        pool([1.0, 2.0], [0.5, 0.0])  # a zero-width interval has no weight

"""Pair verdicts with variance in them: differences across prompt variants in clue compare and the report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from clue.models.baseline import BaselineBackend
from clue.pipeline.config import RunSpec
from clue.pipeline.variants import Design, evaluate_variants
from clue.report.compare import compare_runs, variant_words
from clue.stats.bootstrap import unit_table
from clue.stats.variants import paired_variant_samples, resample_variants
from tests.helpers.scripted_backends import Spoiled, WordingSensitive, mednli_gold

ALL = ["mednli", "meqsum", "problem_summary", "medisumqa", "medisumcode", "longhealth"]


def run(tmp_path: Path, name: str, backend, tasks, design: Design, model: str | None = None, **kw) -> Path:
    out = tmp_path / name
    cfg = RunSpec(model=model or name, tasks=tasks, output=out, bootstrap_resamples=20, **kw)
    evaluate_variants(cfg, design, backend)
    if model:  # name the run's model, so labels read as the test means them
        results = json.loads((out / "results.json").read_text())
        results["model"] = model
        (out / "results.json").write_text(json.dumps(results))
    return out


@pytest.fixture(scope="module")
def wording_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wording")
    base = run(tmp, "base", BaselineBackend(), ["mednli"], Design(prompts=4), model="base")
    picky = run(tmp, "picky", WordingSensitive(mednli_gold()), ["mednli"], Design(prompts=4), model="picky")
    never = run(tmp, "never", WordingSensitive(mednli_gold(), marker="no wording says this"), ["mednli"],
                Design(prompts=4), model="never")
    return base, picky, never


def test_a_model_right_under_one_wording_depends_on_wording(wording_runs):
    base, picky, _ = wording_runs
    result = compare_runs(base, picky, n_resamples=2000)
    v = result.tasks["mednli"]["variants"]
    assert v["n_variants"] == 4 and v["varies"] == ["prompts"]
    assert v["pattern"] == "mixed" and v["words"] == "depends on wording"
    assert v["per_variant"]["p2-s0-o0"] > 0 > v["per_variant"]["p0-s0-o0"]
    assert v["sign_share"] == pytest.approx(0.75)
    assert v["delta"] == pytest.approx(np.mean(list(v["per_variant"].values())))
    # the protocol's prompt alone: 33 points worse, its bootstrap interval excludes 0, but with 15 items the
    # exact sign-flip test decides: 5 discordant items all one way, p = 2/2^5 = McNemar's p, not significant
    plain = result.tasks["mednli"]
    assert plain["ci"][1] < 0 and plain["test"].startswith("exact sign-flip")
    assert plain["p_value"] == pytest.approx(0.0625) == plain["mcnemar"]["accuracy"]["p_value"]
    assert not plain["significant"] and not v["significant"]
    assert v["ci"][0] < 0 < v["ci"][1]
    assert any("depends on wording" in line for line in result.variant_verdicts)


def test_a_model_worse_under_every_wording_is_below_in_every_wording(wording_runs):
    base, _, never = wording_runs
    v = compare_runs(base, never, n_resamples=2000).tasks["mednli"]["variants"]
    assert v["pattern"] == "below" and v["sign_share"] == 1.0
    assert v["words"] == "below base in every wording"
    assert variant_words("below", ["prompts"], "its base") == "below its base in every wording"
    assert variant_words("mixed", ["order"], "its base") == "depends on answer order"
    assert variant_words("mixed", ["prompts", "order"], "its base") == "depends on the variant"


def test_with_one_variant_the_variant_interval_is_the_plain_one(tmp_path):
    a = run(tmp_path, "a", BaselineBackend(), ALL, Design(), limit=12)
    b = run(tmp_path, "b", Spoiled(), ALL, Design(), limit=12)
    result = compare_runs(a, b, n_resamples=500)
    assert result.variant_names == ["p0-s0-o0"]
    compared = 0
    for name, t in [*result.tasks.items(), *result.levels.items()]:
        if t.get("withheld"):  # too few units for a verdict: no variant verdict either
            assert "variants" not in t, name
            continue
        v = t["variants"]
        compared += 1
        assert v["n_variants"] == 1
        assert v["ci"] == t["ci"], name
        if t["test"] == "paired bootstrap":  # up to 20 units the plain p is the exact sign-flip one
            assert v["p_value"] == t["p_value"], name
        assert v["delta"] == pytest.approx(t["delta"]), name
    assert compared and any(t["delta"] < 0 for t in result.tasks.values())


def test_variant_samples_of_one_variant_are_the_plain_paired_samples():
    rows_a = [{"id": str(i), "item_id": str(i), "metrics": {"m": float(i % 2)}} for i in range(30)]
    rows_b = [{"id": str(i), "item_id": str(i), "metrics": {"m": float(i % 3 == 0)}} for i in range(30)]
    ta = unit_table(((r["id"], r["metrics"]) for r in rows_a), ["m"])
    tb = unit_table(((r["id"], r["metrics"]) for r in rows_b), ["m"])
    one = paired_variant_samples([ta], [tb], 3, "t", 400)
    assert one.shape == (400, 1)
    assert np.array_equal(resample_variants(one, 3, "t"), one[:, 0])
    two = paired_variant_samples([ta, ta], [tb, tb], 3, "t", 400)
    assert np.array_equal(two[:, 0], one[:, 0]) and np.array_equal(two[:, 1], one[:, 0])


def test_the_report_shows_variant_verdicts_and_the_variants_figure(wording_runs, tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("jinja2")
    from clue.report.html import ReportOptions, build_report

    base, picky, _ = wording_runs
    pairs = tmp_path / "pairs.toml"
    pairs.write_text('[[pair]]\nbiomedical = "picky"\nbase = "base"\n')
    out = tmp_path / "report"
    build_report([base, picky], ReportOptions(out=out, pairs=pairs, n_resamples=500))
    markdown = (out / "pairs.md").read_text()
    assert "across variants" in markdown and "depends on wording" in markdown
    rows = json.loads((out / "pairs.json").read_text())["rows"]
    mednli = next(r for r in rows if r["what"] == "mednli")
    assert mednli["n_variants"] == 4 and mednli["variant_verdict"] == "depends on wording"
    assert (out / "figures" / "variants.svg").is_file() and (out / "figures" / "variants.png").is_file()
    html = (out / "report.html").read_text()
    assert "<th>across variants</th>" in html and "depends on wording" in html
    assert 'id="figure-variants"' in html

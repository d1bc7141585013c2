"""Variant runs: the design, one request per distinct prompt, resume, and the spread and flip rate in results.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clue.core.errors import UsageError
from clue.core.records import Completion
from clue.core.results import PredictionRow, read_results
from clue.models.baseline import BaselineBackend
from clue.pipeline.config import RunSpec
from clue.pipeline.variants import Design, evaluate_variants, parse_design, through_store
from clue.stats.variants import flip_rate, sign_pattern, spread
from tests.helpers.scripted_backends import WordingSensitive, mednli_gold


def config(tmp_path: Path, tasks: list[str], **kw) -> RunSpec:
    return RunSpec(model="x", tasks=tasks, output=tmp_path / "run", bootstrap_resamples=50, **kw)


def test_parse_design_axes_and_kinds():
    d = parse_design("prompts=4,shots=3,order=5")
    assert (d.prompts, d.shots, d.order, d.kind) == (4, 3, 5, "crossed")
    assert len(d.variants(1)) == 60 and d.variants(1)[0].is_default
    s = parse_design("order=5, prompts=4", "sampled:6")
    chosen = s.variants(7)
    assert len(chosen) == 6 and chosen[0].is_default and len({v.name for v in chosen}) == 6
    assert chosen == s.variants(7)
    assert [v.name for v in chosen] != [v.name for v in s.variants(8)]
    for bad, design in (("prompts=0", "crossed"), ("words=2", "crossed"), ("prompts=2", "latin"),
                        ("prompts=2,prompts=3", "crossed"), ("prompts=two", "crossed"), ("prompts=2", "sampled:x"), ("", "crossed")):
        with pytest.raises(UsageError):
            parse_design(bad, design)


def test_a_model_correct_under_one_wording_flips_and_spreads(tmp_path):
    backend = WordingSensitive(mednli_gold())
    results = evaluate_variants(config(tmp_path, ["mednli"]), Design(prompts=4), backend)
    block = results.variants["tasks"]["mednli"]
    assert block["scores"] == {"p0-s0-o0": 0.0, "p1-s0-o0": 0.0, "p2-s0-o0": 100.0, "p3-s0-o0": 0.0}
    assert block["flip"]["flip_rate"] == 100.0 and block["flip"]["rows_compared"] == 15
    assert block["sd"] == pytest.approx(50.0) and (block["min"], block["max"], block["mean"]) == (0.0, 100.0, 25.0)
    assert block["varies"] == ["prompts"]
    # the top level is the protocol's own prompt; each variant is a complete run of its own
    assert results.tasks["mednli"].score == 0.0
    run = tmp_path / "run"
    own = json.loads((run / "variants" / "p2-s0-o0" / "results.json").read_text())
    assert own["tasks"]["mednli"]["score"] == 100.0
    manifest = json.loads((run / "variants" / "p2-s0-o0" / "manifest.json").read_text())
    assert manifest["variant"]["wording"] == 2
    assert "variants/w2/mednli.system" in manifest["templates"]
    rows = [json.loads(line) for line in (run / "variants" / "p2-s0-o0" / "predictions" / "mednli.jsonl").open()]
    assert all(r["id"].endswith("@p2-s0-o0") for r in rows)
    assert json.loads((run / "results.json").read_text())["variants"]["names"][0] == "p0-s0-o0"


def test_a_model_indifferent_to_wording_has_no_spread(tmp_path):
    backend = BaselineBackend("baseline", {})
    tasks = ["mednli", "meqsum", "problem_summary", "medisumqa", "medisumcode", "longhealth"]
    results = evaluate_variants(config(tmp_path, tasks, limit=3), Design(prompts=5), backend)
    for name, block in results.variants["tasks"].items():
        assert block["n_variants"] == 5, name
        assert block["sd"] == 0.0 and block["min"] == block["max"], name
        if block["flip"]["flip_rate"] is not None:
            assert block["flip"]["flip_rate"] == 0.0
    for level in ("level1", "level2", "overall"):
        assert results.variants["levels"][level]["sd"] == 0.0


def test_identical_prompts_are_sent_once_and_axes_a_task_lacks_add_nothing(tmp_path):
    backend = WordingSensitive(mednli_gold())
    # MedNLI has 6 label orders; 8 orders wrap round to them: 6 distinct prompts per item.
    results = evaluate_variants(config(tmp_path, ["mednli"], limit=4), Design(order=8), backend)
    assert len(backend.asked) == 4 * 6
    block = results.variants
    assert block["requests"] == {"requests": 24, "distinct": 24, "stored": 0, "to_send": 24}
    assert block["tasks"]["mednli"]["n_variants"] == 6
    assert block["tasks"]["mednli"]["variant_of"]["p0-s0-o7"] == "p0-s0-o1"
    assert sorted(p.name for p in (tmp_path / "run" / "variants").iterdir()) == [f"p0-s0-o{k}" for k in range(8)]


def test_a_killed_variant_run_resumes_from_the_store(tmp_path):
    store = tmp_path / "run" / "store.sqlite"
    cfg = config(tmp_path, ["mednli"], limit=5)
    design = Design(prompts=3, shots=2)
    first = WordingSensitive(mednli_gold(), stop_after=7)
    with pytest.raises(KeyboardInterrupt):
        evaluate_variants(cfg, design, first, generate=through_store(store), store_path=store)
    plans = []
    second = WordingSensitive(mednli_gold())
    results = evaluate_variants(cfg, design, second, generate=through_store(store), store_path=store,
                                on_plan=plans.append)
    assert plans[0]["requests"] == 30 and plans[0]["stored"] == 7 and plans[0]["to_send"] == 23
    assert len(second.asked) == 23 and not set(first.asked) & set(second.asked)
    third = WordingSensitive(mednli_gold())
    again = evaluate_variants(cfg, design, third, generate=through_store(store), store_path=store)
    assert third.asked == []
    assert again.variants["tasks"] == results.variants["tasks"]


def test_more_wordings_than_a_task_has_is_refused(tmp_path):
    with pytest.raises(UsageError, match="prompts=9 asks for more"):
        evaluate_variants(config(tmp_path, ["meqsum"]), Design(prompts=9), BaselineBackend("baseline", {}))


def test_spread_flip_and_sign_helpers():
    assert spread([50.0]) == {"n_variants": 1, "mean": 50.0, "sd": 0.0, "min": 50.0, "max": 50.0}
    def row(key: str, metrics: dict | None) -> PredictionRow:
        return PredictionRow(id=key, metrics=metrics)

    rows = [{"a": row("a", {"accuracy": 1.0}), "b": row("b", {"accuracy": 0.0}), "c": row("c", None)},
            {"a": row("a", {"accuracy": 0.0}), "b": row("b", {"accuracy": 0.0}), "c": row("c", {"accuracy": 1.0})}]
    assert flip_rate(rows, ["accuracy"]) == {"flip_rate": 50.0, "rows_compared": 2, "rows_flipped": 1}
    assert flip_rate(rows, [])["flip_rate"] is None
    assert sign_pattern([-2.0, -1.0]) == {"pattern": "below", "sign_share": 1.0}
    assert sign_pattern([-2.0, 1.0, -3.0])["pattern"] == "mixed"
    assert sign_pattern([-2.0, 1.0, -3.0])["sign_share"] == pytest.approx(2 / 3)
    assert sign_pattern([0.0, 0.01])["pattern"] == "equal"


def test_cli_variants_prints_the_request_count_first_and_writes_the_block(tmp_path):
    from tests.helpers.cli import clue

    out = tmp_path / "cli"
    proc = clue("run", "--tasks", "mednli,longhealth", "--limit", "2", "--variants",
                "prompts=2,order=3", "--variant-design", "sampled:4", "--bootstrap", "20", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout + proc.stderr
    assert "4 variant(s), sampled design: " in text and "sending" in text
    assert text.index("sending") < text.index("Across 4 variants")
    results = read_results(out / "results.json")
    assert results.variants["design"] == {"kind": "sampled", "sample": 4, "axes": {"prompts": 2, "shots": 1, "order": 3}}
    assert len(list((out / "variants").iterdir())) == 4
    assert results.tasks["longhealth"].n == 2 * 15
    # clue score RUN_DIR re-scores every variant from the store, sending nothing
    again = clue("score", str(out))
    assert again.returncode == 0, again.stderr
    rescored = read_results(out / "results.json")
    assert rescored.variants["tasks"] == results.variants["tasks"]
    assert rescored.variants["levels"] == results.variants["levels"]


def test_failed_requests_of_any_variant_are_counted_never_scored(tmp_path):
    class FailsOneWording(WordingSensitive):
        def generate(self, requests):
            for completion in super().generate(requests):
                if completion.request_id.endswith("@p1-s0-o0"):
                    yield Completion(completion.request_id, None, error="server said no")
                else:
                    yield completion

    results = evaluate_variants(config(tmp_path, ["mednli"], limit=3), Design(prompts=2), FailsOneWording(mednli_gold()))
    block = results.variants["tasks"]["mednli"]
    assert block["failed_requests"] == 3
    assert block["scores"]["p1-s0-o0"] is None and block["n_variants"] == 1
    assert block["flip"]["rows_compared"] == 0

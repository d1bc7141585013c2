"""Cost and speed per run: token counts, GPU-seconds, prices, in results.json and the manifest."""

from __future__ import annotations

import json

import pytest

from clue.core.errors import UsageError
from clue.core.records import Case, Completion, Decoding, Message, Reference, Request
from clue.core.tokens import ApproxTokenizer
from clue.pipeline.config import RunSpec
from clue.pipeline.cost import cost_parts, gpus_for, parse_price
from clue.pipeline.run import rerun_config, run_model


def case(i: int, text: str = "x" * 40) -> Case:
    request = Request(f"t/{i}", [Message("system", "s" * 8), Message("user", text)], Decoding(max_new_tokens=8))
    return Case(request, Reference(f"t/{i}", "t", str(i), "gold"))


def test_prices_are_read_from_text_or_mappings_and_checked():
    assert parse_price("gpu_hour=2.5") == {"currency": "USD", "gpu_hour": 2.5}
    assert parse_price("mtok=0.6,currency=EUR") == {"completion_mtok": 0.6, "currency": "EUR", "prompt_mtok": 0.6}
    assert parse_price({"prompt_mtok": 0.5, "completion_mtok": 1.5}) == {
        "completion_mtok": 1.5, "currency": "USD", "prompt_mtok": 0.5}
    assert parse_price(None) is None
    for bad, message in [("gpu_hours=2", "unknown price key"), ("gpu_hour=-1", "at least 0"),
                         ("gpu_hour=two", "must be a number"), ("2.5", "KEY=VALUE"), ("currency=EUR", "at least one")]:
        with pytest.raises(UsageError, match=message):
            parse_price(bad)


@pytest.mark.parametrize("spec, options, info, gpus", [
    ("vllm:/m", {"tensor_parallel_size": 4, "pipeline_parallel_size": 2}, None, 8),
    ("vllm:/m", {}, None, 1),
    ("hf:/m", {"device": "cpu"}, None, 0),
    ("hf:/m", {}, {"device": "cpu"}, 0),
    ("hf:/m", {"device": "cuda:1"}, None, 1),
    ("llamacpp:/m.gguf", {}, None, 0),
    ("llamacpp:/m.gguf", {"n_gpu_layers": -1}, None, 1),
    ("baseline", {}, None, 0),
    ("openai:m", {"base_url": "http://127.0.0.1:1/v1"}, None, 0),
])
def test_gpus_held_come_from_the_spec(spec, options, info, gpus):
    assert gpus_for(spec, options, info) == gpus


def test_bad_parallel_sizes_are_refused():
    with pytest.raises(UsageError, match="tensor_parallel_size"):
        gpus_for("vllm:/m", {"tensor_parallel_size": 0})


def test_engine_counts_win_and_the_tokenizer_counts_the_rest():
    cases = [case(0), case(1), case(2)]
    completions = {
        "t/0": Completion("t/0", "yes", meta={"prompt_tokens": 100, "completion_tokens": 3}),
        "t/1": Completion("t/1", "a" * 20),  # no engine counts: 48 chars of prompt -> 12, 20 chars -> 5
        "t/2": Completion("t/2", None, error="timeout"),  # failed: not counted
    }
    stable, full = cost_parts(cases, completions, ApproxTokenizer(), gpus=2,
                              price=parse_price("gpu_hour=3.6,prompt_mtok=1,completion_mtok=2"), generation_s=10.0)
    assert (stable["prompt_tokens"], stable["completion_tokens"], stable["requests"]) == (112, 8, 2)
    assert stable["counted_by"] == {"engine": 1, "tokenizer": 1, "tokenizer_name": "approx-chars4"}
    assert stable["token_cost"] == pytest.approx((112 * 1 + 8 * 2) / 1e6)
    assert "generation_s" not in stable  # what was measured stays out of results.json
    assert full["generation_s"] == 10.0 and full["tokens_per_s"] == 0.8
    assert full["gpu_seconds"] == 20.0 and full["gpu_cost"] == pytest.approx(20 / 3600 * 3.6)
    assert full["total_cost"] == pytest.approx(full["gpu_cost"] + stable["token_cost"], abs=1e-6)


def test_a_resumed_run_extrapolates_and_a_stored_one_keeps_what_was_measured():
    cases = [case(i) for i in range(4)]
    meta = {"prompt_tokens": 10, "completion_tokens": 5}
    half = {f"t/{i}": Completion(f"t/{i}", "ok", meta={**meta, **({"stored": True} if i < 2 else {})}) for i in range(4)}
    _, resumed = cost_parts(cases, half, ApproxTokenizer(), gpus=1, price=None, generation_s=3.0)
    assert resumed["extrapolated"] is True and resumed["generation_s"] == 6.0 and resumed["tokens_per_s"] == pytest.approx(10 / 3, abs=1e-3)
    assert resumed["fresh_requests"] == 2 and resumed["gpu_seconds"] == 6.0 and resumed["total_cost"] is None
    stored = {k: Completion(k, "ok", meta={**meta, "stored": True}) for k in half}
    _, again = cost_parts(cases, stored, ApproxTokenizer(), gpus=1, price=None, generation_s=0.01, previous=resumed)
    assert again["generation_s"] == 6.0 and again["carried_over"] is True
    _, unknown = cost_parts(cases, stored, ApproxTokenizer(), gpus=1, price=None, generation_s=0.01)
    assert unknown["generation_s"] is None and unknown["gpu_seconds"] is None


def test_a_run_writes_its_cost_and_a_rescore_keeps_it(tmp_path):
    out = tmp_path / "run"
    config = RunSpec(model="baseline", tasks=["mednli", "meqsum"], output=out, limit=3, bootstrap_resamples=0,
                       price=parse_price("mtok=1"))
    results = run_model(config)
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk["cost"] == results.cost
    assert results.cost["gpus"] == 0 and results.cost["requests"] == 6
    assert results.cost["token_cost"] == pytest.approx(
        (results.cost["prompt_tokens"] + results.cost["completion_tokens"]) / 1e6, abs=1e-6)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["cost"]["fresh_requests"] == 6 and manifest["cost"]["gpu_seconds"] == 0.0
    again = rerun_config(out)
    assert again.price == config.price and again.gpus == 0
    run_model(config)  # every answer from the store: results unchanged, the measured time carried over
    assert json.loads((out / "results.json").read_text()) == on_disk
    assert json.loads((out / "manifest.json").read_text())["cost"]["generation_s"] == manifest["cost"]["generation_s"]


def test_clue_run_takes_a_price(tmp_path):
    from tests.helpers.cli import clue

    out = tmp_path / "run"
    proc = clue("run", "-t", "mednli", "--limit", "2", "-o", str(out), "--price", "gpu_hour=2,mtok=0.5")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((out / "results.json").read_text())["cost"]["price"] == {
        "completion_mtok": 0.5, "currency": "USD", "gpu_hour": 2.0, "prompt_mtok": 0.5}
    bad = clue("run", "-t", "mednli", "-o", str(out), "--price", "gpu=1")
    assert bad.returncode != 0 and "unknown price key" in bad.stderr


def test_the_report_shows_cost_columns_a_cost_table_and_a_cost_figure(tmp_path):
    import csv

    pytest.importorskip("matplotlib", reason="the report extra (matplotlib) draws the figures")
    from clue.report.figures import cost_axis, cost_figure
    from clue.report.leaderboard import load_run, write_leaderboard

    runs = []
    for name, price in (("cheap", "mtok=0.5"), ("dear", "mtok=5")):
        out = tmp_path / name
        run_model(RunSpec(model="baseline", tasks=["mednli", "meqsum", "problem_summary"], output=out, limit=2,
                            bootstrap_resamples=0, price=parse_price(price)))
        runs.append(load_run(out, with_ci=False))
    files = write_leaderboard(runs, tmp_path / "report")
    with open(files["leaderboard.csv"], newline="") as fh:
        rows = {r["name"]: r for r in csv.DictReader(fh)}
    for run in runs:
        cost = json.loads((run.path / "results.json").read_text())["cost"]
        row = rows[run.name]
        assert int(row["prompt_tokens"]) == cost["prompt_tokens"] and int(row["completion_tokens"]) == cost["completion_tokens"]
        assert float(row["cost"]) == cost["token_cost"] and row["currency"] == "USD" and row["gpus"] == "0"
    assert float(rows["dear"]["cost"]) == pytest.approx(10 * float(rows["cheap"]["cost"]), rel=1e-3)
    table = files["cost.md"].read_text()
    assert "| cheap |" in table and "USD" in table
    board = json.loads(files["leaderboard.json"].read_text())
    assert {r["name"]: r["cost"]["prompt_tokens"] for r in board["rows"]} == {
        r.name: r.cost["prompt_tokens"] for r in runs}
    assert cost_axis(runs) == ("cost", "cost (USD)")  # both runs are priced in one currency
    figure = cost_figure(runs, tmp_path / "figures")
    assert figure is not None and figure["svg"].is_file() and figure["png"].is_file()


def test_no_cost_figure_without_costs(tmp_path):
    pytest.importorskip("matplotlib", reason="the report extra (matplotlib) draws the figures")
    from clue.core.results import RunResults
    from clue.report.figures import cost_axis, cost_figure
    from clue.report.leaderboard import Entry

    bare = Entry("old", "run", RunResults(tasks={}, levels={"level1": 50.0}))
    assert cost_figure([bare], tmp_path) is None
    priced = Entry("new", "run", RunResults(tasks={}, levels={"level1": 50.0},
                                            cost={"prompt_tokens": 10, "completion_tokens": 2, "gpus": 0}))
    assert cost_axis([priced]) == ("tokens", "prompt + completion tokens")


def test_the_html_report_has_a_cost_table(tmp_path):
    pytest.importorskip("jinja2", reason="the report extra (jinja2) writes the HTML page")
    pytest.importorskip("matplotlib", reason="the report extra (matplotlib) draws the figures")
    from clue.report.html import ReportOptions, build_report

    out = tmp_path / "run"
    run_model(RunSpec(model="baseline", tasks=["mednli", "meqsum", "problem_summary"], output=out, limit=2,
                        bootstrap_resamples=0, price=parse_price("mtok=2,currency=EUR")))
    report = build_report([out], ReportOptions(out=tmp_path / "report"))
    assert "figures/cost.svg" in report.files and "cost.md" in report.files
    page = (tmp_path / "report" / "report.html").read_text()
    assert 'id="cost-table"' in page and " EUR</td>" in page

"""LLM judges (issue 19, items 1-5): a scripted judge server on loopback; scores, malformed answers, refusals, the store, egress."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clue.pipeline.judge import combine, jury_from, parse_answer
from tests.helpers.cli import clue
from tests.helpers.judgeserver import JudgeServer
from tests.helpers.serving import need_serving_packages


@pytest.fixture(autouse=True)
def _openai_client():
    need_serving_packages()


def ok(score: int = 4) -> str:
    return json.dumps({"score": score, "reason": "asks what the consumer asked"})


def by_item(run_dir: Path, task: str = "meqsum") -> dict[str, dict]:
    rows = [json.loads(line) for line in (run_dir / "predictions" / f"{task}.jsonl").read_text().splitlines()]
    return {row["item_id"]: row for row in rows}


def test_parse_answer_is_strict():
    assert parse_answer('{"score": 3, "reason": "fine"}') == (3, "fine")
    assert parse_answer(' {"score": 5, "reason": "ok"}\n') == (5, "ok")
    for bad in ("4", "Score: 4", '{"score": 6, "reason": "x"}', '{"score": 4}', '{"score": 4.5, "reason": "x"}',
                '{"score": true, "reason": "x"}', '{"score": 4, "reason": "x", "extra": 1}', '```json\n{"score": 4, "reason": "x"}\n```',
                '{"score": 4, "reason": "two\\nlines"}', "I cannot help with that.", None):
        assert parse_answer(bad) is None, bad


def test_combine_mean_median_majority():
    assert combine([(2, 1.0), (4, 1.0), (5, 2.0)], "mean") == pytest.approx(4.0)
    assert combine([(2, 1.0), (4, 1.0), (5, 2.0)], "median") == 4.0
    assert combine([(2, 1.0), (4, 1.0), (5, 2.0)], "majority") == 5.0


def test_judges_file(tmp_path):
    path = tmp_path / "jury.toml"
    path.write_text('combine = "median"\n[[judge]]\nspec = "openai:a"\noptions = { base_url = "http://127.0.0.1:1/v1" }\n'
                    'weight = 2\n[[judge]]\nspec = "baseline"\n')
    jury = jury_from(None, None, path)
    assert jury is not None and jury.combine == "median" and [j.weight for j in jury.judges] == [2.0, 1.0]
    path.write_text('combine = "vote"\n[[judge]]\nspec = "openai:a"\n')
    with pytest.raises(Exception, match="combine"):
        jury_from(None, None, path)


def test_run_with_a_judge_writes_item_scores_and_counts_malformed_answers(tmp_path):
    def answer(prompt: str) -> str:
        if "shingles" in prompt and "nothing_added" in prompt:
            return "Sure! The score is 4."  # malformed every time: retried, then a judge failure
        if "metformin" in prompt:
            return "I'm sorry, I can't help with that."  # a refusal, for both criteria
        return ok(5 if "asks v1" in prompt else 3)

    run_dir = tmp_path / "run"
    with JudgeServer(answer) as judge:
        ran = clue("run", "--model", "baseline", "--tasks", "meqsum", "--output", run_dir, "--judge", "openai:j",
                   "--judge-base-url", judge.url)
        assert ran.returncode == 0, ran.stderr
        calls = len(judge.prompts)
    results = json.loads((run_dir / "results.json").read_text())
    judged = results["tasks"]["meqsum"]["judge"]
    n = judged["n"]
    assert n == 11
    # 2 criteria x 11 items, + 2 retries for each of the 3 failing (item, criterion) pairs
    assert calls == 2 * n + 3 * 2
    assert judged["failures"] == {"openai:j": {"asks": 1, "nothing_added": 2}}
    assert judged["failure_rate"]["openai:j"] == pytest.approx(3 / 22)
    assert judged["complete"] is False
    assert judged["metrics"]["judge_asks"] == pytest.approx(1.0)  # 5 on 1..5 for every judged item
    assert judged["metrics"]["judge_nothing_added"] == pytest.approx(0.5)
    assert judged["rubric_version"] == "v1" and set(judged["rubrics"]) == {"asks", "nothing_added"}
    assert judged["judges"][0]["identity"]["model"] == "j"
    # the task's own score is untouched by the judge
    assert "judge_asks" not in results["tasks"]["meqsum"]["metrics"]
    rows = by_item(run_dir)
    failed = [item for item, row in rows.items() if row["judge"]["judge_asks"]["score"] is None]
    assert len(failed) == 1
    entry = rows[failed[0]]["judge"]["judge_asks"]["judges"]["openai:j"]
    assert entry == {"score": None, "failed": True, "attempts": 3}
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["judge"]["rubrics"]["meqsum"]["asks"] == judged["rubrics"]["asks"]
    assert "${answer}" in manifest["judge"]["rubric_texts"]["meqsum"]["asks"]
    assert manifest["judge"]["tasks"]["meqsum"]["calls"] == calls
    assert results["cost"]["judge"]["calls"] == calls and results["cost"]["judge"]["prompt_tokens"] > 0
    assert "Judged scores" in ran.stdout and "judge failures" in ran.stdout


def test_score_rejudges_from_the_store_and_a_second_judge_reuses_nothing(tmp_path):
    run_dir = tmp_path / "run"
    with JudgeServer(lambda p: ok(4)) as judge:
        assert clue("run", "--model", "baseline", "--tasks", "meqsum", "--output", run_dir,
                    "--judge", "openai:j", "--judge-base-url", judge.url).returncode == 0
        first = len(judge.prompts)
        ran = clue("score", run_dir, "--judge", "openai:j", "--judge-base-url", judge.url)
        assert ran.returncode == 0, ran.stderr
        assert len(judge.prompts) == first  # everything from the judge store
        again = json.loads((run_dir / "results.json").read_text())["tasks"]["meqsum"]["judge"]
        assert again["calls"] == 0 and again["metrics"]["judge_asks"] == pytest.approx(0.75)
        ran = clue("score", run_dir, "--judge", "openai:k", "--judge-base-url", judge.url)
        assert ran.returncode == 0, ran.stderr
        assert len(judge.prompts) == 2 * first  # another judge: every call is new
    # without --judge, clue score writes no judge keys
    assert clue("score", run_dir).returncode == 0
    assert "judge" not in json.loads((run_dir / "results.json").read_text())["tasks"]["meqsum"]


def test_agreement_against_a_judge_metric(tmp_path):
    run_dir = tmp_path / "run"
    with JudgeServer(lambda p: ok(2 + len(p) % 3)) as judge:
        assert clue("run", "--model", "baseline", "--tasks", "meqsum", "--output", run_dir,
                    "--judge", "openai:j", "--judge-base-url", judge.url).returncode == 0
    pytest.importorskip("krippendorff")
    ratings = tmp_path / "r.csv"
    lines = ["item,rater,score"]
    for item, row in by_item(run_dir).items():
        s = row["judge"]["judge_asks"]["score"]
        lines += [f"{item},a,{s}", f"{item},b,{min(5, s + 1)}", f"{item},c,{s}"]
    ratings.write_text("\n".join(lines) + "\n")
    out = tmp_path / "a.json"
    ran = clue("agreement", ratings, "--against", run_dir, "--metric", "judge_asks", "--json", out, "--resamples", "50")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(out.read_text())["criteria"]["all"]["against"]["judge_asks"]["items_with_value"] == 11


def test_a_credentialed_task_with_a_refused_judge_exits_4_and_the_judge_hears_nothing(tmp_path):
    with JudgeServer(lambda p: ok(4)) as judge:
        # 0.0.0.0:PORT reaches the judge's socket on 127.0.0.1, but the guard refuses it
        ran = clue("run", "--model", "baseline", "--tasks", "problem_summary", "--output", tmp_path / "run",
                   "--judge", "openai:j", "--judge-base-url", f"http://0.0.0.0:{judge.port}/v1")
        assert ran.returncode == 4, ran.stderr
        assert "Nothing was sent" in ran.stderr and "problem_summary" in ran.stderr and "the judge openai:j" in ran.stderr
        assert judge.connections == 0
        assert not (tmp_path / "run").exists()
        # the same judge on loopback is allowed
        ran = clue("run", "--model", "baseline", "--tasks", "problem_summary", "--output", tmp_path / "ok",
                   "--judge", "openai:j", "--judge-base-url", judge.url)
        assert ran.returncode == 0, ran.stderr
        assert judge.connections > 0
        assert "egress" not in json.loads((tmp_path / "ok" / "manifest.json").read_text())["judge"]  # none was needed
        # approved by the user, the refused form goes through, and the manifest says which approval let the judge
        url = f"http://0.0.0.0:{judge.port}/v1"
        ran = clue("run", "--model", "baseline", "--tasks", "problem_summary", "--output", tmp_path / "approved",
                   "--judge", "openai:j", "--judge-base-url", url, "--approve-endpoint", url)
        assert ran.returncode == 0, ran.stderr
        egress = json.loads((tmp_path / "approved" / "manifest.json").read_text())["judge"]["egress"]["openai:j"]
        assert [a["approved_by"] for a in egress["approved"]] == ["--approve-endpoint"]


def test_score_with_a_refused_judge_exits_4_before_any_call(tmp_path):
    run_dir = tmp_path / "run"
    assert clue("run", "--model", "baseline", "--tasks", "problem_summary", "--output", run_dir).returncode == 0
    with JudgeServer(lambda p: ok(4)) as judge:
        ran = clue("score", run_dir, "--judge", "openai:j", "--judge-base-url", f"http://0.0.0.0:{judge.port}/v1")
        assert ran.returncode == 4, ran.stderr
        assert judge.connections == 0


def test_bias_probes_units():
    from clue.pipeline.judge import Judge
    from clue.pipeline.judge_bias import family, probes, verbosity

    assert family("openai:meta-llama/Llama-3.1-8B-Instruct") == "llama"
    assert family("hf:Qwen/Qwen2.5-7B-Instruct") == "qwen"
    assert family("smollm2") == "smollm"
    assert family("baseline") is None
    v = verbosity([5, 10, 20, 40], [0.0, 0.25, 0.5, 1.0], None)
    assert v["slope_per_100_words"] > 0 and v["spearman"] == pytest.approx(1.0)
    judges = [Judge("openai:Qwen2.5-72B"), Judge("openai:llama-3-70b")]
    per_item = {f"r{i}": {"judge_asks": {"value": 0.5, "spread": 2.0, "judges": {
        "openai:Qwen2.5-72B": {"score": 5}, "openai:llama-3-70b": {"score": 1}}}} for i in range(4)}
    out = probes("hf:Qwen/Qwen2.5-7B", judges, "mean", per_item, {f"r{i}": "a b c" for i in range(4)}, {}, ["asks"])
    assert out["self_preference"]["flagged_judges"] == ["openai:Qwen2.5-72B"]
    assert out["self_preference"]["score_without_flagged"] == pytest.approx(0.0)  # the llama judge's 1 of 1..5
    assert out["spread"]["judge_asks"] == 2.0


def test_a_length_loving_judge_shows_in_the_verbosity_probe(tmp_path):
    def answer(prompt: str) -> str:
        graded = prompt.rsplit("Summary to grade:", 1)[-1].split("<<<", 1)[1].split(">>>", 1)[0]
        return ok(min(5, max(1, len(graded.split()) - 2)))

    run_dir = tmp_path / "run"
    with JudgeServer(answer) as judge:
        ran = clue("run", "--model", "baseline", "--tasks", "meqsum", "--output", run_dir, "--judge", "openai:j",
                   "--judge-base-url", judge.url)
    assert ran.returncode == 0, ran.stderr
    bias = json.loads((run_dir / "results.json").read_text())["tasks"]["meqsum"]["judge"]["bias"]
    probe = bias["verbosity"]["judge_asks"]
    assert probe["slope_per_100_words"] > 0 and probe["spearman"] > 0.5
    assert probe["matched_on"] == "rougeL"
    assert bias["self_preference"] == {"judged_family": None, "flagged_judges": [], "score_without_flagged": None}
    assert "points per 100 words" in ran.stdout


def test_pairwise_judging_in_both_orders_reports_flips(tmp_path):
    from clue.report.judge_pairs import parse_verdict

    assert parse_verdict('{"better": 2, "reason": "x"}') == 2
    assert parse_verdict('{"better": 3, "reason": "x"}') is None and parse_verdict("Answer 2") is None
    a, b = tmp_path / "a", tmp_path / "b"
    assert clue("run", "--model", "baseline", "--tasks", "meqsum", "--output", a).returncode == 0
    assert clue("run", "--model", "baseline", "--tasks", "meqsum", "--output", b, "--force").returncode == 0

    def answer(prompt: str) -> str:
        # prefers whichever answer comes first for two items (position bias: a flip), else calls it a tie
        if "shingles" in prompt or "metformin" in prompt:
            return json.dumps({"better": 1, "reason": "first"})
        return json.dumps({"better": 0, "reason": "the same"})

    out = tmp_path / "cmp.json"
    with JudgeServer(answer) as judge:
        ran = clue("compare", a, b, "--resamples", "50", "--judge", "openai:j", "--judge-base-url", judge.url, "--out", out)
        assert ran.returncode == 0, ran.stderr
        calls, distinct = len(judge.prompts), len(set(judge.prompts))
    task = json.loads(out.read_text())["pairwise_judge"]["tasks"]["meqsum"]
    # both runs gave the same answers, so both orders are one prompt: asked once, from the store the second time
    assert calls == distinct == task["n_pairs"]
    assert task["flips"] >= 2 and task["ties"] == task["n_pairs"] - task["flips"]
    assert task["flip_rate"] == pytest.approx(task["flips"] / task["n_pairs"])
    assert "flip rate" in ran.stdout


def test_failed_judge_requests_are_counted_then_asked_again_on_the_next_score(tmp_path):
    run_dir = tmp_path / "run"
    assert clue("run", "--model", "baseline", "--tasks", "meqsum", "--output", run_dir).returncode == 0
    down = {"on": True}

    def answer(prompt: str) -> str | None:
        if down["on"] and "shingles" in prompt:
            return None  # 500
        return ok(3)

    with JudgeServer(answer) as judge:
        jury = tmp_path / "jury.toml"
        jury.write_text(f'retries = 1\n[[judge]]\nspec = "openai:j"\noptions = {{ base_url = "{judge.url}", max_retries = 0 }}\n')
        ran = clue("score", run_dir, "--judges", jury)
        assert ran.returncode == 0, ran.stderr
        judged = json.loads((run_dir / "results.json").read_text())["tasks"]["meqsum"]["judge"]
        assert judged["complete"] is False and judged["failures"]["openai:j"] == {"asks": 1, "nothing_added": 1}
        before = len(judge.prompts)
        down["on"] = False
        ran = clue("score", run_dir, "--judges", jury)
        assert ran.returncode == 0, ran.stderr
        judged = json.loads((run_dir / "results.json").read_text())["tasks"]["meqsum"]["judge"]
        assert judged["complete"] is True and judged["calls"] == 2  # only the two failed ones were asked again
        assert len(judge.prompts) == before + 2

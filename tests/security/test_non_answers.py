"""A non-answer is never scored (issue 14, item 7): content null, no choices, reasoning kept apart."""

from __future__ import annotations

from clue.core.records import Decoding, Message, Request
from clue.pipeline.config import RunSpec
from tests.helpers.serving import write_mednli

FAST = {"backoff_base": 0.01, "backoff_max": 0.02, "context_length": 4096}


def backend_for(url: str, **options):
    from clue.models.openai import OpenAIBackend

    return OpenAIBackend("fake-model", {"base_url": url, **FAST, **options})


def requests_for(n: int) -> list[Request]:
    return [Request(id=f"r{i}", messages=[Message("user", f"question item-{i} ?")], decoding=Decoding(max_new_tokens=6))
            for i in range(n)]


def test_an_answer_without_text_is_retried_then_failed(serve):
    server = serve(faults={
        "item-0 ": ["null", "ok"],
        "item-1 ": ["nochoices", "null", "ok"],
        "item-2 ": ["null"] * 5,
        "item-3 ": ["nochoices"] * 5,
    })
    completions = {c.request_id: c for c in backend_for(server.url, max_retries=2).generate(requests_for(5))}
    assert completions["r0"].ok and completions["r0"].text.startswith("ref-") and completions["r0"].meta["attempts"] == 2
    assert completions["r1"].ok and completions["r1"].meta["attempts"] == 3
    for rid in ("r2", "r3"):
        assert not completions[rid].ok and completions[rid].text is None
        assert "gave up after 3 attempts" in completions[rid].error and "no " in completions[rid].error
    assert completions["r4"].ok


def test_reasoning_is_kept_apart_from_the_answer(serve):
    server = serve(faults={"item-0 ": ["think"], "item-1 ": ["unclosed"], "item-2 ": ["reasoning"], "item-3 ": ["thinkcut"]})
    completions = {c.request_id: c for c in backend_for(server.url).generate(requests_for(5))}
    think, unclosed, reasoning, cut, plain = (completions[f"r{i}"] for i in range(5))
    assert think.ok and think.text.startswith("ref-") and "<think>" not in think.text
    assert think.meta["reasoning"].startswith("pondering") and think.meta["reasoning_unfinished"] is False
    assert unclosed.ok and unclosed.text == "" and unclosed.meta["reasoning_unfinished"] is True
    assert reasoning.ok and reasoning.text.startswith("ref-") and reasoning.meta["reasoning_tokens"] == 2
    assert cut.ok and cut.text == "" and cut.meta["reasoning_unfinished"] is True and cut.meta["attempts"] == 1
    assert plain.ok and "reasoning" not in plain.meta


def test_a_run_scores_no_non_answer_and_counts_lost_reasoning(serve, tmp_path, monkeypatch):
    import json

    from clue.pipeline.run import run_model

    monkeypatch.setenv("CLUE_APPROVED_ENDPOINTS", str(tmp_path / "none.toml"))
    # With the default seed, pairs 3, 4 and 6 are MedNLI's shots; 0, 1 and 2 are test items.
    server = serve(faults={"item-0 ": ["null"] * 5, "item-1 ": ["unclosed"], "item-2 ": ["think"]})
    data = write_mednli(tmp_path / "mli_test_v1.jsonl", 8)
    config = RunSpec(model="openai:fake-model", tasks=["mednli"], output=tmp_path / "run",
                       data={"mednli": data}, bootstrap_resamples=0)
    results = run_model(config.with_changes(options={"base_url": server.url, "max_retries": 1, **FAST}))
    task = results.tasks["mednli"]
    assert task.diagnostics["failed_requests"] == 1 and task.n == 4 and not task.complete
    assert server.attempts().most_common(1)[0][1] == 2  # the null answer was asked twice (max_retries=1)
    assert task.diagnostics["reasoning_unfinished"] == 1
    rows = {r["item_id"]: r for r in map(json.loads, (tmp_path / "run" / "predictions" / "mednli.jsonl").open())}
    assert rows["pair-0000"]["output"] is None and rows["pair-0000"]["metrics"] is None and rows["pair-0000"]["error"]
    assert rows["pair-0001"]["output"] == "" and rows["pair-0001"]["metrics"] is not None
    assert rows["pair-0002"]["output"].startswith("ref-") and "<think>" not in rows["pair-0002"]["output"]

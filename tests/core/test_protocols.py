"""Protocol profiles: the reference's prompts fetched from a local server, built as the reference builds them."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import random
import threading

import pytest
from typer.testing import CliRunner

from clue.builders import protocols as fetcher
from clue.builders.fetch import FetchError
from clue.cli import app
from clue.core.records import Decoding
from clue.tasks.base import BuildContext
from clue.tasks.protocols import get_protocol
from clue.tasks.registry import get_task
from clue.tasks.settings import Settings, parse_setting
from clue.tasks.shots import select_shots
from clue.tasks.templates import Templates

# Synthetic scripts of the reference's structure (module-level prompt strings, str.format fields,
# an answer prefix joined with +); none of the reference's text.
SCRIPTS = {
    "mednli": 'sys_prompt = """Judge the pair. Costs $5."""\n'
    'user_prompt_template = """\nS1: {sentence1}\nS2: {sentence2}\n"""\n'
    'assistant_response_template = """{gold_label}"""\nmax_new_tokens = 20\n',
    "medisumcode": 'sys_prompt = "List codes."\n'
    'user_prompt_template = """<<{text}>>\nCodes only."""\n'
    'assistant_response_start = "Codes: "\n'
    'assistant_response_template = assistant_response_start + """{codes}"""\n',
    "longhealth": 'sys_prompt = """\nRead the letters."""\n'
    'prompt_template = """\n[[{documents}]]\n{question_text}\n{options}\nAnswer with a letter.\n"""\n'
    'def create_prompt(answer_docs, question, separator="~~~", option_labels="abcde"):\n'
    '    return separator\n'
    'def main():\n'
    '    question = {}\n'
    '    question["answer_f"] = "Cannot tell"\n',
}


@pytest.fixture
def mirror(tmp_path):
    root = tmp_path / "mirror"
    commit = get_protocol("clue-2024-06").commit
    pins = {}
    for task, text in SCRIPTS.items():
        path = f"eval/eval_{task}.py"
        target = root / "TIO-IKIM" / "CLUE" / commit / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        pins[task] = (path, hashlib.sha256(text.encode()).hexdigest())
    handler = functools.partial(QuietHandler, directory=str(root))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", pins
    srv.shutdown()
    srv.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_fetch_extracts_the_prompts_as_templates(mirror, tmp_path):
    base, pins = mirror
    fetched = fetcher.fetch_protocol("clue-2024-06", base_url=base, dest=tmp_path / "out", scripts=pins)
    out = tmp_path / "out"
    parts = {"longhealth": ("system", "user", "separator", "unanswerable")}
    expected = [f"{t}.{p}.txt" for t in SCRIPTS for p in parts.get(t, ("system", "user", "answer"))]
    assert sorted(fetched.templates) == sorted(expected)
    assert (out / "longhealth.separator.txt").read_text() == "\n\n~~~\n\n"
    assert (out / "longhealth.unanswerable.txt").read_text() == "Cannot tell"
    assert (out / "mednli.system.txt").read_text() == "Judge the pair. Costs $$5."
    assert (out / "mednli.user.txt").read_text() == "\nS1: ${sentence1}\nS2: ${sentence2}\n"
    assert (out / "medisumcode.answer.txt").read_text() == "Codes: ${codes}"
    sources = json.loads((out / "SOURCES.json").read_text())
    assert sources["commit"] == get_protocol("clue-2024-06").commit


def test_fetch_refuses_a_file_whose_hash_is_not_pinned(mirror, tmp_path):
    base, pins = mirror
    bad = {"mednli": (pins["mednli"][0], "0" * 64)}
    with pytest.raises(FetchError, match="pinned"):
        fetcher.fetch_protocol("clue-2024-06", base_url=base, dest=tmp_path / "out", scripts=bad)
    assert not list((tmp_path / "out").glob("*.txt"))


def test_fetch_completes_an_interrupted_download_and_reuses_a_verified_one(mirror, tmp_path):
    base, pins = mirror
    out = tmp_path / "out"
    commit = get_protocol("clue-2024-06").commit
    path, _ = pins["mednli"]
    part = out / ".downloads" / commit / (path + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(SCRIPTS["mednli"].encode()[:20])  # an interrupted earlier download
    fetcher.fetch_protocol("clue-2024-06", base_url=base, dest=out, scripts={"mednli": pins["mednli"]})
    assert not part.exists() and (out / "mednli.user.txt").read_text() == "\nS1: ${sentence1}\nS2: ${sentence2}\n"
    # the verified script is kept: a second fetch needs no server
    again = fetcher.fetch_protocol("clue-2024-06", base_url="http://offline.invalid", dest=out,
                                   scripts={"mednli": pins["mednli"]})
    assert again.templates == ["mednli.system.txt", "mednli.user.txt", "mednli.answer.txt"]


def test_clue_protocol_needs_no_fetch():
    with pytest.raises(Exception, match="nothing to fetch"):
        fetcher.fetch_protocol("clue")


def _fetched(mirror, tmp_path, monkeypatch):
    base, pins = mirror
    monkeypatch.setenv("CLUE_CACHE_DIR", str(tmp_path / "cache"))
    fetcher.fetch_protocol("clue-2024-06", base_url=base, scripts=pins)
    return tmp_path / "cache" / "protocols" / "clue-2024-06"


def test_reference_2024_06_builds_the_reference_messages(mirror, tmp_path, monkeypatch):
    folder = _fetched(mirror, tmp_path, monkeypatch)
    task = get_task("mednli")
    items = task.load(task.demo_path())
    ctx = BuildContext(seed=42, templates=Templates(folder), protocol="clue-2024-06")
    cases = task.build(items, ctx)
    # the first three rows are the demonstrations, in file order, answers as stored (lowercase)
    first = cases[0].request.messages
    assert [m.role for m in first] == ["system", "user", "assistant"] * 1 + ["user", "assistant"] * 2 + ["user"]
    assert first[0].content == "Judge the pair. Costs $5."
    for k, shot in enumerate(items[:3]):
        assert first[1 + 2 * k].content == "\nS1: {sentence1}\nS2: {sentence2}\n".format(**shot.inputs)
        assert first[2 + 2 * k].content == shot.gold and shot.gold.islower()
    assert [c.reference.item_id for c in cases] == [it.id for it in items[3:]]
    assert first[-1].content == "\nS1: {sentence1}\nS2: {sentence2}\n".format(**items[3].inputs)
    assert cases[0].request.decoding.max_new_tokens == 20 and cases[0].request.decoding.stop


def test_reference_prefill_and_stored_codes(mirror, tmp_path, monkeypatch):
    folder = _fetched(mirror, tmp_path, monkeypatch)
    task = get_task("medisumcode")
    items = task.load(task.demo_path())
    cases = task.build(items, BuildContext(seed=42, templates=Templates(folder), protocol="clue-2024-06"))
    messages = cases[0].request.messages
    assert messages[2].content == "Codes: " + ", ".join(items[0].gold)  # stored: no dots
    assert "." not in messages[2].content.removeprefix("Codes: ")
    assert messages[-1].role == "assistant" and messages[-1].content == "Codes: "  # the pre-fill
    assert messages[-2].content == f"<<{items[1].inputs['text']}>>\nCodes only."
    assert cases[0].request.decoding.max_new_tokens == 200


def test_reference_longhealth_uses_the_reference_texts(mirror, tmp_path, monkeypatch):
    folder = _fetched(mirror, tmp_path, monkeypatch)
    task = get_task("longhealth")
    items = task.load(task.demo_path())
    built = task.build(items, BuildContext(seed=42, templates=Templates(folder), protocol="clue-2024-06"))
    cases = [c for c in built if c.reference.item_id == items[0].id]
    system, user = cases[0].request.messages
    assert system.content == "\nRead the letters."
    assert user.content.startswith("\n[[") and user.content.endswith("\nAnswer with a letter.\n")
    assert f"\n{items[0].inputs['question']}\nA: " in user.content
    task3 = next(c for c in cases if c.reference.subtask == "task3")
    assert "\nF: Cannot tell\nAnswer" in task3.request.messages[1].content
    assert "\n\n~~~\n\n" in task3.request.messages[1].content  # distractors joined as the reference joined them


def test_cli_prompts_under_a_reference_protocol_and_without_the_fetch(mirror, tmp_path, monkeypatch):
    _fetched(mirror, tmp_path, monkeypatch)
    out = tmp_path / "p.jsonl"
    result = CliRunner().invoke(app, ["prompts", "--task", "medisumcode", "--protocol", "clue-2024-06", "-o", str(out)])
    assert result.exit_code == 0, result.output
    row = json.loads(out.read_text().splitlines()[0])
    assert row["messages"][-1] == {"role": "assistant", "content": "Codes: "}
    monkeypatch.setenv("CLUE_CACHE_DIR", str(tmp_path / "empty"))
    result = CliRunner().invoke(app, ["prompts", "--task", "mednli", "--protocol", "clue-2025-01", "-o", str(out)])
    # the CLI's main() turns this error into its message and exit status 2
    assert getattr(result.exception, "exit_code", None) == 2
    assert "clue protocol fetch clue-2025-01" in str(result.exception)


def test_shuffle_seed1_is_pythons_random_seed_1():
    rows = list(range(30))
    expected = list(rows)
    random.seed(1)
    random.shuffle(expected)
    task = get_task("mednli")
    items = task.load(task.demo_path())
    shots, scored = select_shots(items, Settings(shots=3, max_new_tokens=20, shot_selection="shuffle-seed1"), 42, "x")
    order = list(range(len(items)))
    random.seed(1)
    random.shuffle(order)
    assert [i.id for i in shots + scored] == [items[i].id for i in order]
    first, rest = select_shots(items, Settings(shots=2, max_new_tokens=20, shot_selection="first"), 42, "x")
    assert first == items[:2] and rest == items[2:]


def test_overrides_are_typed_and_recorded(tmp_path):
    assert parse_setting("max_new_tokens=64") == (None, "max_new_tokens", 64)
    assert parse_setting("meqsum.prefill=true") == ("meqsum", "prefill", True)
    assert parse_setting("stop=</s>|END") == (None, "stop", ("</s>", "END"))
    assert parse_setting("options.budget=4000") == (None, "options.budget", 4000)
    assert parse_setting("longhealth.options.budget_accounting=prompt") == (
        "longhealth", "options.budget_accounting", "prompt"
    )
    lh = get_task("longhealth").declaration.settings("clue")
    from clue.tasks.settings import apply_overrides

    changed = apply_overrides(lh, "longhealth", [parse_setting("longhealth.options.budget=4000")])
    assert changed.options["budget"] == 4000 and lh.options["budget"] == 8140
    assert apply_overrides(lh, "longhealth", [parse_setting("meqsum.shots=1")]) is lh
    with pytest.raises(Exception, match="unknown setting"):
        parse_setting("shotz=1")
    with pytest.raises(Exception, match="choose one of"):
        Settings(shots=1, max_new_tokens=1).overridden({"truncation": "middle"})
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", "--tasks", "mednli", "-o", str(out), "--bootstrap", "0",
                                      "--protocol-setting", "mednli.shots=1"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["protocol"] == "clue" and manifest["protocol_settings"] == ["mednli.shots=1"]
    assert manifest["tasks"]["mednli"]["settings"]["shots"] == 1
    bad = CliRunner().invoke(app, ["run", "--tasks", "mednli", "-o", str(out), "--protocol-setting", "meqsum.shots=1"])
    assert "not in this run" in str(bad.exception)


def test_default_protocol_keeps_request_hashes():
    # a Decoding without stop strings serialises exactly as before the field existed
    assert Decoding(max_new_tokens=5).to_dict() == {"max_new_tokens": 5, "temperature": 0.0, "top_p": 1.0, "seed": None}
    assert Decoding(max_new_tokens=5, stop=("x",)).to_dict()["stop"] == ["x"]


def test_keep_end_drops_the_start_and_clean_output_cuts_as_the_reference():
    from clue.core.records import Message
    from clue.core.tokens import ApproxTokenizer
    from clue.tasks.base import clean_output
    from clue.tasks.context import fit_to_context

    # 50 tokens of messages + 64 of template margin; 10 to generate: 25 too many for a context of 99
    ctx = BuildContext(seed=1, context_length=99)
    render = lambda inputs: [Message("system", "s" * 80), Message("user", "u" * 80 + inputs["doc"])]  # noqa: E731
    messages, cut = fit_to_context(render, {"doc": "d" * 40}, "doc", ctx, 10, "keep-end")
    assert cut and [m.role for m in messages] == ["user"]  # the system prompt went first
    assert messages[0].content.endswith("d" * 40) and ApproxTokenizer().count(messages[0].content) == 25
    kept, cut = fit_to_context(render, {"doc": "d" * 40}, "doc", ctx, 10, "none")
    assert not cut and kept == render({"doc": "d" * 40})
    settings = Settings(shots=0, max_new_tokens=5, stop=("<|eot_id|>",), cleanup=r"(\[INST\].*)")
    assert clean_output("E11.9 [INST] more<|eot_id|>junk", settings) == "E11.9 "


def test_protocol_metric_settings_reach_the_scorer():
    from clue.pipeline.score import task_metric_config

    s = get_task("problem_summary").declaration.settings("clue-2024-06")
    assert s.bertscore_model == "bioclinicalbert" and s.bertscore_lowercase
    assert task_metric_config(s, {})["bertscore_model"] == "bioclinicalbert"
    assert task_metric_config(s, {"bertscore_model": "scibert"})["bertscore_model"] == "scibert"  # the user's wins
    assert task_metric_config(get_task("meqsum").declaration.settings("clue"), {}) == {}
    lh = get_task("longhealth").declaration.settings("clue-2025-01")
    assert lh.options["budget_task23"] == "context" and lh.chat_layout == "system"


def test_bertscore_alone_sees_lowercased_text(monkeypatch):
    from clue.core.records import Completion
    from clue.metrics.model import ModelMetricResult
    from clue.pipeline import score as score_stage
    from clue.pipeline.plan import PreparedTask

    task = get_task("problem_summary")
    items = task.load(task.demo_path())
    settings = task.declaration.settings("clue").overridden({"bertscore_lowercase": True})
    cases = task.build(items, BuildContext(seed=42))
    seen = {}

    def fake_compute(names, ids, predictions, references, config):
        seen[tuple(names)] = (predictions, references)
        result = ModelMetricResult()
        for i in ids:
            result.values[i] = {n: 0.5 for n in names}
        result.settings = {n: {"model": "fake"} for n in names}
        return result

    monkeypatch.setattr(score_stage.model_metrics, "compute", fake_compute)
    prepared = PreparedTask(task, task.demo_path(), "demo", "x", items, cases, settings)
    completions = {c.id: Completion(c.id, "Sepsis; AKI") for c in cases}
    summary, rows, metric_settings = score_stage.score_task(prepared, completions, {})
    assert seen[("umls_f1",)][0][0] == "Sepsis; AKI"
    assert seen[("bertscore",)][0][0] == "sepsis; aki" and seen[("bertscore",)][1][0].islower()
    assert metric_settings["bertscore"]["lowercased"] is True
    assert rows[0].metrics["bertscore"] == 0.5 and rows[0].metrics["umls_f1"] == 0.5

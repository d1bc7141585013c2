"""The Python API makes the run ``clue run`` makes, and the command line, sweep files and Python build
one RunSpec through one validation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import clue
from clue.core.errors import UsageError
from clue.pipeline.config import SETTINGS, RunSpec
from clue.pipeline.sweep import load_sweep
from tests.helpers.cli import clue as clue_cli


def test_the_done_when_line_prints_what_clue_run_writes(tmp_path):
    """The issue's check, as a user types it, beside `clue run --tasks mednli` in the same folder."""
    line = "import clue; r = clue.evaluate(model='baseline', tasks=['mednli']); print(r.tasks['mednli'].score, r.tasks['mednli'].n)"
    api = subprocess.run([sys.executable, "-c", line], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert api.returncode == 0, api.stderr
    written = json.loads((tmp_path / "clue-runs" / "baseline" / "results.json").read_text())
    ran = clue_cli("run", "--tasks", "mednli", "-o", str(tmp_path / "cli"))
    assert ran.returncode == 0, ran.stderr
    by_cli = json.loads((tmp_path / "cli" / "results.json").read_text())["tasks"]["mednli"]
    assert api.stdout.split() == [repr(by_cli["score"]), str(by_cli["n"])]
    assert written["tasks"] == json.loads((tmp_path / "cli" / "results.json").read_text())["tasks"]


def test_evaluate_score_read_run_and_compare(tmp_path):
    a = clue.evaluate(tasks="mednli,meqsum", limit=4, output=tmp_path / "a", bootstrap=20)
    assert isinstance(a, clue.RunResults) and set(a.tasks) == {"mednli", "meqsum"}
    again = clue.score(tmp_path / "a")
    assert again.tasks["mednli"].score == a.tasks["mednli"].score
    run = clue.read_run(tmp_path / "a")
    assert [r.id for r in run.predictions("mednli")][:1] == [f"mednli/{run.predictions('mednli')[0].item_id}"]
    clue.evaluate(tasks=["mednli", "meqsum"], limit=4, output=tmp_path / "b", bootstrap=20, max_new_tokens=50)
    comparison = clue.compare(tmp_path / "a", tmp_path / "b", n_resamples=100)
    assert isinstance(comparison, clue.Comparison) and comparison.tasks["mednli"]["delta"] == pytest.approx(0.0)
    assert json.loads(json.dumps(comparison.to_json()))["schema"] == "clue.compare/1"


def test_a_task_file_is_accepted_where_a_task_name_is(tmp_path):
    from clue.tasks.registry import all_tasks, unregister

    before = set(all_tasks())
    task = tmp_path / "tiny.toml"
    (tmp_path / "tiny.jsonl").write_text("".join(json.dumps({"id": str(i), "q": f"is {i} even?", "a": "yes" if i % 2 == 0 else "no"}) + "\n"
                                                 for i in range(6)))
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "tiny.system.txt").write_text("Answer yes or no.")
    (tmp_path / "prompts" / "tiny.user.txt").write_text("$question")
    task.write_text('name = "tiny"\ndata = "tiny.jsonl"\naccess = "public"\nmetrics = ["accuracy"]\nlabels = ["yes", "no"]\n'
                    'shots = 0\nmax_new_tokens = 4\nprompts = "prompts"\n[fields]\nid = "id"\ngold = "a"\ninputs = { question = "q" }\n')
    try:
        results = clue.evaluate(model="baseline", tasks=[str(task)], output=tmp_path / "run", bootstrap=0)
        assert results.tasks["tiny"].n == 6 and set(results.levels.values()) == {None}  # a task file is in no CLUE level
    finally:
        for name in set(all_tasks()) - before:
            unregister(name)


def test_one_setting_name_for_the_command_line_a_sweep_file_and_python(tmp_path):
    shared = {"limit": 2, "seed": 7, "top_p": 0.5, "decoding_seed": 3, "max_new_tokens": 9, "bootstrap": 0,
              "protocol_settings": ["meqsum.shots=1"], "metric": {"rouge_x": "1"}}
    python = RunSpec.from_python("baseline", ["mednli", "meqsum"], output=tmp_path / "x", longhealth_budget=500, **shared)
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(json.dumps({"output": str(tmp_path), "models": [{"spec": "baseline", "name": "x"}],
                                 "tasks": ["mednli", "meqsum"], "longhealth_budget": 500, **shared}))
    from_file = load_sweep(sweep).models[0].run
    for name in ("model", "tasks", "output", "limit", "seed", "top_p", "decoding_seed", "max_new_tokens", "bootstrap_resamples",
                 "protocol_settings", "metric_settings"):
        assert getattr(python, name) == getattr(from_file, name), name
    assert python.protocol_settings == ["meqsum.shots=1", "longhealth.options.budget=500"]
    assert python.decoding_record() == {"temperature": 0.0, "max_new_tokens_override": 9, "top_p": 0.5, "seed": 3}
    # every setting the spec takes is named once, in SETTINGS (docs/api.md lists them)
    assert {"top_p", "decoding_seed", "suite", "longhealth_budget", "protocol_settings"} <= set(SETTINGS)


@pytest.mark.parametrize(("settings", "message"), [
    ({"top_p": 2}, "top_p must be between 0 and 1"),
    ({"limit": 0}, "limit must be at least 1"),
    ({"temprature": 0.5}, "unknown setting(s) temprature"),
    ({"tasks": "nosuchtask"}, "unknown task 'nosuchtask'"),
    ({"protocol": "clue-2024"}, "unknown protocol 'clue-2024'"),
])
def test_a_bad_setting_stops_before_anything_runs_naming_it(tmp_path, settings, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        clue.evaluate(output=tmp_path / "run", **settings)
    assert not (tmp_path / "run").exists()


def test_top_p_and_the_decoding_seed_reach_the_request_and_the_manifest(tmp_path):
    plain = clue_cli("prompts", "-t", "mednli", "--limit", "1", "-o", str(tmp_path / "plain.jsonl"))
    assert plain.returncode == 0, plain.stderr
    ran = clue_cli("run", "-t", "mednli", "--limit", "2", "--top-p", "0.9", "--decoding-seed", "5", "--temperature", "0.7",
                   "-o", str(tmp_path / "run"))
    assert ran.returncode == 0, ran.stderr
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["decoding"] == {"temperature": 0.7, "max_new_tokens_override": None, "top_p": 0.9, "seed": 5}
    sweep = tmp_path / "s.toml"
    sweep.write_text(f'output = "{tmp_path / "sw"}"\ntop_p = 0.9\ndecoding_seed = 5\nmodels = ["baseline"]\n')
    spec = load_sweep(sweep).models[0].run
    assert (spec.top_p, spec.decoding_seed) == (0.9, 5)
    # no setting given: the request is decoded as before (top_p 1, no seed), so its hash and store key hold
    row = json.loads((tmp_path / "plain.jsonl").read_text().splitlines()[0])
    assert row["decoding"]["top_p"] == 1.0 and row["decoding"]["seed"] is None


def test_the_api_loads_only_when_used():
    code = "import sys, clue.core.files; print('clue.api' in sys.modules, 'clue.pipeline.run' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=Path(__file__).parent)
    assert out.stdout.split() == ["False", "False"], out.stderr

"""``clue sweep``: several models in a row, killed mid-model and resumed, then reported."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clue.core.errors import UsageError
from clue.core.results import read_results
from clue.pipeline.sweep import load_sweep, run_sweep
from clue.store.runs import RunStore
from tests.helpers.cli import clue
from tests.helpers.stub_server import StubServer


def tiny_hf_model(folder: Path) -> Path | None:
    """A random-weight Llama built as the local-backend tests build theirs; None when unavailable."""
    for module in ("torch", "transformers", "tokenizers"):
        if importlib.util.find_spec(module) is None:
            return None
    from tests.helpers.tiny_model import CHATML, build_model_folder

    # 2,048 positions: the demo's few-shot MedNLI and MeQSum prompts fit whole.
    return build_model_folder(folder, CHATML, max_positions=2048)


def write_config(path: Path, out: Path, models: list[dict]) -> Path:
    lines = [f'output = "{out}"', 'tasks = "all"', "seed = 42", "limit = 2", ""]
    for m in models:
        lines.append("[[models]]")
        for key, value in m.items():
            if isinstance(value, dict):
                inner = ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items())
                lines.append(f"{key} = {{ {inner} }}")
            else:
                lines.append(f"{key} = {json.dumps(value)}")
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def start_sweep(config: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "clue.cli", "sweep", str(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True, env={"COLUMNS": "160", "PATH": "/usr/bin:/bin"},
    )


def stored_ok(run: Path) -> int:
    with RunStore(run / "store.sqlite") as store:
        return store.counts()["ok"]


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """Sweep baseline, a stub server and (if torch is here) a tiny local model; kill it mid-stub; resume."""
    root = tmp_path_factory.mktemp("sweep")
    stub = StubServer("stub-model", latency=0.05, max_seconds=240).start()
    try:
        models = [
            {"spec": "baseline"},
            {"spec": "openai:stub-model", "name": "stub-server",
             "options": {"base_url": stub.base_url, "concurrency": 2, "max_retries": 0}},
        ]
        tiny = tiny_hf_model(root / "tiny-model")
        if tiny is not None:
            models.append({"spec": f"hf:{tiny}", "name": "tiny-llama", "tasks": "mednli,meqsum", "max_new_tokens": 8})
        config = write_config(root / "sweep.toml", root / "runs", models)

        proc = start_sweep(config)
        deadline = time.monotonic() + 120
        while stub.answered() < 12 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc.poll() is None, f"the sweep ended before it could be killed: {proc.communicate()}"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        answered_before = stub.answered()
        stored_before = stored_ok(root / "runs" / "stub-server")

        resumed = clue("sweep", str(config))  # the resume needs no process of its own: the kill did
        prompts_after_resume = dict(stub.prompts)
        again = clue("sweep", str(config))
        yield {
            "root": root, "config": config, "stub": stub, "tiny": tiny, "models": models,
            "answered_before": answered_before, "stored_before": stored_before,
            "resumed": resumed, "prompts": prompts_after_resume, "again": again,
            "answered_end": stub.answered(),
        }
    finally:
        stub.stop()


def test_sweep_was_killed_mid_model_and_resumed_without_repeating_answers(swept):
    resumed = swept["resumed"]
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    # Killed in the middle of the stub model: some answers were stored, not all.
    results = read_results(swept["root"] / "runs" / "stub-server" / "results.json")
    total = sum(t.n for t in results.tasks.values())
    assert 0 < swept["stored_before"] < total
    # The resumed sweep skipped the finished baseline and re-sent only what was not stored:
    # a prompt is asked twice only if it was in flight at the kill (at most `concurrency` of them).
    assert "baseline: done before, skipped" in resumed.stderr
    repeated = [k for k, count in swept["prompts"].items() if count > 1]
    assert len(repeated) <= 2
    assert len(swept["prompts"]) == total  # every prompt answered, each stored once
    assert all(t.failed_requests == 0 for t in results.tasks.values())


def test_a_finished_sweep_is_skipped_entirely(swept):
    again = swept["again"]
    assert again.returncode == 0, again.stderr[-3000:]
    assert swept["answered_end"] == sum(swept["prompts"].values())  # the stub saw no new request
    assert again.stderr.count("done before, skipped") == len(swept["models"])
    status = json.loads((swept["root"] / "runs" / "sweep-status.json").read_text())
    assert [m["status"] for m in status["models"]] == ["skipped"] * len(swept["models"])


def test_every_model_has_a_run_directory_and_a_name(swept):
    for m in swept["models"]:
        name = m.get("name", m["spec"])
        run = swept["root"] / "runs" / name
        assert (run / "results.json").is_file() and (run / "manifest.json").is_file()
        marker = json.loads((run / "sweep.json").read_text())
        assert marker["name"] == name and marker["status"] == "done"
    if swept["tiny"] is None:
        pytest.skip("torch/transformers are not installed: the sweep ran without the tiny local model")


def test_report_over_the_sweep_holds_the_runs_numbers(swept, tmp_path):
    runs = [swept["root"] / "runs" / m.get("name", m["spec"]) for m in swept["models"]]
    proc = clue("report", *map(str, runs), "--out", str(tmp_path / "report"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "report"
    for name in ("leaderboard.md", "leaderboard.csv", "leaderboard.json", "diagnostics.md", "diagnostics.csv",
                 "report.html", "figures/tasks.png", "figures/tasks.svg", "figures/levels.png", "figures/levels.svg"):
        assert (out / name).is_file(), name
    with open(out / "leaderboard.csv", newline="") as fh:
        rows = {row["name"]: row for row in csv.DictReader(fh)}
    assert set(rows) == {m.get("name", m["spec"]) for m in swept["models"]}
    for run in runs:
        results = read_results(run / "results.json")
        row = rows[run.name]
        for task, t in results.tasks.items():
            assert float(row[task]) == t.score  # unrounded: the CSV round-trips the float exactly
            assert row[f"{task}_complete"] == ("true" if t.complete else "false")
        for level, value in results.levels.items():
            assert (row[level] == "") if value is None else float(row[level]) == value
    with open(out / "diagnostics.csv", newline="") as fh:
        diags = {row["name"]: row for row in csv.DictReader(fh)}
    baseline = read_results(runs[0] / "results.json")
    valid = baseline.tasks["medisumcode"].metrics["valid"]
    assert float(diags["baseline"]["medisumcode_invalid"]) == pytest.approx(100.0 - valid)
    assert int(diags["baseline"]["failed_requests"]) == 0


def test_a_failing_model_does_not_stop_the_sweep(tmp_path):
    config = write_config(tmp_path / "sweep.toml", tmp_path / "runs", [
        {"spec": "openai:nowhere", "name": "broken"},  # no base_url: fails when the backend is built
        {"spec": "baseline", "tasks": "mednli,longhealth"},
    ])
    plan = load_sweep(config)
    lines: list[str] = []
    outcomes = run_sweep(plan, only=(), log=lines.append)
    assert [o.status for o in outcomes] == ["failed", "done"]
    assert "base_url" in outcomes[0].error
    status = json.loads((tmp_path / "runs" / "sweep-status.json").read_text())
    assert [m["status"] for m in status["models"]] == ["failed", "done"]
    assert (tmp_path / "runs" / "baseline" / "results.json").is_file()


def test_the_cli_exits_non_zero_when_a_model_failed(tmp_path):
    config = write_config(tmp_path / "sweep.toml", tmp_path / "runs", [
        {"spec": "openai:nowhere", "name": "broken"}, {"spec": "baseline", "tasks": "mednli"},
    ])
    proc = clue("sweep", str(config))
    assert proc.returncode == 1
    assert "broken" in proc.stderr and "failed" in proc.stderr
    assert (tmp_path / "runs" / "baseline" / "results.json").is_file()


@pytest.mark.parametrize(
    "body, message",
    [
        ('output = "x"\nmodels = [{spec = "baseline"}]\ncolour = "blue"\n', "unknown key(s) colour"),
        ('models = []\n', "at least one model"),
        ('models = [{spec = "baseline"}, {spec = "baseline"}]\n', "share the run folder"),
        ('models = [{name = "x"}]\n', "needs a 'spec'"),
        ('models = [{spec = "baseline", tasks = "nosuchtask"}]\n', "unknown task"),
        ('models = [{spec = "baseline", limit = "ten"}]\n', "limit must be a whole number"),
        ('protocol = "clue-1999"\nmodels = [{spec = "baseline"}]\n', "unknown protocol 'clue-1999'"),
    ],
)
def test_sweep_files_are_checked_before_anything_runs(tmp_path, body, message):
    path = tmp_path / "sweep.toml"
    path.write_text(body)
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_sweep(path)


def test_yaml_sweep_files_resolve_paths_beside_the_file(tmp_path):
    path = tmp_path / "conf" / "sweep.yaml"
    path.parent.mkdir()
    path.write_text("output: out\ndata_dir: data\nmodels:\n  - baseline\n  - spec: baseline\n    name: second\n    limit: 3\n")
    plan = load_sweep(path)
    assert plan.output == tmp_path / "conf" / "out"
    assert {m.run.data_dir for m in plan.models} == {tmp_path / "conf" / "data"}
    assert [(m.name, m.run.limit, m.output.name) for m in plan.models] == [("baseline", None, "baseline"), ("second", 3, "second")]


def test_a_sweep_protocol_enters_the_fingerprint_only_when_it_is_not_the_default(tmp_path):
    from clue.pipeline.sweep import fingerprint

    plain, ref = tmp_path / "plain.toml", tmp_path / "ref.toml"
    plain.write_text('models = ["baseline"]\n')
    ref.write_text('protocol = "clue-2024-06"\nprotocol_settings = ["meqsum.shots=1"]\nmodels = ["baseline"]\n')
    a, b = load_sweep(plain), load_sweep(ref)
    assert b.protocol == "clue-2024-06" and b.protocol_settings == ["meqsum.shots=1"]
    assert "protocol" not in fingerprint(a, a.models[0])["material"]
    assert fingerprint(b, b.models[0])["material"]["protocol"] == {"name": "clue-2024-06", "settings": ["meqsum.shots=1"]}

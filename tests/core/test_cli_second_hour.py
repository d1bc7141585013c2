"""A newcomer's second hour (issue 22): the same option names everywhere, honest messages, readable output."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from clue.cli.progress import PlainProgress
from tests.helpers import cli


def clue(*args: str, columns: int = 80, env: dict[str, str | None] | None = None) -> cli.Ran:
    return cli.clue(*args, columns=columns, env=env)


@pytest.mark.parametrize("flag", ["--tasks", "--task", "-t"])
def test_every_command_takes_tasks_task_and_t(tmp_path, flag):
    run = clue("run", flag, "mednli", "--limit", "2", "--bootstrap", "0", "-o", str(tmp_path / "run"))
    assert run.returncode == 0, run.stderr
    prompts = clue("prompts", flag, "mednli", "--limit", "1", "-o", str(tmp_path / "p.jsonl"))
    assert prompts.returncode == 0, prompts.stderr
    predictions = tmp_path / "pred.jsonl"
    predictions.write_text("".join(json.dumps({"id": f"demo-mednli-{i:02d}", "output": "NEUTRAL"}) + "\n" for i in range(1, 16)))
    from clue.tasks.registry import get_task

    demo = get_task("mednli").demo_path()
    score = clue("score", flag, "mednli", "--data", str(demo), "--predictions", str(predictions), "-o", str(tmp_path / "s"))
    assert score.returncode in (0, 1), score.stderr  # 1: items without a prediction; never a usage error
    assert (tmp_path / "s" / "results.json").is_file()


def test_data_for_a_task_not_in_the_run_is_an_error(tmp_path):
    proc = clue("run", "--tasks", "meqsum", "--data", f"mednli={tmp_path / 'x.xlsx'}", "-o", str(tmp_path / "run"))
    assert proc.returncode == 2
    assert "mednli is not in this run (tasks: meqsum)" in proc.stderr
    assert not (tmp_path / "run" / "results.json").exists()
    proc = clue("prompts", "--tasks", "meqsum", "--data", f"mednli={tmp_path / 'x.xlsx'}")
    assert proc.returncode == 2 and "mednli is not in this run" in proc.stderr


def test_a_single_task_run_prints_no_empty_level_rows(tmp_path):
    proc = clue("run", "--tasks", "mednli", "--bootstrap", "0", "-o", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr
    for level in ("level1", "level2", "overall"):
        assert level not in proc.stdout
    whole = clue("run", "--tasks", "level1", "--bootstrap", "0", "-o", str(tmp_path / "l1"))
    assert "level1" in whole.stdout and "level2" not in whole.stdout


def test_price_prints_the_cost_at_the_end_of_a_run(tmp_path):
    proc = clue("run", "--tasks", "mednli", "--bootstrap", "0", "--price", "mtok=2,currency=EUR", "-o", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert f"Cost: {manifest['cost']['total_cost']:.4f} EUR" in proc.stdout
    plain = clue("run", "--tasks", "mednli", "--bootstrap", "0", "-o", str(tmp_path / "run2"))
    assert "Cost:" not in plain.stdout


def test_prompts_prints_readable_requests_by_default_and_jsonl_with_dash(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = clue("prompts", "--tasks", "mednli", "--limit", "2")
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("=== mednli/") and "--- system\n" in text.stdout and "--- user\n" in text.stdout
    assert "2 requests (mednli 2)" in text.stderr
    dash = clue("prompts", "--tasks", "mednli", "--limit", "2", "-o", "-")
    assert dash.returncode == 0, dash.stderr
    rows = [json.loads(line) for line in dash.stdout.splitlines()]
    assert [r["task"] for r in rows] == ["mednli", "mednli"]
    assert not (tmp_path / "-").exists()
    clue("prompts", "--tasks", "mednli", "--limit", "2", "-o", "p.jsonl")
    assert [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()] == rows


def test_an_early_interrupt_claims_no_store(tmp_path, monkeypatch):
    from clue import api

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "run", interrupted)
    proc = clue("run", "--tasks", "mednli", "-o", str(tmp_path / "never"))
    assert proc.returncode == 130
    assert "nothing was kept" in proc.stderr and "store.sqlite" not in proc.stderr


def test_eta_comes_from_completed_work_only():
    now = [0.0]
    out = io.StringIO()
    progress = PlainProgress(Console(file=out, width=200), interval_s=10, now=lambda: now[0])
    now[0] = 10.0
    progress("longhealth", 1, 11)  # the first answer after 10 s: 10 s each, 100 s to go
    for t in (30.0, 60.0, 120.0):  # then a slow prompt: nothing completes
        now[0] = t
        progress.tick()
    lines = out.getvalue().splitlines()
    assert lines and all(line.endswith("0.1/s, ETA 0:01:40") for line in lines), lines


@pytest.mark.parametrize("args, hint", [
    (("--tasks", "MedNLI"), "did you mean 'mednli'?"),
    (("--tasks", "mednli,LongHealth"), "did you mean 'longhealth'?"),
    (("--protocol", "clue-2024"), "unknown protocol 'clue-2024'; did you mean 'clue-2024-06'?"),
    (("--protocol", "CLUE"), "did you mean 'clue'?"),
    (("--model", "gpt-4o"), "did you mean 'openai:gpt-4o'"),
    (("--model", "opnai:gpt-4o"), "did you mean 'openai:gpt-4o'?"),
    (("--model", "Baseline"), "did you mean 'baseline'?"),
])
def test_typos_get_a_suggestion(tmp_path, args, hint):
    proc = clue("run", *args, "-o", str(tmp_path / "run"))
    assert proc.returncode == 2
    assert hint in proc.stderr.replace("\n", " "), proc.stderr

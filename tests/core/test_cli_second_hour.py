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


# -- 80 columns: wrap, never cut a name ----------------------------------------------------


def _no_cut(text: str, names) -> None:
    assert "…" not in text
    for name in names:
        assert name in text, name


def test_data_status_at_80_columns_keeps_every_file_name_whole(tmp_path):
    from clue.tasks.registry import all_tasks

    proc = clue("data", "status", "--data-dir", str(tmp_path), "--no-hash")
    assert proc.returncode == 0, proc.stderr
    _no_cut(proc.stdout, [t.expected_file for t in all_tasks().values()])
    assert max(len(line) for line in proc.stdout.splitlines()) <= 80 or "://" in proc.stdout  # only an unbreakable URL may run over


def test_next_steps_and_protocol_list_wrap_at_80_columns(tmp_path):
    for args in (("data", "status", "--data-dir", str(tmp_path), "--no-hash"), ("protocol", "list")):
        proc = clue(*args)
        assert proc.returncode == 0, proc.stderr
        for line in proc.stdout.splitlines():
            assert len(line) <= 80 or any(len(word) > 60 for word in line.split()), line


def test_tasks_at_80_columns_is_short_and_whole():
    from clue.tasks.registry import all_tasks

    proc = clue("tasks")
    assert proc.returncode == 0, proc.stderr
    _no_cut(proc.stdout, [t.expected_file for t in all_tasks().values()])
    assert len(proc.stdout.splitlines()) <= 4 * len(all_tasks()) + 2  # was 49 lines of one field each
    assert max(len(line) for line in proc.stdout.splitlines()) <= 80
    wide = clue("tasks", columns=132)  # a table (boxed where it fits, else borderless) before any blocks
    assert "expected file" in wide.stdout and "  expected file:" not in wide.stdout


def test_compare_at_80_columns_is_compact(tmp_path):
    for run in ("a", "b"):
        assert clue("run", "--output", str(tmp_path / run), "--bootstrap", "0").returncode == 0
    proc = clue("compare", str(tmp_path / "a"), str(tmp_path / "b"), "--resamples", "100")
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) < 60  # was 92 lines of blocks
    assert all(len(line) <= 80 for line in proc.stdout.splitlines())


@pytest.mark.parametrize("columns", [80, 100, 200])
def test_the_run_table_has_one_layout_at_every_width(tmp_path, columns):
    proc = clue("run", "--output", str(tmp_path / "run"), "--bootstrap", "0", columns=columns)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    header = next(line for line in lines if line.startswith("task"))
    assert header.split() == ["task", "n", "score", "[95%", "CI]", "metrics"]
    assert not any(line[:1] in "┏┃│└" for line in lines)
    table = lines[:next(i for i, line in enumerate(lines) if line.startswith("* incomplete"))]
    assert all(len(line) <= columns for line in table)
    assert "problem_summary" in proc.stdout and "umls_f1)" in proc.stdout


def test_a_table_never_splits_a_word_in_a_folding_column():
    from clue.cli.tables import print_table

    out = io.StringIO()
    print_table(Console(file=out, width=80), "T", ("task", "access", "file", "metrics"),
                [("problem_summary", "credentialed", "BioNLP2023-1A-Test.csv", "rouge1, rouge2, rougeL, bertscore, umls_f1")] * 3,
                whole=("task", "file"))
    text = out.getvalue()
    assert "credentialed" in text and "bertscore" in text and "umls_f1" in text

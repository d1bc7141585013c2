"""What a new user meets first: progress, help, tables at 80 columns, messages, one model per run directory."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from rich.console import Console

from clue.api import evaluate
from clue.cli.progress import PlainProgress, clock, with_progress
from clue.cli.tables import print_table
from clue.tasks.registry import all_tasks, get_task
from tests.helpers import cli


def clue(*args: str, columns: int = 80, env: dict[str, str | None] | None = None, cwd: Path | None = None) -> cli.Ran:
    """The command line in this process, 80 columns wide: what a new user's terminal shows."""
    return cli.clue(*args, columns=columns, env=env, cwd=cwd)


# -- progress ---------------------------------------------------------------------------


def test_plain_progress_prints_count_rate_and_eta_periodically():
    now = [0.0]
    out = io.StringIO()
    progress = PlainProgress(Console(file=out, width=200), interval_s=10, now=lambda: now[0])
    progress("mednli", 0, 100)
    for done in range(1, 100):
        now[0] = done * 0.5  # 2 answers a second
        progress("mednli", done, 100)
    now[0] = 50.0
    progress("mednli", 100, 100)
    lines = out.getvalue().splitlines()
    assert lines == [  # one line per 10 s while it runs, and one when it is done
        "mednli: 20/100 (20%), 2.0/s, ETA 0:00:40",
        "mednli: 40/100 (40%), 2.0/s, ETA 0:00:30",
        "mednli: 60/100 (60%), 2.0/s, ETA 0:00:20",
        "mednli: 80/100 (80%), 2.0/s, ETA 0:00:10",
        "mednli: 100/100 done in 50.0 s",
    ]


def test_clock_formats_hours_minutes_seconds():
    assert clock(3725) == "1:02:05" and clock(0) == "0:00:00"


def test_progress_bars_on_a_terminal_show_an_eta():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)

    def work(progress):
        progress("medisumcode", 1, 4)
        progress("medisumcode", 4, 4)
        return 7

    assert with_progress(work, console) == 7
    text = out.getvalue()
    assert "medisumcode" in text and "ETA" in text and "4/4" in text


def test_run_off_a_terminal_prints_plain_progress_lines(tmp_path):
    proc = clue("run", "--tasks", "mednli,medisumcode", "--output", str(tmp_path / "run"), "--bootstrap", "0")
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^mednli: 15/15 done in [\d.]+ s$", proc.stderr, re.M), proc.stderr
    assert re.search(r"^medisumcode: \d+/\d+ done in", proc.stderr, re.M)


def test_a_rerun_says_how_many_answers_came_from_the_store(tmp_path):
    args = ("run", "--tasks", "mednli,medisumcode", "--output", str(tmp_path / "run"), "--bootstrap", "0")
    first = clue(*args)
    assert first.returncode == 0 and "reused from the run store" not in first.stderr
    again = clue(*args)
    assert again.returncode == 0, again.stderr
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    total = sum(t["requests"] for t in manifest["tasks"].values())
    assert f"{total} of {total} answers reused from the run store" in again.stderr


# -- help and tables at 80 columns --------------------------------------------------------


def test_run_help_shows_every_default_and_whole_flag_names():
    proc = clue("run", "--help")
    assert proc.returncode == 0
    text = proc.stdout
    # LongHealth's budget is written once, in its declaration; the help says where the default comes from.
    assert "clue-runs/<model>" in text and "declared budget" in text and "[default: baseline]" in text
    for flag in ("--longhealth-budget", "--approve-endpoint", "--max-new-tokens", "--chat-layout", "--force"):
        assert flag in text, flag
    assert "…" not in text


def test_tasks_at_80_columns_shows_every_name_and_file_whole():
    proc = clue("tasks")
    assert proc.returncode == 0, proc.stderr
    assert "…" not in proc.stdout
    assert max(len(line) for line in proc.stdout.splitlines()) <= 80
    for name, task in all_tasks().items():
        assert re.search(rf"\b{name}\b", proc.stdout), name
        assert task.expected_file in proc.stdout, task.expected_file


def test_compare_at_80_columns_never_cuts_a_task_name(tmp_path):
    for run in ("a", "b"):
        proc = clue("run", "--tasks", "medisumqa,medisumcode", "--output", str(tmp_path / run), "--bootstrap", "0")
        assert proc.returncode == 0, proc.stderr
        assert "medisumqa" in proc.stdout and "medisumcode" in proc.stdout and "…" not in proc.stdout
    proc = clue("compare", str(tmp_path / "a"), str(tmp_path / "b"), "--resamples", "200")
    assert proc.returncode == 0, proc.stderr
    assert "medis…" not in proc.stdout and "…" not in proc.stdout
    assert re.search(r"\bmedisumqa\b", proc.stdout) and re.search(r"\bmedisumcode\b", proc.stdout)
    # table lines fit (prose lines are soft-wrapped by the terminal itself)
    assert all(len(line) <= 80 for line in proc.stdout.splitlines() if line[:1] in "┏┃┡│└")


def test_a_table_too_wide_for_the_terminal_becomes_blocks():
    out = io.StringIO()
    long_name = "a_task_with_a_very_long_name_that_cannot_be_cut"
    print_table(Console(file=out, width=40), "T", ("task", "file"), [(long_name, "some_file_name_to_type.jsonl")],
                whole=("task", "file"))
    text = out.getvalue()
    assert long_name in text and "file: some_file_name_to_type.jsonl" in text and "…" not in text


# -- messages -----------------------------------------------------------------------------


def test_unknown_task_suggests_the_close_one():
    proc = clue("run", "--tasks", "medlni")
    assert proc.returncode == 2
    assert "did you mean 'mednli'" in proc.stderr


def test_score_names_predictions_for_the_demonstrations(tmp_path):
    task = get_task("mednli")
    demo = task.demo_path()
    items = task.load(demo)
    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps({"id": item.id, "output": "entailment"}) + "\n" for item in items))
    proc = clue("score", "--task", "mednli", "--data", str(demo), "--predictions", str(preds), "--output", str(tmp_path / "s"))
    assert proc.returncode == 0, proc.stderr
    assert "matched no item" not in proc.stderr
    assert re.search(r"3 prediction id\(s\) are for the few-shot demonstrations, which are not scored", proc.stderr), proc.stderr


def test_data_dir_with_missing_files_names_all_of_them(tmp_path):
    proc = clue("run", "--tasks", "mednli,meqsum,longhealth", "--data-dir", str(tmp_path), "--output", str(tmp_path / "out"))
    assert proc.returncode == 2
    for name in ("mli_test_v1.jsonl", "MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx", "benchmark_v5.json"):
        assert name in proc.stderr, (name, proc.stderr)


# -- one model per run directory ----------------------------------------------------------


@pytest.fixture
def baseline_run(tmp_path):
    out = tmp_path / "run"
    results = evaluate("baseline", ["medisumcode"], output=out, bootstrap=0)
    assert results.failed_requests == 0 and (out / "results.json").is_file()
    return out


def test_another_model_into_an_existing_output_is_refused(baseline_run):
    before = (baseline_run / "results.json").read_text()
    proc = clue("run", "--tasks", "medisumcode", "--output", str(baseline_run), "-m", "openai:other-model",
                "--base-url", "http://server.invalid/v1")
    assert proc.returncode == 2, proc.stderr
    assert "holds the run of baseline:baseline, not openai:other-model" in proc.stderr
    assert "--force" in proc.stderr
    assert (baseline_run / "results.json").read_text() == before


def test_the_same_model_into_its_own_output_is_fine(baseline_run):
    proc = clue("run", "--tasks", "medisumcode", "--output", str(baseline_run), "--bootstrap", "0")
    assert proc.returncode == 0, proc.stderr


def test_force_lets_another_model_replace_the_run(baseline_run, tmp_path):
    from clue.pipeline.run import check_output_model

    check_output_model(baseline_run, "baseline", {})  # matches: no error
    with pytest.raises(Exception, match="holds the run of baseline:baseline"):
        check_output_model(baseline_run, "openai:m", {"base_url": "http://x.invalid/v1"})
    # --force skips the check before anything loads: the refusal text is gone (the backend's own errors may follow).
    proc = clue("run", "--tasks", "medisumcode", "--output", str(baseline_run), "-m", "openai:other-model", "--force")
    assert "holds the run of" not in proc.stderr


def test_openai_without_a_url_suggests_the_base_url_flag(tmp_path):
    proc = clue("run", "-m", "openai:some-model", "--tasks", "medisumcode", "--output", str(tmp_path / "o"),
                env={"OPENAI_BASE_URL": ""})
    assert proc.returncode == 2
    assert "--base-url http://127.0.0.1:8000/v1" in proc.stderr and "-O base_url" not in proc.stderr


def test_plain_progress_ticks_while_no_answer_arrives():
    now = [0.0]
    out = io.StringIO()
    progress = PlainProgress(Console(file=out, width=200), interval_s=10, now=lambda: now[0])
    progress("longhealth", 0, 9)
    now[0] = 5.0
    progress.tick()  # too soon
    now[0] = 12.0
    progress.tick()
    now[0] = 30.0
    progress("longhealth", 9, 9)
    progress.tick()  # finished: nothing more
    assert out.getvalue().splitlines() == ["longhealth: 0/9 (0%), waiting for answers, 12 s so far", "longhealth: 9/9 done in 30.0 s"]


def test_plain_progress_of_a_slow_model_says_seconds_per_answer():
    now = [0.0]
    out = io.StringIO()
    progress = PlainProgress(Console(file=out, width=200), interval_s=10, now=lambda: now[0])
    now[0] = 90.0
    progress("longhealth", 2, 15)
    assert out.getvalue().splitlines() == ["longhealth: 2/15 (13%), 45 s each, ETA 0:09:45"]


def test_a_task_first_heard_of_with_its_first_answer_is_timed_from_the_previous_event():
    now = [100.0]
    out = io.StringIO()
    progress = PlainProgress(Console(file=out, width=200), interval_s=1000, now=lambda: now[0])
    now[0] = 140.0
    progress("mednli", 1, 1)  # one slow answer: 40 s since the start, not 0
    now[0] = 150.0
    progress("meqsum", 1, 1)
    assert out.getvalue().splitlines() == ["mednli: 1/1 done in 40.0 s", "meqsum: 1/1 done in 10.0 s"]

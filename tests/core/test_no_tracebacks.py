"""Issue 21 items 8-9: bad input and damaged files end in one line and the documented exit status, never a traceback."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.cli import clue

SMOKING = """\
name = "smoking"
access = "public"
data = "smoking.csv"
max_new_tokens = 8
metrics = ["accuracy"]
labels = ["current", "former", "never"]

[fields]
id = "note_id"
gold = "status"
inputs = { note = "note" }
"""


def one_line_error(ran, status: int = 2) -> str:
    assert ran.returncode == status, ran.stderr
    assert "Traceback" not in ran.stderr + ran.stdout
    return ran.stderr


def smoking(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "smoking.toml").write_text(SMOKING)
    (folder / "smoking.csv").write_text("note_id,note,status\n1,a,current\n2,b,former\n3,c,never\n4,d,never\n")
    (folder / "smoking.system.txt").write_text("Classify.\n")
    (folder / "smoking.user.txt").write_text("Note: $note\n")
    return folder / "smoking.toml"


def test_a_task_file_or_template_that_is_not_utf8(tmp_path):
    task = smoking(tmp_path / "t")
    task.write_bytes(task.read_bytes().replace(b'"smoking.csv"', b'"smoking.csv"\ntitle = "caf\xe9"'))
    err = one_line_error(clue("run", "--tasks", task, "--output", tmp_path / "o"))
    assert "not UTF-8 text (byte 0xe9" in err and "smoking.toml" in err
    task = smoking(tmp_path / "t2")
    (task.parent / "smoking.system.txt").write_bytes(b"Classify caf\xe9\n")
    err = one_line_error(clue("run", "--tasks", task, "--output", tmp_path / "o2"))
    assert "smoking.system.txt" in err and "not UTF-8 text" in err


def test_a_binary_sweep_file_and_a_word_for_a_number(tmp_path):
    sweep = tmp_path / "sweep.yaml"
    sweep.write_bytes(b"\x00\x01\xff\xfe binary")
    assert "not UTF-8 text" in one_line_error(clue("sweep", sweep))
    sweep.write_text("temperature: hot\nmodels:\n  - spec: baseline\n")
    assert "temperature must be a number" in one_line_error(clue("sweep", sweep))


@pytest.mark.parametrize("value, problem", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("9" * 5001, "more digits than can be read"),
])
def test_json_python_cannot_read_is_bad_input(tmp_path, value, problem):
    data = tmp_path / "mednli.jsonl"
    data.write_text('{"pairID": "a", "sentence1": ' + value + ', "sentence2": "x", "gold_label": "neutral"}\n')
    err = one_line_error(clue("run", "--tasks", "mednli", "--data", f"mednli={data}", "--output", tmp_path / "o"))
    assert problem in err and "line 1" in err
    array = tmp_path / "records.json"
    array.write_text('[{"pairID": "a", "sentence1": ' + value + ', "sentence2": "x", "gold_label": "neutral"}]')
    from clue.core.errors import DataError
    from clue.formats.readers import read_records

    with pytest.raises(DataError, match=problem):
        read_records(array)


@pytest.fixture
def finished_run(tmp_path):
    out = tmp_path / "run"
    ran = clue("run", "--tasks", "meqsum", "--limit", "2", "--output", out, "--bootstrap", "0")
    assert ran.returncode == 0, ran.stderr
    return out


@pytest.mark.parametrize("damage", [
    "UPDATE completions SET meta = '{not json'",
    "UPDATE models SET identity = 'not json'",
    "DROP TABLE completions",
])
def test_a_damaged_run_store_is_named_not_a_traceback_nor_a_fresh_start(finished_run, damage):
    with sqlite3.connect(finished_run / "store.sqlite") as db:
        db.execute(damage)
    err = one_line_error(clue("run", "--tasks", "meqsum", "--limit", "2", "--output", finished_run, "--bootstrap", "0"))
    assert "damaged" in err and "sqlite3" in err and ".recover" in err
    err = one_line_error(clue("score", finished_run))
    assert "damaged" in err


def test_a_disk_io_error_on_a_full_disk_says_the_disk_is_full(tmp_path, monkeypatch):
    import shutil

    from clue.store import runs

    exc = sqlite3.OperationalError("disk I/O error")
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: shutil._ntuple_diskusage(100, 100, 0))  # type: ignore[attr-defined]
    assert "the disk is full" in str(runs.store_error(tmp_path / "store.sqlite", exc, 3))
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: shutil._ntuple_diskusage(1 << 40, 0, 1 << 40))  # type: ignore[attr-defined]
    assert "the disk is full" not in str(runs.store_error(tmp_path / "store.sqlite", exc, 3))


def test_ctrl_c_while_the_command_line_loads(tmp_path):
    code = (
        "import builtins, runpy\n"
        "real = builtins.__import__\n"
        "def imp(name, *a, **k):\n"
        "    if name == 'typer':\n"
        "        raise KeyboardInterrupt\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = imp\n"
        "runpy.run_module('clue.cli', run_name='__main__')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 130 and "Traceback" not in proc.stderr and "interrupted" in proc.stderr


def test_a_task_files_title_is_text_in_leaderboard_md(tmp_path):
    from clue.tasks.registry import unregister

    folder = tmp_path / "t"
    task = smoking(folder)
    for part in ("system", "user"):
        (folder / f"smoking.{part}.txt").rename(folder / f"titled.{part}.txt")
    task.write_text(SMOKING.replace('name = "smoking"', 'name = "titled"\ntitle = "<script>x</script> | extra"'))
    try:
        ran = clue("run", "--tasks", task, "--output", tmp_path / "run", "--bootstrap", "0")
        assert ran.returncode == 0, ran.stderr
        ran = clue("report", tmp_path / "run", "--out", tmp_path / "report")
        assert ran.returncode == 0, ran.stderr
    finally:
        unregister("titled")
    md = (tmp_path / "report" / "leaderboard.md").read_text()
    assert "<script>" not in md and "&lt;script&gt;x&lt;/script&gt; \\| extra" in md
    header = next(line for line in md.splitlines() if line.startswith("| #"))
    assert header.replace("\\|", "").count("|") == 7  # #, model, the task, three levels: one column for the title


def test_clue_report_takes_a_sweep_folders_glob(tmp_path):
    """docs/report.md and docs/cluster.md write `clue report sweeps/june/*`: the glob brings sweep-status.json."""
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(f"limit: 3\ntasks: meqsum\nbootstrap: 0\noutput: {tmp_path / 'june'}\n"
                     "models:\n  - spec: baseline\n    name: b1\n")
    assert clue("sweep", sweep).returncode == 0
    every = sorted((tmp_path / "june").glob("*"))
    assert (tmp_path / "june" / "sweep-status.json") in every
    ran = clue("report", *every, "--out", tmp_path / "report")
    assert ran.returncode == 0, ran.stderr
    assert "b1" in (tmp_path / "report" / "leaderboard.md").read_text()

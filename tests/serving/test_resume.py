"""`clue run` killed with SIGKILL mid-way, run again, gives what an uninterrupted run gives."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import cli
from tests.helpers.serving import need_serving_packages, write_mednli

need_serving_packages()

from tests.helpers.fakeserver import key_of_answer

ITEMS = 83  # 3 become demonstrations, 80 are scored


def clue(*args: str) -> list[str]:
    return [sys.executable, "-m", "clue.cli", *args]


def run(url: str, data: Path, out: Path) -> subprocess.Popen:
    command = clue(
        "run", "--model", "openai:fake-model", "--base-url", url, "--concurrency", "4",
        "--tasks", "mednli", "--data", f"mednli={data}", "--output", str(out),
    )
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def stored_answers(store: Path) -> list[str]:
    if not store.exists():
        return []
    try:
        with sqlite3.connect(store, timeout=5) as db:
            return [text for (text,) in db.execute("SELECT text FROM completions WHERE ok = 1")]
    except sqlite3.OperationalError:  # the tables are not there yet
        return []


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_killed_run_resumes_to_identical_outputs(serve, tmp_path):
    data = write_mednli(tmp_path / "mli_test_v1.jsonl", ITEMS)

    clean_server = serve(first_token_s=0.04, tokens=4)
    clean = tmp_path / "clean"
    proc = run(clean_server.url, data, clean)
    assert proc.wait(120) == 0, proc.stderr.read()

    # Early items hang on their first attempt, so the run cannot finish before
    # the kill however slow this machine is; the resumed run gets them answered.
    hang = {f"item-{i} ": ["hang"] for i in (4, 5, 6)}
    server = serve(first_token_s=0.04, tokens=4, faults=hang, hang_s=60)
    resumed = tmp_path / "resumed"
    proc = run(server.url, data, resumed)
    deadline = time.monotonic() + 60
    while len(stored_answers(resumed / "store.sqlite")) < 30:
        assert proc.poll() is None, "the run finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    done_before_kill = {key_of_answer(t) for t in stored_answers(resumed / "store.sqlite")}
    assert 30 <= len(done_before_kill) < ITEMS - 3
    assert not (resumed / "results.json").exists()

    proc = run(server.url, data, resumed)
    assert proc.wait(120) == 0, proc.stderr.read()

    for name in ("results.json", "predictions/mednli.jsonl"):
        assert (resumed / name).read_bytes() == (clean / name).read_bytes(), name
    # Nothing committed before the kill was asked again; only requests in flight
    # at the kill (at most the concurrency, 4) could be answered twice.
    delivered = server.successes()
    assert all(delivered[key] == 1 for key in done_before_kill)
    assert len(delivered) == ITEMS - 3
    assert sum(delivered.values()) <= ITEMS - 3 + 4
    hung = [h for h in server.log if h.outcome == "hang"]
    assert hung and all(h.attempt == 1 and delivered[h.key] == 1 for h in hung)

    # Scoring again from the store needs no model: the server hears nothing more.
    asked = len(server.log)
    rescored = cli.clue("score", str(resumed))
    assert rescored.returncode == 0, rescored.stderr
    assert (resumed / "results.json").read_bytes() == (clean / "results.json").read_bytes()
    assert len(server.log) == asked


def test_clue_run_refuses_a_remote_endpoint_for_credentialed_data(tmp_path, monkeypatch):
    monkeypatch.setenv("CLUE_APPROVED_ENDPOINTS", str(tmp_path / "none.toml"))
    data = write_mednli(tmp_path / "mli_test_v1.jsonl", 8)
    out = tmp_path / "run"
    proc = cli.clue("run", "--model", "openai:m", "--base-url", "http://203.0.113.7:8000/v1", "--tasks", "mednli",
                    "--data", f"mednli={data}", "--output", str(out))
    assert proc.returncode == 4, proc.stderr
    assert "PhysioNet" in proc.stderr and "--approve-endpoint http://203.0.113.7:8000" in proc.stderr
    assert not out.exists()

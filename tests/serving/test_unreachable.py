"""A run whose server cannot be reached stops at once with what is wrong, instead of half a minute of retries."""

from __future__ import annotations

import json
import socket
import time

from tests.helpers import cli


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_server_stops_after_the_first_round_with_the_address_and_exit_1(tmp_path):
    port = closed_port()
    start = time.monotonic()
    proc = cli.clue("run", "-m", "openai:stub", "--base-url", f"http://127.0.0.1:{port}/v1", "--tasks", "mednli",
                    "-o", str(tmp_path / "run"))
    assert proc.returncode == 1, proc.stderr
    assert f"cannot connect to 127.0.0.1:{port} (connection refused)" in proc.stderr
    assert "Traceback" not in proc.stderr and "Task was destroyed" not in proc.stderr
    assert time.monotonic() - start < 10  # the retries of every request (~25 s) are not spent
    assert not (tmp_path / "run" / "results.json").exists()


def test_one_replica_down_the_other_answers(serve, tmp_path):
    server = serve()
    port = closed_port()
    proc = cli.clue("run", "-m", "openai:fake-model", "--base-url", f"http://127.0.0.1:{port}/v1,{server.url}",
                    "--tasks", "mednli", "--bootstrap", "0", "-o", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["tasks"]["mednli"]["complete"] and "missing" not in proc.stdout


def test_a_server_gone_after_some_answers_keeps_them_and_resumes(serve, tmp_path):
    from clue.store.runs import RunStore

    server = serve()
    args = ("-m", "openai:fake-model", "--base-url", server.url, "--tasks", "mednli", "--bootstrap", "0", "-o", str(tmp_path / "run"))
    first = cli.clue("run", *args, "--limit", "2")
    assert first.returncode == 0, first.stderr
    server.stop()
    gone = cli.clue("run", *args, "--limit", "4")
    assert gone.returncode == 1 and "cannot connect to 127.0.0.1:" in gone.stderr, gone.stderr
    with RunStore(tmp_path / "run" / "store.sqlite") as store:
        assert store.counts()["ok"] == 2  # what it had is kept

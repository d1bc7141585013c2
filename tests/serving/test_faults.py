"""The run directory under faults: a second process, a full disk, a damaged store, a read-only
folder, a kill during a write, Ctrl-C. Each ends in one clear line and keeps what was committed."""

from __future__ import annotations

import json
import os
import shutil
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

from tests.helpers.fakeserver import key_of_answer  # noqa: E402

DRIVER = Path(__file__).with_name("fault_driver.py")
ITEMS = 43  # 3 become demonstrations, 40 are scored
linux_only = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="the fault driver reads /proc/self/fd")


def clue_args(url: str, data: Path, out: Path, *extra: str) -> list[str]:
    return ["run", "--model", "openai:fake-model", "--base-url", url, "--concurrency", "2",
            "--tasks", "mednli", "--data", f"mednli={data}", "--output", str(out), *extra]


def clue(*args: str, fault: tuple[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess | cli.Ran:
    """``clue ARGS`` in this process; with a fault, in a process of its own that the fault driver patches."""
    if fault is None:
        return cli.clue(*args)
    return subprocess.run([sys.executable, str(DRIVER), *fault, "--", *args], capture_output=True, text=True, timeout=timeout)


def _ctrl_c_reaches_it() -> None:
    # A user's Ctrl-C reaches a foreground process. A shell that runs the test suite as a
    # background job (CI's `step cmd &`) hands every child SIGINT ignored, and Python then keeps
    # it ignored: restore the default so that the child installs its KeyboardInterrupt handler.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "clue.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=_ctrl_c_reaches_it if hasattr(signal, "SIGINT") else None)


def stored(store: Path) -> list[str]:
    if not store.exists():
        return []
    try:
        with sqlite3.connect(store, timeout=5) as db:
            return [text for (text,) in db.execute("SELECT text FROM completions WHERE ok = 1")]
    except sqlite3.OperationalError:
        return []


def wait_for(condition, proc: subprocess.Popen | None = None, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert proc is None or proc.poll() is None, "the run ended too early"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def one_clear_line(proc: subprocess.CompletedProcess | cli.Ran | tuple[int, str], code: int = 2) -> str:
    rc, err = proc if isinstance(proc, tuple) else (proc.returncode, proc.stderr)
    assert rc == code, err
    assert "Traceback" not in err and "╭" not in err, err
    return err


def reused(out: Path) -> int:
    return json.loads((out / "manifest.json").read_text())["reused_from_store"]


# -- item 8: one process per run directory ---------------------------------------------------
def test_a_second_run_on_the_same_output_is_refused_naming_the_holder(serve, tmp_path):
    data = write_mednli(tmp_path / "mli.jsonl", ITEMS)
    hang = {f"item-{i} ": ["hang"] for i in range(10, 14)}  # the first run cannot finish while we look
    server = serve(first_token_s=0.02, tokens=4, faults=hang, hang_s=12)
    out = tmp_path / "run"
    first = start(*clue_args(server.url, data, out, "-O", "timeout=30", "--concurrency", "4"))
    wait_for(lambda: len(stored(out / "store.sqlite")) >= 5, first)

    second = clue(*clue_args(server.url, data, out))
    err = one_clear_line(second)
    assert f"pid {first.pid}" in err and "in use by another clue process" in err
    rescore = clue("score", str(out))
    assert f"pid {first.pid}" in one_clear_line(rescore)

    assert first.wait(120) == 0, first.stderr.read()
    # Only the first run asked the server: every prompt exactly once.
    assert sum(server.attempts().values()) == ITEMS - 3
    # The lock went with its holder: the same command now runs (from the store).
    again = clue(*clue_args(server.url, data, out))
    assert again.returncode == 0, again.stderr
    assert reused(out) == ITEMS - 3


def slow_sweep(folder: Path, data: Path, url: str) -> Path:
    """A sweep file of one model on the fake server, one request at a time (output: folder/sweep-out)."""
    sweep = folder / "sweep.yaml"
    sweep.write_text(
        f"output: {folder / 'sweep-out'}\ntasks: mednli\ndata: {{mednli: {data}}}\n"
        f"models:\n  - spec: openai:fake-model\n    name: fake\n    options: {{base_url: '{url}', concurrency: 1}}\n"
    )
    return sweep


def test_a_second_sweep_on_the_same_output_is_refused(serve, tmp_path):
    data = write_mednli(tmp_path / "mli.jsonl", ITEMS)
    server = serve(first_token_s=0.3, tokens=4)
    sweep = slow_sweep(tmp_path, data, server.url)
    first = start("sweep", str(sweep))
    wait_for(lambda: len(stored(tmp_path / "sweep-out" / "fake" / "store.sqlite")) >= 2, first)
    err = one_clear_line(clue("sweep", str(sweep)))
    assert f"pid {first.pid}" in err and "sweep-out" in err
    run_into_model_dir = clue(*clue_args(server.url, data, tmp_path / "sweep-out" / "fake"))
    assert f"pid {first.pid}" in one_clear_line(run_into_model_dir)
    first.kill()
    first.wait(30)


# -- item 9: full disk, damaged store, read-only folder ---------------------------------------
@linux_only
def test_a_full_disk_in_the_store_is_one_line_and_a_resume_reuses_every_committed_answer(serve, tmp_path):
    data = write_mednli(tmp_path / "mli.jsonl", ITEMS)
    server = serve(first_token_s=0.01, tokens=400)  # long answers fill the pages quickly
    out = tmp_path / "run"
    full = clue(*clue_args(server.url, data, out), fault=("store-full", "10"))
    err = one_clear_line(full)
    assert "the disk is full" in err and "store.sqlite" in err
    committed = stored(out / "store.sqlite")
    assert 0 < len(committed) < ITEMS - 3
    assert f"The {len(committed)} answer(s) committed before are kept" in err

    resumed = clue(*clue_args(server.url, data, out))
    assert resumed.returncode == 0, resumed.stderr
    assert reused(out) == len(committed)
    delivered = server.successes()
    assert all(delivered[key_of_answer(t)] == 1 for t in committed)  # none asked again


@linux_only
def test_a_full_disk_while_writing_results_is_one_line_and_keeps_the_answers(serve, tmp_path):
    data = write_mednli(tmp_path / "mli.jsonl", ITEMS)
    server = serve(first_token_s=0.0, tokens=4)
    out = tmp_path / "run"
    err = one_clear_line(clue(*clue_args(server.url, data, out), fault=("write-enospc", "mednli.jsonl")))
    assert "cannot write" in err and "mednli.jsonl: No space left on device" in err
    assert not list(out.rglob("*.tmp"))  # the failed write removed its temporary file
    resumed = clue(*clue_args(server.url, data, out))
    assert resumed.returncode == 0, resumed.stderr
    assert reused(out) == ITEMS - 3
    assert sum(server.successes().values()) == ITEMS - 3


def test_a_damaged_store_is_one_line(serve, tmp_path):
    data = write_mednli(tmp_path / "mli.jsonl", ITEMS)
    server = serve(first_token_s=0.0, tokens=40)
    out = tmp_path / "run"
    assert clue(*clue_args(server.url, data, out)).returncode == 0
    store = out / "store.sqlite"
    raw = bytearray(store.read_bytes())
    assert len(raw) > 4 * 4096
    raw[2 * 4096:len(raw)] = b"\x07" * (len(raw) - 2 * 4096)  # overwritten past the header page
    store.write_bytes(bytes(raw))
    for args in (clue_args(server.url, data, out), ["score", str(out)]):
        err = one_clear_line(clue(*args))
        assert "store.sqlite" in err and "damaged" in err and ".recover" in err


@linux_only
def test_a_new_folder_under_a_read_only_folder_is_one_line(tmp_path):
    readonly = tmp_path / "mount"
    readonly.mkdir()
    out = readonly / "new" / "run"
    err = one_clear_line(clue("run", "--tasks", "mednli", "--output", str(out), fault=("readonly-mkdir", str(readonly))))
    assert f"cannot write {readonly / 'new'}" in err and "Read-only file system" in err


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_folder_without_write_permission_is_one_line(tmp_path):
    readonly = tmp_path / "locked"
    readonly.mkdir()
    readonly.chmod(0o555)
    try:
        err = one_clear_line(clue("run", "--tasks", "mednli", "--output", str(readonly / "new" / "run")))
        assert "Permission denied" in err
    finally:
        readonly.chmod(0o755)


# -- item 10: leftovers of a kill, stale predictions ----------------------------------------
@linux_only
def test_a_kill_during_a_write_leaves_a_temporary_file_that_the_next_run_removes(tmp_path):
    out = tmp_path / "run"
    killed = clue("run", "--tasks", "mednli", "--output", str(out), fault=("kill-writing", "results.json"))
    assert killed.returncode == -signal.SIGKILL
    leftovers = list(out.glob(".results.json.*.tmp"))
    assert len(leftovers) == 1
    (out / "predictions" / ".mine.tmp").write_text("not clue's")
    (out / ".results.json.notclue.tmp.bak").write_text("not clue's either")
    again = clue("run", "--tasks", "mednli", "--output", str(out))
    assert again.returncode == 0, again.stderr
    assert not leftovers[0].exists()
    assert (out / "predictions" / ".mine.tmp").exists() and (out / ".results.json.notclue.tmp.bak").exists()


def test_fewer_tasks_into_a_run_folder_leave_no_predictions_beyond_results(tmp_path):
    out = tmp_path / "run"
    assert clue("run", "--tasks", "mednli,meqsum", "--output", str(out)).returncode == 0
    assert (out / "predictions" / "meqsum.jsonl").exists()
    assert clue("run", "--tasks", "mednli", "--output", str(out)).returncode == 0
    listed = set(json.loads((out / "results.json").read_text())["tasks"])
    assert listed == {"mednli"}
    assert {p.stem for p in (out / "predictions").glob("*.jsonl")} == listed
    # The answers are still in the store: running meqsum again rebuilds its file from it.
    assert clue("run", "--tasks", "mednli,meqsum", "--output", str(out)).returncode == 0
    assert reused(out) == json.loads((out / "manifest.json").read_text())["tasks"]["mednli"]["requests"] + \
        json.loads((out / "manifest.json").read_text())["tasks"]["meqsum"]["requests"]


# -- item 11: Ctrl-C --------------------------------------------------------------------------
@pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="needs SIGINT")
def test_ctrl_c_exits_130_saying_what_was_kept_and_how_to_resume(serve, tmp_path):
    data = write_mednli(tmp_path / "mli.jsonl", ITEMS)
    hang = {f"item-{i} ": ["hang"] for i in range(10, 14)}
    server = serve(first_token_s=0.02, tokens=4, faults=hang, hang_s=60)
    out = tmp_path / "run"
    proc = start(*clue_args(server.url, data, out))
    wait_for(lambda: len(stored(out / "store.sqlite")) >= 5, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    one_clear_line((proc.returncode, err), code=130)
    kept = len(stored(out / "store.sqlite"))
    assert f"interrupted: {kept} answer(s) are kept in {out / 'store.sqlite'}" in err
    assert "Run the same command again to resume" in err and f"--output {out}" in err

    resumed = clue(*clue_args(server.url, data, out, "-O", "timeout=2"))
    assert resumed.returncode in (0, 1), resumed.stderr  # the hung items may fail: then they are retried later
    assert reused(out) == kept


def test_the_resume_command_is_shown_without_secrets(monkeypatch):
    from clue.cli.console import this_command

    monkeypatch.setattr(sys, "argv", ["clue", "run", "--base-url", "http://me:sk-SECRET1@10.0.0.5:8000/v1?api_key=sk-SECRET2",
                                      "--output", "runs/a b"])
    shown = this_command()
    assert "sk-SECRET" not in shown
    assert shown == "clue run --base-url 'http://***@10.0.0.5:8000/v1?api_key=***' --output 'runs/a b'"


@pytest.fixture
def tiny_disk(tmp_path):
    """A 16 MiB tmpfs where this machine lets the test mount one (root with CAP_SYS_ADMIN); else skip."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if not (shutil.which("mount") and shutil.which("umount")):
        pytest.skip("no mount program here; the injected-fault tests cover the same paths")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root); the injected-fault tests cover the same paths")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_really_full_disk_then_freed_resumes_from_every_committed_answer(serve, tmp_path, tiny_disk):
    data = write_mednli(tmp_path / "mli.jsonl", 403)
    server = serve(first_token_s=0.0, tokens=400)
    filler = tiny_disk / "filler"
    free = os.statvfs(tiny_disk).f_bavail * os.statvfs(tiny_disk).f_frsize
    filler.write_bytes(b"\0" * (free - 160 * 1024))  # room for a few dozen answers, not for 400
    out = tiny_disk / "run"
    err = one_clear_line(clue(*clue_args(server.url, data, out)))
    assert "No space left on device" in err or "the disk is full" in err
    committed = stored(out / "store.sqlite")
    assert committed
    filler.unlink()
    resumed = clue(*clue_args(server.url, data, out))
    assert resumed.returncode == 0, resumed.stderr
    assert reused(out) == len(committed)
    assert all(server.successes()[key_of_answer(t)] == 1 for t in committed)


@pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="needs SIGINT")
def test_ctrl_c_in_a_sweep_exits_130_saying_what_was_kept(serve, tmp_path):
    server = serve(first_token_s=0.2, tokens=4)
    sweep = slow_sweep(tmp_path, write_mednli(tmp_path / "mli.jsonl", ITEMS), server.url)
    proc = start("sweep", str(sweep))
    store = tmp_path / "sweep-out" / "fake" / "store.sqlite"
    wait_for(lambda: len(stored(store)) >= 3, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    one_clear_line((proc.returncode, err), code=130)
    assert f"answer(s) are kept in {store}" in err and f"clue sweep {sweep}" in err

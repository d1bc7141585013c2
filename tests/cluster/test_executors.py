"""``clue sweep --executor ray|slurm``: the same sweep spread over workers gives the same files.

A local Ray cluster (2 CPUs) runs three models, two at once: byte-identical
results to the local executor; a worker killed mid-model is started again and
resumes from its store, asking again only what was in flight. submitit's
LocalExecutor (what ``--executor slurm`` uses on a cluster) runs the same sweep.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import tempfile
import threading
import time
from pathlib import Path

import pytest

from clue.core.errors import UsageError
from clue.core.results import read_results
from clue.pipeline.executors import Job, LocalExecutor, RayExecutor, SlurmExecutor, SlurmSettings, make_executor
from clue.pipeline.sweep import load_sweep, run_sweep
from clue.store.runs import RunStore
from tests.helpers.netns import PROXY_VARIABLES, not_loopback_only_reason, only_loopback
from tests.helpers.stub_server import StubServer

HAS_RAY = importlib.util.find_spec("ray") is not None
HAS_SUBMITIT = importlib.util.find_spec("submitit") is not None
RAY_MISSING = "ray is not installed (pip install 'clue-eval[ray]'; .ci/install-cluster.sh)"
# Ray's own traffic goes out on the machine's interface: the Ray tests run in a loopback-only namespace only.
needs_ray = pytest.mark.skipif(not HAS_RAY or not only_loopback(),
                               reason=RAY_MISSING if not HAS_RAY else not_loopback_only_reason())
needs_submitit = pytest.mark.skipif(
    not HAS_SUBMITIT, reason="submitit is not installed (pip install 'clue-eval[slurm]'; .ci/install-cluster.sh)")
TASKS = "mednli,meqsum,longhealth"
CONCURRENCY = 2


def tiny_model_entry(root: Path) -> dict | None:
    """The sweep tests' random-weight Llama, on CPU, when torch and transformers are here."""
    from tests.report.test_sweep import tiny_hf_model

    folder = tiny_hf_model(root / "tiny-model")
    if folder is None:
        return None
    return {"spec": f"hf:{folder}", "name": "tiny-llama", "tasks": "mednli,meqsum", "max_new_tokens": 8,
            "options": {"device": "cpu"}}


def write_sweep(path: Path, out: Path, models: list[dict], extra: str = "") -> Path:
    lines = [f'output = "{out}"', f'tasks = "{TASKS}"', "seed = 42", "limit = 3", 'price = { mtok = 0.5 }', extra, ""]
    for m in models:
        lines.append("[[models]]")
        for key, value in m.items():
            if isinstance(value, dict):
                lines.append(f"{key} = {{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items()) + " }")
            else:
                lines.append(f"{key} = {json.dumps(value)}")
        lines.append("")
    path.write_text("\n".join(lines))
    return path


@pytest.fixture(scope="module")
def servers():
    stubs = [StubServer("stub-model", latency=0.1, max_seconds=600).start() for _ in range(2)]
    yield stubs
    for s in stubs:
        s.stop()


@pytest.fixture(scope="module")
def models(servers, tmp_path_factory):
    """baseline, a stub-served model and (with torch) a tiny local model, else a second stub-served model."""
    stub = {"spec": "openai:stub-model", "name": "stub-a",
            "options": {"base_url": servers[0].base_url, "concurrency": CONCURRENCY, "max_retries": 0}}
    third = tiny_model_entry(tmp_path_factory.mktemp("tiny")) or {
        "spec": "openai:stub-model", "name": "stub-b", "price": {"gpu_hour": 2.0},
        "options": {"base_url": servers[1].base_url, "concurrency": CONCURRENCY, "max_retries": 0}}
    return [stub, third, {"spec": "baseline"}]


@pytest.fixture(scope="module")
def local_sweep(models, tmp_path_factory):
    root = tmp_path_factory.mktemp("local")
    plan = load_sweep(write_sweep(root / "sweep.toml", root / "runs", models))
    outcomes = run_sweep(plan, log=lambda line: None)
    assert [o.status for o in outcomes] == ["done"] * 3, [o.error for o in outcomes]
    return plan


@pytest.fixture(scope="module")
def ray_cluster():
    if not HAS_RAY:
        pytest.skip(RAY_MISSING)
    if not only_loopback():
        pytest.skip(not_loopback_only_reason())
    import ray

    saved = {name: os.environ.pop(name) for name in PROXY_VARIABLES if name in os.environ}  # Ray probes cloud
    # metadata through a proxy it is given

    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    ray.init(num_cpus=2, num_gpus=0, include_dashboard=False, log_to_driver=False, _temp_dir=temp,
             runtime_env={"env_vars": {"NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}})
    yield ray
    ray.shutdown()
    os.environ.update(saved)


def run_files(run: Path) -> dict[str, bytes]:
    """What a run says about the model: results.json and every predictions file, byte for byte."""
    files = {"results.json": (run / "results.json").read_bytes()}
    for path in sorted((run / "predictions").glob("*.jsonl")):
        files[f"predictions/{path.name}"] = path.read_bytes()
    return files


def assert_same_runs(a, b):
    for ma, mb in zip(a.models, b.models):
        assert run_files(ma.output) == run_files(mb.output), ma.name


def watch_concurrency(servers, done: threading.Event) -> list[tuple[int, int]]:
    """Samples of (answered by stub A, answered by stub B) while the sweep runs."""
    samples: list[tuple[int, int]] = []
    while not done.is_set():
        samples.append((servers[0].answered(), servers[1].answered()))
        time.sleep(0.05)
    return samples


@needs_ray
def test_ray_runs_two_models_at_once_and_gives_the_local_results(ray_cluster, servers, models, local_sweep, tmp_path):
    plan = load_sweep(write_sweep(tmp_path / "sweep.toml", tmp_path / "runs", models))
    before = [s.answered() for s in servers]
    done = threading.Event()
    samples: list[tuple[int, int]] = []
    watcher = threading.Thread(target=lambda: samples.extend(watch_concurrency(servers, done)))
    watcher.start()
    lines: list[str] = []
    try:
        executor = make_executor("ray", plan.cluster, tmp_path, log=lines.append)
        outcomes = run_sweep(plan, log=lines.append, executor=executor)
    finally:
        done.set()
        watcher.join()
    assert [o.status for o in outcomes] == ["done"] * 3, lines
    assert_same_runs(local_sweep, plan)
    status = json.loads((plan.output / "sweep-status.json").read_text())
    assert [m["status"] for m in status["models"]] == ["done"] * 3
    if models[1]["name"] == "stub-b":  # both stubs answering at the same moment: two models ran at once
        totals = [s.answered() - b for s, b in zip(servers, before)]
        assert any(before[0] < a < before[0] + totals[0] and before[1] < b < before[1] + totals[1] for a, b in samples)
    # Workers on a cluster say where they ran; the cost went in with the results.
    marker = json.loads((plan.models[0].output / "sweep.json").read_text())
    assert marker["status"] == "done"
    cost = json.loads((plan.models[0].output / "results.json").read_text())["cost"]
    assert cost["price"] == {"completion_mtok": 0.5, "currency": "USD", "prompt_mtok": 0.5} and cost["gpus"] == 0


def stored_ok(run: Path) -> int:
    if not (run / "store.sqlite").is_file():
        return 0
    with RunStore(run / "store.sqlite") as store:
        return store.counts()["ok"]


def kill_mid_model(plan, stub: StubServer, executor) -> tuple[list, dict]:
    """Run the sweep in a thread; SIGKILL the process running stub-a once some of its answers are stored."""
    run = plan.models[0].output
    start = stub.answered()
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(outcomes=run_sweep(plan, log=result.setdefault("log", []).append,
                                                                              executor=executor)))
    thread.start()
    deadline = time.monotonic() + 240
    killed = None
    while time.monotonic() < deadline and thread.is_alive():
        marker = run / "sweep.json"
        if stored_ok(run) >= 4 and marker.is_file():
            info = json.loads(marker.read_text())
            if info.get("status") == "running" and info.get("pid") not in (None, os.getpid()):
                killed = {"pid": info["pid"], "answered": stub.answered() - start, "stored": stored_ok(run)}
                os.kill(info["pid"], signal.SIGKILL)
                break
        time.sleep(0.02)
    thread.join(timeout=400)
    assert killed is not None, f"the sweep ended before its worker could be killed: {result.get('log')}"
    return result["outcomes"], {**killed, "log": result["log"]}


def fresh_stub_sweep(tmp_path: Path, latency: float = 0.1):
    stub = StubServer("stub-model", latency=latency, max_seconds=600).start()
    models = [{"spec": "openai:stub-model", "name": "stub-a",
               "options": {"base_url": stub.base_url, "concurrency": CONCURRENCY, "max_retries": 0}},
              {"spec": "baseline", "tasks": "mednli"}]
    return stub, load_sweep(write_sweep(tmp_path / "sweep.toml", tmp_path / "runs", models))


def check_resumed(stub: StubServer, plan, outcomes, killed, reference) -> None:
    assert [o.status for o in outcomes] == ["done", "done"], killed["log"]
    results = read_results(plan.models[0].output / "results.json")
    total = sum(t.n for t in results.tasks.values())
    assert 0 < killed["stored"] < total  # killed mid-model
    # Every request answered; one asked twice only if it was in flight at the kill.
    assert total <= sum(stub.prompts.values()) <= total + CONCURRENCY
    assert all(t.failed_requests == 0 for t in results.tasks.values())
    marker = json.loads((plan.models[0].output / "sweep.json").read_text())
    assert marker["status"] == "done"
    assert run_files(plan.models[0].output) == run_files(reference)


@needs_ray
def test_a_ray_worker_killed_mid_model_is_retried_and_resumes_from_its_store(ray_cluster, local_sweep, tmp_path):
    stub, plan = fresh_stub_sweep(tmp_path)
    try:
        outcomes, killed = kill_mid_model(plan, stub, make_executor("ray", plan.cluster, tmp_path, max_retries=2))
        check_resumed(stub, plan, outcomes, killed, local_sweep.models[0].output)
    finally:
        stub.stop()


@needs_submitit
def test_submitit_local_executor_runs_the_same_sweep(models, local_sweep, tmp_path):
    extra = f'[cluster]\nexecutor = "slurm"\nslurm = {{ cluster = "local", logs = "{tmp_path / "logs"}", time = "00:20:00" }}'
    plan = load_sweep(write_sweep(tmp_path / "sweep.toml", tmp_path / "runs", models, extra))
    executor = make_executor(plan.cluster["executor"], plan.cluster, tmp_path)
    assert isinstance(executor, SlurmExecutor)
    outcomes = run_sweep(plan, log=lambda line: None, executor=executor)
    assert [o.status for o in outcomes] == ["done"] * 3, [o.error for o in outcomes]
    assert_same_runs(local_sweep, plan)
    assert any((tmp_path / "logs").iterdir())  # submitit's job files


@needs_submitit
def test_a_submitit_job_killed_mid_model_is_submitted_again(local_sweep, tmp_path):
    stub, plan = fresh_stub_sweep(tmp_path)
    try:
        executor = SlurmExecutor(SlurmSettings(cluster="local", logs=tmp_path / "logs", time=20), max_retries=1)
        outcomes, killed = kill_mid_model(plan, stub, executor)
        assert any("took 2 start(s)" in line for line in killed["log"]), killed["log"]
        check_resumed(stub, plan, outcomes, killed, local_sweep.models[0].output)
    finally:
        stub.stop()


@needs_ray
def test_a_ray_job_that_keeps_dying_is_reported_after_its_retries(ray_cluster, tmp_path):
    starts = tmp_path / "starts"

    def dies(path: str) -> str:  # nested: Ray ships it by value to a worker that cannot import this file
        Path(path).write_text((Path(path).read_text() if Path(path).exists() else "") + "x")
        os.kill(os.getpid(), signal.SIGKILL)
        return "never"

    executor = RayExecutor(max_retries=1)
    ends = list(executor.run([Job("doomed", (str(starts),))], dies))
    assert len(ends) == 1 and ends[0].result is None
    assert "died 2 time(s)" in ends[0].error
    assert starts.read_text() == "xx"


def test_a_model_that_fails_is_reported_and_the_others_finish_on_any_executor(tmp_path):
    path = write_sweep(tmp_path / "sweep.toml", tmp_path / "runs",
                       [{"spec": "openai:nowhere", "name": "broken"}, {"spec": "baseline", "tasks": "mednli"}])
    executors = ["local"] + (["slurm"] if HAS_SUBMITIT else [])
    for kind in executors:
        plan = load_sweep(path)
        plan.cluster = {"slurm": {"cluster": "local", "logs": str(tmp_path / "logs")}}
        outcomes = run_sweep(plan, log=lambda line: None, force=True, executor=make_executor(kind, plan.cluster, tmp_path))
        assert [o.status for o in outcomes] == ["failed", "done"], kind
        assert "base_url" in outcomes[0].error


def test_the_cluster_section_is_checked(tmp_path):
    for body, message in [
        ('[cluster]\nexecutor = "k8s"\n', "executor must be one of"),
        ('[cluster]\nmax_retries = -1\n', "max_retries must be a whole number"),
        ('[cluster]\nnodes = 3\n', "unknown key"),
        ('[cluster.slurm]\npartitions = "gpu"\n', "cluster.slurm: unknown key"),
    ]:
        path = tmp_path / "sweep.toml"
        path.write_text('models = ["baseline"]\n' + body)
        with pytest.raises(UsageError, match=message):
            load_sweep(path)


def test_a_missing_extra_is_named(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # what an absent package looks like to import
    monkeypatch.setitem(sys.modules, "submitit", None)
    with pytest.raises(UsageError, match=r"clue-eval\[ray\]"):
        RayExecutor()
    with pytest.raises(UsageError, match=r"clue-eval\[slurm\]"):
        SlurmExecutor(SlurmSettings())


@needs_submitit
def test_slurm_without_slurm_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no srun, sbatch
    with pytest.raises(UsageError, match="no Slurm"):
        SlurmExecutor(SlurmSettings(logs=tmp_path / "logs"))


def test_gpu_specs_ask_for_their_gpus(tmp_path):
    path = tmp_path / "sweep.toml"
    path.write_text('models = [{spec = "vllm:/m", options = {tensor_parallel_size = 2, pipeline_parallel_size = 2}},'
                    ' {spec = "hf:/m", options = {device = "cpu"}}, {spec = "openai:m", name = "served", gpus = 8}]\n')
    plan = load_sweep(path)
    assert [m.gpus_held() for m in plan.models] == [4, 0, 8]
    jobs: list[Job] = []

    class Recording(LocalExecutor):
        name = "recording"

        def run(self, jobs_, work, progress=None):
            jobs.extend(jobs_)
            return iter(())

    run_sweep(plan, log=lambda line: None, executor=Recording())
    assert [(j.name, j.gpus, j.cpus) for j in jobs] == [("vllm:/m", 4, 1), ("hf:/m", 0, 1), ("served", 8, 1)]


@needs_submitit
def test_clue_sweep_on_submitit_exits_1_when_a_model_failed(tmp_path):
    from tests.helpers.cli import clue

    extra = f'[cluster]\nslurm = {{ cluster = "local", logs = "{tmp_path / "logs"}" }}'
    path = write_sweep(tmp_path / "sweep.toml", tmp_path / "runs",
                       [{"spec": "openai:nowhere", "name": "broken"}, {"spec": "baseline", "tasks": "mednli"}], extra)
    proc = clue("sweep", str(path), "--executor", "slurm", "--max-parallel", "1")
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "1 of 2 model(s) failed: broken" in proc.stderr
    assert (tmp_path / "runs" / "baseline" / "results.json").is_file()
    bad = clue("sweep", str(path), "--executor", "k8s")
    assert bad.returncode != 0 and "--executor must be one of" in bad.stderr


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (dead, not yet reaped by its parent) is gone for our purpose.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return True


@needs_ray
def test_ctrl_c_cancels_the_models_still_running_on_ray(ray_cluster, tmp_path):
    stub, plan = fresh_stub_sweep(tmp_path, latency=0.3)
    run = plan.models[0].output
    try:
        def interrupt_once_running() -> None:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if stored_ok(run) >= 1:
                    signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
                    return
                time.sleep(0.05)

        # Under a shell's background job SIGINT arrives ignored; a user's Ctrl-C raises KeyboardInterrupt.
        before = signal.signal(signal.SIGINT, signal.default_int_handler)
        threading.Thread(target=interrupt_once_running, daemon=True).start()
        try:
            with pytest.raises(KeyboardInterrupt):
                run_sweep(plan, log=lambda line: None, executor=make_executor("ray", plan.cluster, tmp_path))
        finally:
            signal.signal(signal.SIGINT, before)
        pid = json.loads((run / "sweep.json").read_text())["pid"]
        answered = stub.answered()
        deadline = time.monotonic() + 30
        while process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not process_alive(pid)  # the worker running the model was stopped
        time.sleep(1.0)
        assert stub.answered() <= answered + CONCURRENCY  # nothing more is being asked
        status = json.loads((plan.output / "sweep-status.json").read_text())
        assert status["models"][0]["status"] == "pending"
    finally:
        stub.stop()


@needs_submitit
def test_slurm_jobs_ask_for_the_models_resources(tmp_path, monkeypatch):
    """The sbatch script submitit would submit for a 4-GPU model, on a machine that only pretends to have Slurm."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "srun").write_text("#!/bin/sh\nexit 0\n")
    (fake_bin / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}:{os.environ.get('PATH', '')}")
    settings = SlurmSettings(partition="gpu", time="1-02:30:00", mem_gb=64, account="clue", qos="normal",
                             constraint="a100", logs=tmp_path / "logs", setup=["module load cuda"])
    executor = SlurmExecutor(settings, max_parallel=3)
    executor.executor.update_parameters(**executor._parameters(Job("Llama-2-70b", (), gpus=4, cpus=8)))
    script = executor.executor._executor._make_submission_file_text("python -m x", "uid")
    for line in ("#SBATCH --partition=gpu", "#SBATCH --gpus-per-node=4", "#SBATCH --cpus-per-task=8",
                 "#SBATCH --time=1590", "#SBATCH --mem=64GB", "#SBATCH --account=clue", "#SBATCH --qos=normal",
                 "#SBATCH --constraint=a100", "#SBATCH --job-name=clue-Llama-2-70b", "module load cuda"):
        assert line in script, (line, script)

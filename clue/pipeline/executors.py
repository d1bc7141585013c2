"""Where the models of a sweep run: one after another here (local), as Ray tasks, or as Slurm jobs.

Every executor runs the same work function on each job and yields each result as it finishes, so a
sweep's files do not depend on the executor. docs/cluster.md has the ``cluster`` section, retries,
resources and cancellation.
"""

from __future__ import annotations

import importlib
import os
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clue.core.errors import UsageError

EXECUTORS = ("local", "ray", "slurm")
CLUSTER_KEYS = {"executor", "max_retries", "max_parallel", "cpus_per_model", "ray", "slurm"}
RAY_KEYS = {"address", "num_cpus", "num_gpus", "log_to_driver"}
SLURM_KEYS = {"partition", "time", "mem_gb", "account", "qos", "logs", "setup", "cluster", "constraint", "cpus_per_model"}
DEFAULT_RETRIES = 2
EXTRAS = {"ray": ("ray", "ray"), "submitit": ("slurm", "submitit")}

Progress = Callable[[str, int, int], None]


def import_extra(module: str) -> Any:
    """Import ray or submitit, or say which extra installs it."""
    extra, package = EXTRAS[module]
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UsageError(
            f"the {extra} executor needs {package}, which is not installed: pip install 'clue-eval[{extra}]'"
        ) from None


def cluster_section(value: Any, where: str) -> dict[str, Any]:
    """Check a sweep file's ``cluster`` section (see the module's doc)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise UsageError(f"{where}: 'cluster' maps cluster settings to values")
    section = dict(value)
    unknown = sorted(set(section) - CLUSTER_KEYS)
    if unknown:
        raise UsageError(f"{where}: cluster: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(CLUSTER_KEYS))}")
    if "executor" in section and section["executor"] not in EXECUTORS:
        raise UsageError(f"{where}: cluster: executor must be one of {', '.join(EXECUTORS)}, got {section['executor']!r}")
    for key in ("max_retries", "max_parallel", "cpus_per_model"):
        if key in section:
            v = section[key]
            low = 0 if key == "max_retries" else 1
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise UsageError(f"{where}: cluster: {key} must be a whole number of at least {low}, got {v!r}")
    for name, keys in (("ray", RAY_KEYS), ("slurm", SLURM_KEYS)):
        sub = section.get(name)
        if sub is None:
            continue
        if not isinstance(sub, Mapping):
            raise UsageError(f"{where}: cluster: '{name}' maps {name} settings to values")
        unknown = sorted(set(sub) - keys)
        if unknown:
            raise UsageError(f"{where}: cluster.{name}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(keys))}")
        section[name] = dict(sub)
    return section


@dataclass
class Job:
    """One model to run: ``work(*args)`` on a worker with these resources."""

    name: str
    args: tuple[Any, ...]
    gpus: int = 0
    cpus: int = 1


@dataclass
class Finished:
    """A job's end: the work's result, or why the job itself died (after its retries)."""

    job: Job
    result: Any = None
    error: str | None = None
    starts: int = 1


class Executor(ABC):
    """Runs jobs and yields each one's end as it comes; Ctrl-C cancels what is left."""

    name = ""

    def __init__(self, *, max_retries: int = DEFAULT_RETRIES, max_parallel: int | None = None,
                 log: Callable[[str], None] | None = None):
        self.max_retries = max_retries
        self.max_parallel = max_parallel
        self.log = log or (lambda line: None)

    @abstractmethod
    def run(self, jobs: Sequence[Job], work: Callable[..., Any],
            progress: Callable[[Job], Progress | None] | None = None) -> Iterator[Finished]:
        """Run ``work(*job.args)`` for every job; yield each job's end as it comes."""

    def cancel(self) -> None:  # noqa: B027 - optional
        """Stop every job still running or waiting (Ctrl-C); the sweep calls it wherever the interrupt lands."""

    def close(self) -> None:  # noqa: B027 - optional
        """Release what the executor started (a local Ray cluster)."""


class LocalExecutor(Executor):
    """In this process, one job after another (the default): what ``clue sweep`` always did."""

    name = "local"

    def run(self, jobs, work, progress=None):
        for job in jobs:
            on_progress = progress(job) if progress else None
            yield Finished(job, work(*job.args, on_progress=on_progress))


class RayExecutor(Executor):
    """Each job a Ray task holding its GPUs; a task whose worker died is retried by Ray itself."""

    name = "ray"

    def __init__(self, *, address: str | None = None, init_options: Mapping[str, Any] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.ray = import_extra("ray")
        self.started = False
        self.running: dict[Any, Job] = {}  # object ref -> job, while it runs
        if not self.ray.is_initialized():
            options = dict(init_options or {})
            options.setdefault("log_to_driver", False)
            if address:
                self.ray.init(address=address, **options)
            else:  # a new cluster of this machine only, for this sweep (never one that happens to run here)
                self.ray.init(address="local", **options)
            self.started = True
        resources = self.ray.cluster_resources()
        self.log(f"ray: {'connected to ' + address if address else 'local cluster'}: "
                 f"{resources.get('CPU', 0):g} CPU, {resources.get('GPU', 0):g} GPU")

    def run(self, jobs, work, progress=None):
        ray = self.ray
        remote = ray.remote(work)
        waiting = list(jobs)
        running = self.running = {}
        try:
            while waiting or running:
                while waiting and (self.max_parallel is None or len(running) < self.max_parallel):
                    job = waiting.pop(0)
                    ref = remote.options(num_cpus=job.cpus, num_gpus=job.gpus, max_retries=self.max_retries,
                                         retry_exceptions=False, name=f"clue-sweep:{job.name}").remote(*job.args)
                    running[ref] = job
                ready, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
                for ref in ready:
                    job = running.pop(ref)
                    try:
                        result = ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:  # the work raised (it reports its own failures)
                        cause = getattr(exc, "cause", None) or exc
                        yield Finished(job, error=f"{type(cause).__name__}: {_first_line(cause)}")
                    except ray.exceptions.RayError as exc:  # the worker died on every start it was given
                        yield Finished(job, error=f"its worker died {self.max_retries + 1} time(s): "
                                                  f"{type(exc).__name__}: {_first_line(exc)}", starts=self.max_retries + 1)
                    else:
                        yield Finished(job, result)
        except KeyboardInterrupt:
            self.cancel()
            raise

    def cancel(self) -> None:
        for ref, job in list(self.running.items()):
            self.log(f"{job.name}: cancelled")
            self.ray.cancel(ref, force=True)
        self.running.clear()

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()
            self.started = False


@dataclass
class _Submitted:
    job: Job
    handle: Any
    starts: int = 1


@dataclass
class SlurmSettings:
    partition: str | None = None
    time: str | int | None = None
    mem_gb: float | None = None
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    logs: Path = Path("slurm-logs")
    setup: list[str] = field(default_factory=list)
    cluster: str = "slurm"  # "local": submitit's LocalExecutor, the same jobs as processes of this machine


def _minutes(value: str | int | None) -> int | None:
    """Slurm's time forms: minutes, "HH:MM:SS", "MM:SS" or "D-HH:MM:SS"."""
    if value is None:
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    days = 0
    if "-" in text:
        d, _, text = text.partition("-")
        days = int(d)
    parts = [int(p) for p in text.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0)
    h, m, s = parts[-3:]
    return max(1, days * 1440 + h * 60 + m + (1 if s else 0))


class SlurmExecutor(Executor):
    """One job per model through submitit: an array per set of resources; a job that died is submitted again."""

    name = "slurm"

    def __init__(self, settings: SlurmSettings, **kwargs: Any):
        super().__init__(**kwargs)
        self.submitit = import_extra("submitit")
        self.settings = settings
        try:
            self.minutes = _minutes(settings.time)
        except ValueError:
            raise UsageError(f"cluster.slurm: time must be minutes or HH:MM:SS, got {settings.time!r}") from None
        try:
            self.executor = self.submitit.AutoExecutor(folder=str(settings.logs), cluster=settings.cluster)
        except RuntimeError as exc:  # submitit finds no srun/sbatch
            raise UsageError(f"the slurm executor found no Slurm on this machine ({exc}); run the sweep from a "
                             "Slurm login node, or set cluster.slurm.cluster = \"local\" to run its jobs here") from None
        self.poll_s = 0.5 if settings.cluster == "local" else 10.0
        self.pending: list[_Submitted] = []  # jobs submitted and not yet ended

    def _parameters(self, job: Job) -> dict[str, Any]:
        s = self.settings
        params: dict[str, Any] = {"name": f"clue-{job.name}"[:64], "nodes": 1, "tasks_per_node": 1,
                                  "cpus_per_task": job.cpus, "gpus_per_node": job.gpus,
                                  "timeout_min": self.minutes or (60 * 24 if s.cluster != "local" else 60)}
        if s.mem_gb is not None:
            params["mem_gb"] = s.mem_gb
        slurm = {"slurm_partition": s.partition, "slurm_account": s.account, "slurm_qos": s.qos,
                 "slurm_constraint": s.constraint, "slurm_setup": list(s.setup) or None,
                 "slurm_array_parallelism": self.max_parallel}
        params.update({k: v for k, v in slurm.items() if v is not None})
        if s.cluster == "local" and s.setup:
            params["local_setup"] = list(s.setup)
        return params

    def _submit(self, jobs: Sequence[Job], work: Callable[..., Any]) -> list[Any]:
        self.executor.update_parameters(**self._parameters(jobs[0]))
        if len(jobs) == 1:
            return [self.executor.submit(work, *jobs[0].args)]
        handles = []
        with self.executor.batch():
            for job in jobs:
                handles.append(self.executor.submit(work, *job.args))
        return handles

    def run(self, jobs, work, progress=None):
        groups: dict[tuple[int, int], list[Job]] = {}
        for job in jobs:
            groups.setdefault((job.gpus, job.cpus), []).append(job)
        pending = self.pending = []
        try:
            if self.settings.cluster == "local" and self.max_parallel is not None:
                waiting = list(jobs)  # submitit's local executor starts everything at once: hold the rest back
            else:
                waiting = []
                for group in groups.values():
                    pending += [_Submitted(j, h) for j, h in zip(group, self._submit(group, work))]
            while pending or waiting:
                while waiting and (self.max_parallel is None or len(pending) < self.max_parallel):
                    job = waiting.pop(0)
                    pending.append(_Submitted(job, self._submit([job], work)[0]))
                finished = [p for p in pending if p.handle.done()]
                if not finished:
                    time.sleep(self.poll_s)
                    continue
                for p in finished:
                    pending.remove(p)
                    try:
                        result = p.handle.result()
                    except Exception as exc:  # the job died: killed, node failure, time limit, out of memory
                        reason = f"{type(exc).__name__}: {_first_line(exc)}"
                        if p.starts <= self.max_retries:
                            self.log(f"{p.job.name}: its job {p.handle.job_id} died ({reason}); submitting it again "
                                     f"({p.starts}/{self.max_retries})")
                            pending.append(_Submitted(p.job, self._submit([p.job], work)[0], p.starts + 1))
                        else:
                            yield Finished(p.job, error=f"its job died {p.starts} time(s): {reason}", starts=p.starts)
                    else:
                        yield Finished(p.job, result, starts=p.starts)
        except KeyboardInterrupt:
            self.cancel()
            raise

    def cancel(self) -> None:
        for p in list(self.pending):
            self.log(f"{p.job.name}: cancelling job {p.handle.job_id}")
            p.handle.cancel(check=False)
        self.pending.clear()


def _first_line(exc: BaseException) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()  # Ray colours its messages
    return text.splitlines()[0] if text else ""


def make_executor(
    kind: str, cluster: Mapping[str, Any], base: Path, *, address: str | None = None, max_parallel: int | None = None,
    max_retries: int | None = None, log: Callable[[str], None] | None = None,
) -> Executor:
    """The executor ``kind`` names, set up from a sweep file's ``cluster`` section (options given here win)."""
    if kind not in EXECUTORS:
        raise UsageError(f"--executor must be one of {', '.join(EXECUTORS)}, got {kind!r}")
    common: dict[str, Any] = {
        "max_retries": cluster.get("max_retries", DEFAULT_RETRIES) if max_retries is None else max_retries,
        "max_parallel": max_parallel if max_parallel is not None else cluster.get("max_parallel"),
        "log": log,
    }
    if kind == "local":
        return LocalExecutor(**common)
    if kind == "ray":
        ray_conf = dict(cluster.get("ray") or {})
        init = {k: ray_conf[k] for k in ("num_cpus", "num_gpus", "log_to_driver") if k in ray_conf}
        return RayExecutor(address=address or ray_conf.get("address") or os.environ.get("RAY_ADDRESS"),
                           init_options=init, **common)
    conf = dict(cluster.get("slurm") or {})
    logs = Path(str(conf.get("logs", "slurm-logs"))).expanduser()
    settings = SlurmSettings(
        partition=conf.get("partition"), time=conf.get("time"), mem_gb=conf.get("mem_gb"), account=conf.get("account"),
        qos=conf.get("qos"), constraint=conf.get("constraint"), logs=logs if logs.is_absolute() else base / logs,
        setup=[str(s) for s in conf.get("setup") or []], cluster=str(conf.get("cluster", "slurm")),
    )
    return SlurmExecutor(settings, **common)


def cpus_per_model(cluster: Mapping[str, Any], kind: str) -> int:
    sub = cluster.get(kind) or {}
    return int(sub.get("cpus_per_model") or cluster.get("cpus_per_model") or 1)

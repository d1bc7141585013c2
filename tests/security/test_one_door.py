"""One door out (issue 21): every component that sends text goes through the egress guard first.

Refused endpoints are ``0.0.0.0:PORT`` aimed at a local listener that must hear
nothing, or ``.invalid`` names; approved ones are ``.invalid`` names that are
never connected to (the backends here are in-process fakes that only *say*
they have endpoints).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from clue.builders import build_medisumqa as qa
from clue.core.records import Completion, Request
from clue.metrics import model as model_metrics
from clue.models.base import Backend
from clue.pipeline.egress import EgressRefused
from tests.datasets.datasets_synth import admissions, write_tables
from tests.helpers.cli import clue
from tests.helpers.scripted_backends import FakeBackend
from tests.helpers.serving import need_serving_packages


class RemoteFake(FakeBackend):
    """The scripted builder backend, saying it sends to ``url``: what the guard checks, then pins."""

    def __init__(self, url: str):
        super().__init__("fake-model", {})
        self.url = url
        self.pins: dict[str, tuple[str, ...] | None] | None = None
        self.sent = 0

    def endpoints(self) -> list[str]:
        return [self.url]

    def pin(self, addresses: Mapping[str, Sequence[str] | None]) -> None:
        self.pins = {k: (tuple(v) if v is not None else None) for k, v in addresses.items()}

    def generate(self, requests: Sequence[Request]) -> Iterator[Completion]:
        self.sent += len(requests)
        yield from super().generate(requests)


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    folder = tmp_path / "mimic"
    folder.mkdir()
    return write_tables(folder, admissions(6), gz=False)[0]


@pytest.fixture
def no_bertscore(monkeypatch):
    def compute(names, ids, predictions, references, config=None):
        result = model_metrics.ModelMetricResult()
        for name in names:
            result.missing[name] = "disabled in this test"
        return result

    monkeypatch.setattr(model_metrics, "compute", compute)


# -- the MeDiSumQA builder (item 1) ------------------------------------------------------------------
def test_clue_data_build_medisumqa_is_refused_before_any_request(notes, listener, tmp_path):
    need_serving_packages()
    out = tmp_path / "out" / "medisumqa.json"
    ran = clue("data", "build", "medisumqa", "--notes", notes, "-m", "openai:m",
               "-O", f"base_url=http://0.0.0.0:{listener.port}/v1", "-n", "1", "--out", out,
               env={"OPENAI_API_KEY": "sk-must-not-leave-1234"})
    assert ran.returncode == 4, ran.stderr
    assert f"http://0.0.0.0:{listener.port}" in ran.stderr and "Nothing was sent" in ran.stderr
    assert "MIMIC-IV-Note" in ran.stderr and "--approve-endpoint" in ran.stderr
    assert "Traceback" not in ran.stderr
    assert listener.connections == 0 and listener.received == b""
    assert not qa.store_path_for(out).exists() and not out.exists()


def test_the_builder_api_is_guarded_too(notes, tmp_path):
    backend = RemoteFake("http://llm.invalid:8000")
    with pytest.raises(EgressRefused, match="llm.invalid"):
        qa.build(notes, backend, qa.store_path_for(tmp_path / "qa.json"), n=2, letters=4)
    assert backend.sent == 0 and backend.pins is None


def test_an_approved_builder_runs_and_its_manifest_names_the_approval(notes, tmp_path, no_bertscore):
    backend = RemoteFake("http://llm.invalid:8000")
    out = tmp_path / "qa.json"
    result = qa.build(notes, backend, qa.store_path_for(out), n=2, letters=4, approved=["http://llm.invalid:8000"])
    manifest = json.loads(qa.write(result, out).read_text())
    assert backend.sent > 0
    assert manifest["egress"] == {
        "approved": [{"endpoint": "http://llm.invalid:8000", "approved_by": "--approve-endpoint", "pinned": False}]
    }


def test_a_local_builder_needs_no_approval_and_records_none(notes, tmp_path, no_bertscore):
    backend = RemoteFake("http://127.0.0.1:9")
    out = tmp_path / "qa.json"
    manifest = json.loads(qa.write(qa.build(notes, backend, qa.store_path_for(out), n=2, letters=4), out).read_text())
    assert "egress" not in manifest and backend.pins is not None


# -- the manifest says which approval let a run through (item 7) -------------------------------------
def _approved_run(server, tmp_path: Path, *extra: str, env: dict[str, str | None] | None = None):
    from tests.helpers.serving import write_mednli

    port = server.port
    data = write_mednli(tmp_path / "mednli.jsonl", 6)
    out = tmp_path / "run"
    ran = clue("run", "--model", "openai:fake-model", "--base-url", f"http://0.0.0.0:{port}/v1", "--tasks", "mednli",
               "--data", f"mednli={data}", "--output", out, *extra, env=env)
    return ran, out, port


def test_a_run_an_approval_let_through_records_it_in_the_manifest(serve, tmp_path):
    need_serving_packages()
    server = serve()
    ran, out, port = _approved_run(server, tmp_path, "--approve-endpoint", "http://0.0.0.0:1")
    assert ran.returncode == 4  # another port is another endpoint
    ran, out, port = _approved_run(server, tmp_path, "--approve-endpoint", f"http://0.0.0.0:{port}")
    assert ran.returncode == 0, ran.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["egress"] == {
        "approved": [{"endpoint": f"http://0.0.0.0:{port}", "approved_by": "--approve-endpoint", "pinned": False}]
    }


def test_an_approvals_file_that_let_a_run_through_is_named(serve, tmp_path):
    need_serving_packages()
    server = serve()
    approvals = tmp_path / "approvals.toml"
    ran, out, port = _approved_run(server, tmp_path, env={"CLUE_APPROVED_ENDPOINTS": str(approvals)})
    assert ran.returncode == 4, ran.stderr
    approvals.write_text(f'[[endpoint]]\nurl = "http://0.0.0.0:{port}"\n')
    ran, out, port = _approved_run(server, tmp_path, env={"CLUE_APPROVED_ENDPOINTS": str(approvals)})
    assert ran.returncode == 0, ran.stderr
    [record] = json.loads((out / "manifest.json").read_text())["egress"]["approved"]
    assert record["approved_by"] == str(approvals)


def test_a_local_run_records_no_approval(serve, tmp_path):
    need_serving_packages()
    from tests.helpers.serving import write_mednli

    server = serve()
    data = write_mednli(tmp_path / "mednli.jsonl", 6)
    ran = clue("run", "--model", "openai:fake-model", "--base-url", server.url, "--tasks", "mednli",
               "--data", f"mednli={data}", "--output", tmp_path / "run")
    assert ran.returncode == 0, ran.stderr
    assert "egress" not in json.loads((tmp_path / "run" / "manifest.json").read_text())


# -- pins per endpoint, not per host name (item 3) ---------------------------------------------------
def test_one_host_on_two_ports_keeps_a_pin_for_each_and_the_manifest_tells_which(serve):
    need_serving_packages()
    import httpcore

    from clue.models.openai import OpenAIBackend
    from clue.pipeline.egress import check_egress
    from clue.tasks import get_task

    server = serve()
    checked, approved = f"http://model.invalid:{server.port}/v1", "http://model.invalid:1/v1"
    backend = OpenAIBackend("fake-model", {"base_url": f"{checked},{approved}"})
    check_egress(backend, [get_task("mednli")], approved=["http://model.invalid:1"],
                 resolver=lambda host: ["127.0.0.1"] if host == "model.invalid" else [])
    # The approved endpoint (by name) must not unpin the checked one on the same host name: the checked
    # port still connects to the checked address, with no DNS (model.invalid resolves nowhere).
    network = backend._transport(checked, sync=True)._pool._network_backend
    stream = network.connect_tcp("model.invalid", server.port, timeout=2)
    stream.close()
    with pytest.raises(httpcore.ConnectError, match="not checked"):
        network.connect_tcp("model.invalid", 2, timeout=2)
    details = backend.details()
    assert details["pinned"] is False  # not every endpoint is held to checked addresses
    assert details["pinned_endpoints"] == {f"http://model.invalid:{server.port}": True, "http://model.invalid:1": False}


# -- one door out: the components that can send, enumerated -------------------------------------------
#: Every function in clue that hands requests to a backend (found by reading the source), and why each is
#: behind the egress guard. A new one fails test_every_sender_is_enumerated until it is added here with a
#: test below that aims it at a refused address.
SENDERS = {
    "clue.pipeline.run:run_model.through_store": "run_model runs guarded() before any request",
    "clue.pipeline.run:evaluate": "called by run_model (guarded) and by clue score with the in-process StoreBackend",
    "clue.pipeline.run:generate_all": "the generation step of evaluate",
    "clue.pipeline.generate:stored_generate": "the run store's generation, called by the guarded entry points",
    "clue.pipeline.variants:evaluate_variants": "called by run_variants (guarded) and by clue score (StoreBackend)",
    "clue.pipeline.variants:through_store.generate": "run_variants' generation, after guarded()",
    "clue.pipeline.predictions:score_predictions": "the ReplayBackend, which has no endpoints (a predictions file)",
    "clue.builders.build_medisumqa:_generate": "build() runs guard() before reading a note",
    "clue.pipeline.judge:ask": "judges come from open_judges(), which runs check_egress on each before any call "
                               "(tests/judges: a refused judge address gets nothing)",
}
#: Modules that may open network connections, and what they send.
NETWORK_MODULES = {
    "clue/models/openai/client.py": "the OpenAI-compatible backend: endpoints() go through the guard, then pinned",
    "clue/models/openai/network.py": "that backend's transports, held to the pinned addresses",
    "clue/models/openai/options.py": "that backend's proxy settings (read, not connected)",
    "clue/models/netio.py": "the asyncio network layer under those transports",
    "clue/models/http1.py": "that backend's HTTP/1.1 client: connects only through the network it is given "
                            "(netio's layer, held to the pinned addresses: network.direct_network)",
    "clue/pipeline/egress.py": "the guard's own resolver (getaddrinfo)",
    "clue/pipeline/sweep.py": "socket.gethostname for the run marker",
    "clue/builders/fetch.py": "downloads data files and protocol scripts: sends no task text (credentials same-origin only)",
    "clue/metrics/bertscore.py": "downloads metric model weights from the hub: sends no task text",
}
NETWORK = re.compile(r"^\s*(import|from)\s+(httpx|httpcore|socket|aiohttp|requests|urllib\.request|http\.client|"
                     r"huggingface_hub)\b|load_httpx\(|urlopen\(|snapshot_download", re.M)
CLUE = Path(__file__).resolve().parents[2] / "clue"


def _senders() -> set[str]:
    found: set[str] = set()
    for path in CLUE.rglob("*.py"):
        module = ".".join(path.relative_to(CLUE.parent).with_suffix("").parts)

        def visit(node: ast.AST, stack: list[str], module: str = module) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    visit(child, [*stack, child.name])
                    continue
                if isinstance(child, ast.Call):
                    f = child.func
                    if (isinstance(f, ast.Name) and f.id in ("stored_generate", "generate_all")) or (
                        isinstance(f, ast.Attribute) and f.attr in ("generate", "generate_groups") and isinstance(f.value, ast.Name)
                        and f.value.id in ("backend", "b")
                    ):
                        found.add(f"{module}:{'.'.join(stack)}")
                visit(child, stack)

        visit(ast.parse(path.read_text(encoding="utf-8")), [])
    return found


def test_every_sender_is_enumerated():
    found = _senders()
    assert found - set(SENDERS) == set(), "a new way to send requests: route it through clue.pipeline.egress.guard"
    assert set(SENDERS) - found == set(), "SENDERS lists a function that no longer sends: update it"


def test_every_module_that_can_connect_is_enumerated():
    found = {path.relative_to(CLUE.parent).as_posix() for path in CLUE.rglob("*.py")
             if NETWORK.search(path.read_text(encoding="utf-8"))}
    assert found - set(NETWORK_MODULES) == set(), "a new module opens connections: say what it sends, or guard it"


def test_the_backends_that_skip_the_guard_have_no_endpoints(tmp_path):
    from clue.models.replay import ReplayBackend
    from clue.pipeline.generate import StoreBackend

    assert ReplayBackend("p.jsonl", {}, {}).endpoints() == []
    assert StoreBackend.endpoints is Backend.endpoints  # in-process: reads the run store


@pytest.mark.parametrize("entry", ["run", "variants", "sweep"])
def test_every_entry_point_that_loads_a_backend_is_refused_before_sending(entry, tmp_path, monkeypatch, listener):
    from clue.pipeline import run as run_module
    from clue.pipeline import variants as variants_module
    from clue.pipeline.config import RunSpec
    from tests.helpers.serving import write_mednli

    backends: list[RemoteFake] = []

    def load(spec, options=None):
        backends.append(RemoteFake(f"http://0.0.0.0:{listener.port}"))
        return backends[-1]

    monkeypatch.setattr(run_module, "load_backend", load)
    monkeypatch.setattr(variants_module, "load_backend", load)
    data = write_mednli(tmp_path / "mednli.jsonl", 6)
    spec = RunSpec.build({"model": "remote:m", "tasks": "mednli", "data": {"mednli": str(data)},
                          "output": str(tmp_path / "run")})
    if entry == "run":
        with pytest.raises(EgressRefused):
            run_module.run_model(spec)
    elif entry == "variants":
        with pytest.raises(EgressRefused):
            variants_module.run_variants(spec, variants_module.parse_design("prompts=2"))
    else:
        from clue.pipeline.sweep import load_sweep, run_model_safely

        sweep = tmp_path / "sweep.yaml"
        sweep.write_text(f"output: {tmp_path / 'out'}\ntasks: mednli\ndata: {{mednli: {data}}}\n"
                         "models:\n  - spec: baseline\n    name: m\n")
        plan = load_sweep(sweep)
        assert run_model_safely(plan, plan.models[0]).status == "refused"
    assert backends and all(b.sent == 0 for b in backends) and listener.connections == 0

"""What ``clue run`` does before its first request: no heavy imports, no package scan, no request keys.

The start-up target (issue 11; measured by bench/bench_startup.py, never timed
here) depends on these staying out of the path to the first request.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Sequence

import pytest

import clue.store.runs as runs
import clue.tasks.registry as registry
import clue.tasks.suite as suite
from clue.core.records import Completion, Decoding, Message, Request
from clue.models.base import Backend
from clue.pipeline.generate import stored_generate
from clue.store.runs import RunStore

# What loads only once results are computed or shown, or a task is not built in.
LATER = ("numpy", "pandas", "importlib.metadata", "rich.table", "pydantic", "httpx")

BEFORE_FIRST_REQUEST = """
import json, sys
import clue.cli, clue.cli.run, clue.pipeline.run, clue.models.openai
from clue.pipeline.config import RunSpec
from clue.pipeline.plan import plan, run_templates
from clue.core.tokens import ApproxTokenizer
from clue.tasks.suite import resolve_tasks
config = RunSpec(model="openai:m", tasks=resolve_tasks("mednli"), output="unused")
prepared = plan(config, ApproxTokenizer(), lambda: 1 / 0, run_templates(config))  # MedNLI needs no context
print(json.dumps({"cases": len(prepared[0].cases), "loaded": [m for m in %r if m in sys.modules]}))
"""


def test_nothing_heavy_is_imported_before_the_first_request():
    code = BEFORE_FIRST_REQUEST % (LATER,)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found["cases"] > 0
    assert found["loaded"] == [], f"imported before the first request: {found['loaded']}"


@pytest.fixture
def fresh_registry(monkeypatch):
    import importlib.metadata as md

    scans: list[str] = []
    real = md.entry_points

    def entry_points(**kw):
        scans.append(kw.get("group", ""))
        return real(**kw)

    monkeypatch.setattr(md, "entry_points", entry_points)
    registry._reset_for_tests()
    yield scans
    registry._reset_for_tests()


def test_built_in_tasks_resolve_without_reading_installed_packages(fresh_registry):
    assert suite.resolve_tasks("mednli,meqsum") == ["mednli", "meqsum"]
    assert registry.get_task("longhealth").name == "longhealth"
    assert fresh_registry == []


def test_installed_packages_are_read_once_when_a_name_is_not_built_in_or_every_task_is_wanted(fresh_registry):
    with pytest.raises(Exception, match="unknown task 'nosuch'"):
        registry.get_task("nosuch")
    assert fresh_registry == ["clue.tasks"]
    suite.resolve_tasks("all")
    registry.all_tasks()
    assert fresh_registry == ["clue.tasks"]


def test_all_and_levels_are_the_clue_suite_and_read_no_installed_package(fresh_registry):
    assert suite.resolve_tasks("all") == list(suite.CLUE.tasks)
    assert suite.resolve_tasks("level1") == list(suite.CLUE.level_members()["level1"])
    assert fresh_registry == []


class Recording(Backend):
    kind = "recording"

    def __init__(self, keys_made: list[int]):
        super().__init__("m")
        self.keys_made = keys_made
        self.keys_at_start: int | None = None

    def generate(self, requests: Sequence[Request]) -> Iterator[Completion]:
        self.keys_at_start = len(self.keys_made)
        for r in requests:
            yield Completion(r.id, f"answer {r.id}")


def test_a_fresh_run_computes_no_request_key_before_the_first_request(tmp_path, monkeypatch):
    made: list[int] = []
    real = runs.request_key
    monkeypatch.setattr("clue.pipeline.generate.request_key", lambda r, layout: made.append(1) or real(r, layout))
    requests = [Request(f"r{i}", [Message("user", f"q{i}")], Decoding(max_new_tokens=4)) for i in range(5)]
    with RunStore(tmp_path / "store.sqlite") as store:
        backend = Recording(made)
        first = list(stored_generate(backend, requests, store))
        assert backend.keys_at_start == 0 and len(made) == 5  # one key per answer, as it is stored
        # A re-run looks every request up by its key and asks the model nothing.
        made.clear()
        again = Recording(made)
        second = list(stored_generate(again, requests, store))
    assert again.keys_at_start is None and len(made) == 5
    assert [c.text for c in second] == [c.text for c in first]
    assert all(c.meta.get("stored") for c in second)


def test_the_openai_backend_loads_httpx_only_for_a_proxy_and_then_without_its_command_line_client():
    pytest.importorskip("httpx", reason="the OpenAI-compatible backend needs httpx (pip install 'clue-eval[openai]')")
    code = (
        "import sys\n"
        "from clue.models import load_backend\n"
        "backend = load_backend('openai:m', {'base_url': 'http://127.0.0.1:9/v1', 'context_length': 4096})\n"
        "backend.info()\n"
        "print('httpx' in sys.modules, 'httpcore' in sys.modules)\n"  # a direct server: clue's own client
        "load_backend('openai:m', {'base_url': 'http://127.0.0.1:9/v1', 'proxy': 'http://127.0.0.1:8', "
        "'context_length': 4096}).info()\n"
        "import httpx\n"
        "print(sorted(m for m in ('httpx._main', 'pygments', 'rich.syntax') if sys.modules.get(m) is not None))\n"
        "print(callable(httpx.main), httpx.AsyncClient.__name__)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    direct, loaded, usable = proc.stdout.splitlines()
    assert direct == "False False"
    assert loaded == "[]"
    assert usable == "True AsyncClient"


def test_a_limited_run_builds_only_the_prompts_it_asks_and_they_are_a_full_builds(monkeypatch, tmp_path):
    import clue.tasks.base as base
    from clue.core.tokens import ApproxTokenizer
    from clue.pipeline.config import RunSpec
    from clue.pipeline.plan import plan, run_templates

    data = tmp_path / "mli.jsonl"
    data.write_text("".join(json.dumps({"pairID": f"p{i}", "sentence1": f"Patient {i} has chest pain.",
                                        "sentence2": f"Patient {i} is well.", "gold_label": "neutral"}) + "\n"
                            for i in range(40)), encoding="utf-8")

    def planned(limit):
        config = RunSpec(model="openai:m", tasks=["mednli"], output=tmp_path / "out", data={"mednli": data}, limit=limit)
        return plan(config, ApproxTokenizer(), lambda: 4096, run_templates(config))[0].cases

    full = planned(None)
    built: list[int] = []
    real = base.fit_to_context
    monkeypatch.setattr(base, "fit_to_context", lambda *a, **k: built.append(1) or real(*a, **k))
    limited = planned(2)
    assert len(built) == 2 and len(full) > 30
    assert [(c.request.id, c.request.prompt_hash()) for c in limited] == \
        [(c.request.id, c.request.prompt_hash()) for c in full[:2]]


@pytest.mark.parametrize("full", ["", "1"])
def test_the_command_ends_at_once_with_its_status_its_output_and_its_exit_handlers(full):
    import os

    code = ("import atexit, sys\n"
            "atexit.register(lambda: print('exit handler ran', flush=True))\n"
            "sys.argv = ['clue'] + sys.argv[1:]\n"
            "from clue.cli import entry\n"
            "entry()\n")
    env = {**os.environ, "CLUE_FULL_EXIT": full}
    ok = subprocess.run([sys.executable, "-c", code, "--version"], capture_output=True, text=True, timeout=120, env=env)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines() == [ok.stdout.splitlines()[0], "exit handler ran"]
    assert ok.stdout.startswith("clue-eval ")
    bad = subprocess.run([sys.executable, "-c", code, "run", "--tasks", "nope"], capture_output=True, text=True,
                         timeout=120, env=env)
    assert bad.returncode == 2 and "nope" in bad.stderr and bad.stdout.strip() == "exit handler ran"

"""The server is asked for its model list only when a prompt depends on the context length.

``clue run`` against a server used to send ``GET /v1/models`` before any
work; for tasks whose prompts are never shortened (MedNLI under clue's own
protocol) that question is not needed to build them, so it waits until the
manifest is written, after the last answer.
"""

from __future__ import annotations

import pytest

from tests.helpers.serving import need_serving_packages, write_mednli

need_serving_packages()

from clue.models.openai import OpenAIBackend
from clue.pipeline.config import RunSpec
from clue.pipeline.run import run_model
from clue.tasks.base import BuildContext
from clue.tasks.registry import get_task


@pytest.fixture
def events(monkeypatch):
    """What the backend did, in order: 'models' (the model-list question), 'generate' (the first request goes out)."""
    seen: list[str] = []
    ask, generate = OpenAIBackend._ask_server_context, OpenAIBackend.generate_groups

    def asking(self):
        seen.append("models")
        return ask(self)

    def generating(self, requests):
        seen.append("generate")
        yield from generate(self, requests)

    monkeypatch.setattr(OpenAIBackend, "_ask_server_context", asking)
    monkeypatch.setattr(OpenAIBackend, "generate_groups", generating)  # what the run store reads
    return seen


def run(server, tmp_path, task: str, data, **options):
    config = RunSpec(model="openai:fake-model", tasks=[task], output=tmp_path / "run", data={task: data} if data else {},
                       bootstrap_resamples=0)
    return run_model(config.with_changes(options={"base_url": server.url, "concurrency": 4, **options}))


def test_a_task_that_cuts_nothing_starts_without_asking_and_records_the_context_after(serve, tmp_path, events):
    server = serve(max_model_len=2048)
    results = run(server, tmp_path, "mednli", write_mednli(tmp_path / "mli_test_v1.jsonl", 8))
    assert events == ["generate", "models"], "the model list is asked once, after the answers"
    manifest = (tmp_path / "run" / "manifest.json").read_text()
    assert '"context_length": 2048' in manifest and "server (max_model_len)" in manifest
    assert results.tasks["mednli"].n == 5


def test_a_task_that_shortens_documents_asks_first(serve, tmp_path, events):
    server = serve(max_model_len=4096)
    run(server, tmp_path, "meqsum", None)  # its bundled demo file; MeQSum's question is cut to fit the context
    assert events[:2] == ["models", "generate"] and events.count("models") == 1


def test_a_given_context_length_asks_nothing(serve, tmp_path, events):
    server = serve()
    run(server, tmp_path, "meqsum", None, context_length=4096)
    assert events == ["generate"]


@pytest.mark.parametrize(
    ("task", "protocol", "uses"),
    [
        ("mednli", "clue", False),  # no document to shorten
        ("meqsum", "clue", True),  # the consumer health question is the document
        ("problem_summary", "clue", True),
        ("medisumqa", "clue", True),
        ("medisumcode", "clue", True),
        ("longhealth", "clue", True),  # its documents are packed into a budget the context caps
        ("mednli", "clue-2024-06", True),  # the reference's server cut every prompt's start to fit
        ("mednli", "clue-2025-01", False),  # no truncation under vLLM
        ("longhealth", "clue-2025-01", True),
    ],
)
def test_which_tasks_depend_on_the_context(task, protocol, uses):
    assert get_task(task).uses_context(BuildContext(seed=0, protocol=protocol)) is uses

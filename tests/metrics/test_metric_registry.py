"""The Metric type and its registry: the built-in metrics, and a metric added by the documented steps.

The example metric is the one docs/metrics.md shows ("Adding a metric"), run
from the page itself, then used from a task file, a task declaration and an
installed package's entry point.
"""

from __future__ import annotations

import importlib.metadata as md
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from clue.core.errors import UsageError
from clue.core.records import Reference
from clue.metrics import registry
from clue.metrics.metric import TEXT, BatchMetric, Metric
from clue.metrics.registry import all_metrics, find_metric, get_metric, register_metric, unregister_metric
from clue.pipeline.config import RunSpec
from clue.pipeline.run import run_model
from clue.tasks.declaration import DataFiles, Declaration
from clue.tasks.registry import all_tasks, unregister
from clue.tasks.settings import Settings
from clue.tasks.suite import resolve_tasks
from clue.tasks.userfile import FileTask, read_spec

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def documented_example() -> str:
    """The Python block of docs/metrics.md's "Adding a metric" section."""
    section = DOC.read_text(encoding="utf-8").split("## Adding a metric", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.fixture
def exact_text() -> Iterator[Metric]:
    """The documented metric, registered by running the page's code; removed after the test."""
    namespace: dict[str, object] = {}
    exec(compile(documented_example(), str(DOC), "exec"), namespace)
    yield get_metric("exact_text")
    unregister_metric("exact_text")


@pytest.fixture
def forget_tasks() -> Iterator[None]:
    before = set(all_tasks())
    yield
    for name in set(all_tasks()) - before:
        unregister(name)


def write_text_task(folder: Path, metrics: str) -> Path:
    (folder / "prompts").mkdir()
    (folder / "prompts" / "short.system.txt").write_text("Answer in one word.\n")
    (folder / "prompts" / "short.user.txt").write_text("$question\n")
    (folder / "short.jsonl").write_text(
        '{"id": "1", "q": "Colour of the sky?", "a": "Blue"}\n{"id": "2", "q": "Opposite of hot?", "a": "cold"}\n'
    )
    path = folder / "short.toml"
    path.write_text(textwrap.dedent(f"""\
        name = "short"
        data = "short.jsonl"
        prompts = "prompts"
        max_new_tokens = 4
        metrics = {metrics}

        [fields]
        id = "id"
        gold = "a"
        inputs = {{ question = "q" }}
        """))
    return path


def reference(gold: str) -> Reference:
    return Reference(request_id="short/1", task="short", item_id="1", gold=gold)


def test_the_builtin_metrics_state_what_they_are():
    names = [m.name for m in all_metrics()]
    assert names[:13] == ["accuracy", "choice_accuracy", "rouge1", "rouge2", "rougeL", "bertscore", "umls_f1",
                          "em_f1", "ap_f1", "valid", "task1", "task2", "task3"]
    binary = {m.name for m in all_metrics() if m.binary}
    assert binary == {"accuracy", "choice_accuracy", "task1", "task2", "task3"}
    batch = [m for m in all_metrics() if m.batch]
    assert [m.name for m in batch] == ["bertscore", "umls_f1"]
    assert all(isinstance(m, BatchMetric) and m.needs_model for m in batch)
    assert all(m.aggregation == "mean" and m.higher_is_better for m in all_metrics())
    assert get_metric("rougeL").score("the fever", "fever", "the fever") == pytest.approx(2 / 3)
    with pytest.raises(NotImplementedError, match="batches"):
        get_metric("bertscore").score("a", "b", "a")


def test_the_declarations_derive_model_and_binary_metrics_from_the_objects():
    tasks = all_tasks()
    derived = {name: (tasks[name].model_metrics, tasks[name].paired_binary) for name in
               ("mednli", "meqsum", "problem_summary", "medisumqa", "medisumcode", "longhealth")}
    assert derived == {  # what the declarations stated by hand before
        "mednli": ((), ("accuracy",)),
        "meqsum": (("bertscore",), ()),
        "problem_summary": (("bertscore", "umls_f1"), ()),
        "medisumqa": (("bertscore", "umls_f1"), ()),
        "medisumcode": ((), ()),
        "longhealth": ((), ("task1", "task2", "task3")),
    }
    meqsum = tasks["meqsum"].declaration
    assert meqsum.metrics == meqsum.metric_names == ("rouge1", "rouge2", "rougeL", "bertscore")
    assert [m.name for m in meqsum.item_metrics] == ["rouge1", "rouge2", "rougeL"]
    assert [m.name for m in meqsum.batch_metrics] == ["bertscore"]
    assert list(meqsum.describe()) == ["task", "title", "level", "access", "expected_file", "format", "metrics",
                                       "model_metrics", "paired_binary", "resampling_unit", "shots", "max_new_tokens"]


def test_a_name_is_registered_once_and_an_unknown_one_is_refused():
    with pytest.raises(UsageError, match="already registered"):
        register_metric(type("Other", (Metric,), {"name": "accuracy"})())
    with pytest.raises(UsageError, match=r"unknown metric 'no_such_metric'; known: accuracy, choice_accuracy"):
        get_metric("no_such_metric")
    with pytest.raises(UsageError, match="unknown metric 'no_such_metric'"):
        Declaration(name="x", title="X", level=None, access="public", metrics=("no_such_metric",),
                    files=DataFiles(expected="x.jsonl", format="JSONL"), protocols={"clue": Settings(1, 1)})


def test_the_documented_metric_scores_a_task_file(tmp_path, exact_text, forget_tasks):
    assert exact_text.answer == TEXT and exact_text.binary and not exact_text.batch
    task = FileTask(read_spec(write_text_task(tmp_path, '["rouge1", "exact_text"]')))
    assert task.metrics == ("rouge1", "exact_text")
    assert task.paired_binary == ("exact_text",) and task.model_metrics == ()
    right = task.score(reference("Blue"), " blue \n")
    wrong = task.score(reference("Blue"), "navy blue")
    assert right.metrics == {"rouge1": 1.0, "exact_text": 1.0}
    assert wrong.metrics["exact_text"] == 0.0 and 0 < wrong.metrics["rouge1"] < 1
    assert right.diagnostics == {"empty_answer_rate": 0.0}


def test_the_documented_metric_runs_through_the_pipeline(tmp_path, exact_text, forget_tasks):
    path = write_text_task(tmp_path, '["exact_text"]')
    config = RunSpec(model="baseline", tasks=resolve_tasks([str(path)]), output=tmp_path / "run", command=["clue"])
    results = run_model(config)
    summary = results.tasks["short"]
    assert summary.metrics == {"exact_text": 0.0} and summary.n == 2  # the baseline echoes the question


def test_a_metric_of_another_kind_is_refused_in_a_text_task_file(tmp_path, exact_text):
    with pytest.raises(UsageError, match="mixes metric families"):
        read_spec(write_text_task(tmp_path, '["accuracy", "exact_text"]'))


def test_an_installed_package_adds_a_metric_by_entry_point(tmp_path, monkeypatch, forget_tasks):
    package = tmp_path / "site"
    package.mkdir()
    (package / "my_metrics.py").write_text(documented_example().replace("register_metric(ExactText())", ""))
    monkeypatch.syspath_prepend(str(package))
    points = [md.EntryPoint(name="exact_text", value="my_metrics:ExactText", group=registry.ENTRY_POINT_GROUP),
              md.EntryPoint(name="broken", value="my_metrics:Missing", group=registry.ENTRY_POINT_GROUP)]
    monkeypatch.setattr(md, "entry_points", lambda group: points if group == registry.ENTRY_POINT_GROUP else [])
    monkeypatch.setitem(registry._PLUGINS, "read", False)
    monkeypatch.setattr(registry, "_PLUGIN_ERRORS", [])
    try:
        with pytest.warns(UserWarning, match="metric entry point 'broken'"):
            task = FileTask(read_spec(write_text_task(tmp_path, '["exact_text"]')))
        assert type(find_metric("exact_text")).__module__ == "my_metrics"
        assert task.score(reference("cold"), "Cold").metrics == {"exact_text": 1.0}
    finally:
        unregister_metric("exact_text")

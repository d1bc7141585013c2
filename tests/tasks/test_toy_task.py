"""A new task declared as a built-in one is (its folder and one registration) works in every command.

The toy parity task (``clue_toy_tasks/parity``: task.py with its Declaration,
prompts/, demo/, baseline.py) is registered in this process and driven through
``clue tasks``, ``run`` (also beside ``--tasks level1``, outside its score), ``score`` (a run
directory and ``--predictions``), ``prompts``, ``data status``, ``compare`` and
``report``: nothing else in clue names it.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clue.tasks.suite import CLUE, resolve_tasks


@pytest.fixture(scope="module")
def app():
    from clue.cli import app

    return app


def invoke(app, *args: str):
    result = CliRunner().invoke(app, [*args])
    assert result.exit_code == 0, f"clue {' '.join(args)} failed:\n{result.output}\n{result.exception!r}"
    return result


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_declared_level_puts_the_toy_task_into_no_clue_level(toy_task):
    assert toy_task.level == 1  # declared, and shown by `clue tasks`; CLUE's levels are the CLUE suite's
    assert "toy_parity" not in CLUE.tasks and all("toy_parity" not in m for m in CLUE.level_members().values())
    assert "toy_parity" not in resolve_tasks("level1") and "toy_parity" not in resolve_tasks("all")
    assert resolve_tasks("level1,toy_parity")[-1] == "toy_parity"


def test_clue_tasks_lists_the_toy_task_with_its_declaration(app, toy_task):
    listed = {r["task"]: r for r in json.loads(invoke(app, "tasks", "--json").output)}
    toy = listed["toy_parity"]
    assert toy["level"] == 1 and toy["access"] == "public" and toy["metrics"] == ["accuracy"]
    assert toy["expected_file"] == "toy_parity.jsonl" and toy["shots"] == 1 and toy["source"] == "test"


def test_every_command_runs_the_toy_task(app, toy_task, tmp_path):
    demo = toy_task.demo_path()
    assert demo is not None and demo.is_file() and demo.parent.name == "demo"
    items = rows(demo)

    # run, with the toy task beside --tasks level1 (the demo data of the level-1 tasks, 2 items each)
    run_level1 = tmp_path / "level1"
    invoke(app, "run", "--tasks", "level1,toy_parity", "--limit", "2", "--output", str(run_level1), "--bootstrap", "50")
    level1 = json.loads((run_level1 / "results.json").read_text())
    assert list(level1["tasks"]) == ["mednli", "meqsum", "problem_summary", "toy_parity"]
    assert level1["tasks"]["toy_parity"]["n"] == 2
    # the level-1 score averages CLUE's three level-1 tasks: the toy task is in no CLUE level
    clue_level1 = CLUE.level_members()["level1"]
    assert level1["levels"]["level1"] == pytest.approx(sum(level1["tasks"][t]["score"] for t in clue_level1) / 3)
    assert "suite" not in level1
    # the full toy run: every item but the one demonstration, answered by the toy baseline
    run_a = tmp_path / "baseline"
    invoke(app, "run", "--tasks", "toy_parity", "--output", str(run_a), "--bootstrap", "50")
    results_a = json.loads((run_a / "results.json").read_text())
    predicted = rows(run_a / "predictions" / "toy_parity.jsonl")
    assert len(predicted) == len(items) - 1 == results_a["tasks"]["toy_parity"]["n"]
    by_id = {r["id"]: r for r in items}
    for row in predicted:
        number = by_id[row["item_id"]]["number"]
        assert row["id"] == f"toy_parity/{row['item_id']}"
        assert row["output"] == ("EVEN" if int(number[0]) % 2 == 0 else "ODD")  # the toy's own baseline
        assert row["metrics"]["accuracy"] == float(row["output"] == by_id[row["item_id"]]["parity"])
    accuracy = 100 * sum(r["metrics"]["accuracy"] for r in predicted) / len(predicted)
    assert results_a["tasks"]["toy_parity"]["score"] == pytest.approx(accuracy)
    assert 0 < accuracy < 100  # the first-digit heuristic is right only sometimes
    assert results_a["levels"]["level1"] is None  # a level needs all its tasks
    manifest = json.loads((run_a / "manifest.json").read_text())
    assert manifest["tasks"]["toy_parity"]["source"] == "demo"
    assert manifest["tasks"]["toy_parity"]["declaration"]["title"] == "Toy Parity"
    assert manifest["templates"]["toy_parity.system"]["source"] == "builtin"

    # score the run directory again from its store: the same numbers
    invoke(app, "score", str(run_a))
    assert json.loads((run_a / "results.json").read_text())["tasks"] == results_a["tasks"]

    # score a predictions file: always right
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps({"id": r["id"], "output": r["parity"].lower()}) + "\n" for r in items))
    run_b = tmp_path / "oracle"
    invoke(app, "score", "--task", "toy_parity", "--data", str(demo), "--predictions", str(answers), "--output", str(run_b))
    results_b = json.loads((run_b / "results.json").read_text())
    assert results_b["tasks"]["toy_parity"]["score"] == 100.0
    assert results_b["tasks"]["toy_parity"]["n"] == len(predicted)

    # prompts: the toy's own templates, one demonstration, its decoding
    prompts = tmp_path / "prompts.jsonl"
    invoke(app, "prompts", "--tasks", "toy_parity", "--output", str(prompts))
    written = rows(prompts)
    assert [r["id"] for r in written] == [r["id"] for r in predicted]
    first = written[0]["messages"]
    assert first[0]["content"].startswith("You decide whether a number is even or odd")
    assert [m["role"] for m in first] == ["system", "user", "assistant", "user"]
    assert first[-1]["content"] == f"Number: {by_id[predicted[0]['item_id']]['number']}"
    assert written[0]["decoding"]["max_new_tokens"] == 4

    # compare: the toy task's rows are paired, and McNemar's test runs on its paired-binary accuracy
    comparison = tmp_path / "compare.json"
    invoke(app, "compare", str(run_a), str(run_b), "--out", str(comparison), "--resamples", "200")
    toy = json.loads(comparison.read_text())["tasks"]["toy_parity"]
    assert toy["n_paired"] == len(predicted)
    assert toy["delta"] == pytest.approx(100.0 - accuracy)
    assert "accuracy" in toy["mcnemar"]

    # report: the leaderboard shows the toy task under its title
    report = tmp_path / "report"
    invoke(app, "report", str(run_a), str(run_b), "--out", str(report), "--resamples", "200")
    with (report / "leaderboard.csv").open(encoding="utf-8") as f:
        board = list(csv.DictReader(f))
    assert sorted(float(r["toy_parity"]) for r in board) == pytest.approx(sorted([accuracy, 100.0]))
    assert "Toy Parity" in (report / "leaderboard.md").read_text()
    assert "Toy Parity" in (report / "report.html").read_text()


def test_data_status_gives_the_toy_task_its_own_next_step(app, toy_task, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    status = {r["task"]: r for r in json.loads(invoke(app, "data", "status", "--data-dir", str(data), "--json").output)}
    toy = status["toy_parity"]
    assert not toy["present"] and toy["access"] == "public" and toy["expected_file"] == "toy_parity.jsonl"
    assert toy["next_step"] == f"put your file in {data} (or {data / 'toy_parity'}) as toy_parity.jsonl"
    shutil.copy(toy_task.demo_path(), data / "toy_parity.jsonl")
    toy = {r["task"]: r for r in json.loads(invoke(app, "data", "status", "--data-dir", str(data), "--json").output)}["toy_parity"]
    assert toy["present"] and toy["release_match"] == "no known hash"
    assert toy["next_step"] == f"ready: clue run --tasks toy_parity --data-dir {data}"


def test_unregistering_removes_the_toy_task_everywhere(toy_task):
    from clue.core.errors import UsageError
    from clue.tasks.registry import unregister

    unregister("toy_parity")
    assert "toy_parity" not in resolve_tasks("level1")
    with pytest.raises(UsageError, match="unknown task 'toy_parity'"):
        resolve_tasks("toy_parity")

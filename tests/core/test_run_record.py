"""The typed run record: every file of a run folder reads into its record and writes back byte for byte,
and a file that is not what it should be is refused naming the file, the line and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clue.api import evaluate
from clue.core.errors import DataError
from clue.core.files import write_json
from clue.core.results import (
    Manifest,
    PredictionRow,
    RunResults,
    TaskSummary,
    read_manifest,
    read_predictions,
    read_results,
    read_run,
    write_predictions,
)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("record") / "run"
    evaluate("baseline", ["mednli", "meqsum", "longhealth"], output=out, limit=3, bootstrap=50)
    return out


def test_results_manifest_and_predictions_write_back_byte_for_byte(demo_run, tmp_path):
    for name, read in (("results.json", read_results), ("manifest.json", read_manifest)):
        write_json(tmp_path / name, read(demo_run / name).to_json())
        assert (tmp_path / name).read_bytes() == (demo_run / name).read_bytes(), name
    for task in ("mednli", "meqsum", "longhealth"):
        write_predictions(tmp_path, task, read_predictions(demo_run / "predictions" / f"{task}.jsonl"))
        assert (tmp_path / "predictions" / f"{task}.jsonl").read_bytes() == \
            (demo_run / "predictions" / f"{task}.jsonl").read_bytes(), task


def test_read_run_gives_typed_numbers(demo_run):
    run = read_run(demo_run)
    on_disk = json.loads((demo_run / "results.json").read_text())
    mednli = run.results.tasks["mednli"]
    assert isinstance(mednli, TaskSummary) and isinstance(run.manifest, Manifest)
    assert mednli.score == on_disk["tasks"]["mednli"]["score"] and mednli.n == 3 and mednli.ci is not None
    assert run.results.failed_requests == 0 and run.results.has_intervals
    rows = run.predictions("longhealth")
    assert all(isinstance(r, PredictionRow) for r in rows) and {r.unit for r in rows} == {"patient_01"}
    assert run.manifest.tasks["mednli"].requests == 3 and run.manifest.declaration("mednli")["task"] == "mednli"


def test_unknown_keys_are_kept_where_they_were(tmp_path):
    data = {"schema": "clue.results/1", "model": "m", "backend": "b", "seed": 1, "future": {"x": 1},
            "tasks": {"t": {"score": 50.0, "n": 2, "metrics": {"a": 50.0}, "diagnostics": {}, "complete": True,
                            "missing_metrics": [], "judge": "kept"}},
            "levels": {}, "levels_complete": {}}
    record = RunResults.from_json(data)
    assert record.extra == {"future": {"x": 1}} and record.tasks["t"].extra == {"judge": "kept"}
    assert json.dumps(record.to_json()) == json.dumps({k: v for k, v in data.items() if k != "future"} | {"future": {"x": 1}})


@pytest.mark.parametrize(("change", "field", "problem"), [
    (lambda d: d["tasks"]["mednli"].update(score="high"), "tasks.mednli.score", "expected a number, found str"),
    (lambda d: d["tasks"]["mednli"].pop("n"), "tasks.mednli.n", "missing"),
    (lambda d: d.pop("tasks"), "tasks", "missing"),
    (lambda d: d["levels_complete"].update(level1="yes"), "levels_complete.level1", "expected true or false"),
    (lambda d: d["tasks"]["mednli"].update(ci=[1.0]), "tasks.mednli.ci", "expected [low, high]"),
    (lambda d: d.update(schema="something/1"), "schema", "is not a clue results schema"),
])
def test_a_bad_results_file_names_the_file_and_field(demo_run, tmp_path, change, field, problem):
    data = json.loads((demo_run / "results.json").read_text())
    change(data)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data))
    with pytest.raises(DataError) as caught:
        read_results(path)
    assert caught.value.path == str(path) and caught.value.field == field and problem in caught.value.problem


def test_a_bad_prediction_row_names_the_line_and_field(demo_run, tmp_path):
    lines = (demo_run / "predictions" / "mednli.jsonl").read_text().splitlines()
    row = json.loads(lines[1])
    row["metrics"] = {"accuracy": "right"}
    path = tmp_path / "mednli.jsonl"
    path.write_text("\n".join([lines[0], json.dumps(row), *lines[2:]]) + "\n")
    with pytest.raises(DataError, match=r"mednli.jsonl: line 2: field 'metrics.accuracy': expected a number"):
        read_predictions(path)


def test_a_folder_without_results_is_not_a_run(tmp_path):
    with pytest.raises(DataError, match="not found; is this a clue run folder"):
        read_run(tmp_path)

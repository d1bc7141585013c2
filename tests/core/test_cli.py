"""The command line end to end: demo run, `clue score`, errors and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clue.tasks import all_tasks
from tests.helpers.cli import clue, clue_process

MEQSUM = Path(__file__).resolve().parents[3] / "shared" / "data" / "MeQSum" / "MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    proc = clue("run", "--model", "baseline", "--tasks", "all", "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_demo_run_writes_results_predictions_manifest(demo_run):
    out, proc = demo_run
    results = json.loads((out / "results.json").read_text())
    assert set(results["tasks"]) == set(all_tasks())
    for name, task in results["tasks"].items():
        assert set(task) >= {"score", "n", "metrics", "diagnostics", "complete"}
        assert 0.0 <= task["score"] <= 100.0 and task["n"] > 0
        rows = [json.loads(line) for line in (out / "predictions" / f"{name}.jsonl").read_text().splitlines()]
        assert len(rows) == task["n"]
        assert {"id", "prompt_hash", "output", "parsed", "metrics"} <= set(rows[0])
    assert set(results["levels"]) == {"level1", "level2", "overall"}
    assert all(isinstance(v, float) for v in results["levels"].values())
    # BERTScore/UMLS are not installed in the core: those tasks are marked, not silently averaged.
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 42 and manifest["backend"]["backend"] == "baseline"
    assert all(len(t["sha256"]) == 64 for t in manifest["tasks"].values())
    assert "meqsum.system" in manifest["templates"]
    assert "mednli" in proc.stdout and "overall" in proc.stdout


def test_demo_run_is_deterministic(demo_run, tmp_path):
    out, _ = demo_run
    proc = clue("run", "--tasks", "all", "--output", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    for name in all_tasks():
        assert (tmp_path / "predictions" / f"{name}.jsonl").read_bytes() == (out / "predictions" / f"{name}.jsonl").read_bytes()
    assert json.loads((tmp_path / "results.json").read_text())["tasks"] == json.loads((out / "results.json").read_text())["tasks"]


def test_score_command_matches_run(demo_run, tmp_path):
    out, _ = demo_run
    rows = [json.loads(line) for line in (out / "predictions" / "mednli.jsonl").read_text().splitlines()]
    preds = tmp_path / "preds.jsonl"
    preds.write_text("\n".join(json.dumps({"id": r["item_id"], "output": r["output"]}) for r in rows))
    from clue.tasks import get_task

    proc = clue("score", "--task", "mednli", "--data", str(get_task("mednli").demo_path()), "--predictions", str(preds), "--output", str(tmp_path / "s"))
    assert proc.returncode == 0, proc.stderr
    scored = json.loads((tmp_path / "s" / "results.json").read_text())
    assert scored["tasks"]["mednli"]["metrics"] == json.loads((out / "results.json").read_text())["tasks"]["mednli"]["metrics"]
    assert (tmp_path / "s" / "predictions" / "mednli.jsonl").exists()


def test_score_reports_missing_predictions_instead_of_zero(tmp_path):
    from clue.tasks import get_task

    preds = tmp_path / "preds.jsonl"
    preds.write_text(json.dumps({"id": "demo-mednli-01", "output": "ENTAILMENT"}) + "\n")
    proc = clue("score", "--task", "mednli", "--data", str(get_task("mednli").demo_path()), "--predictions", str(preds), "--output", str(tmp_path / "s"))
    assert proc.returncode == 1
    assert "have no prediction" in proc.stderr
    results = json.loads((tmp_path / "s" / "results.json").read_text())
    assert results["tasks"]["mednli"]["n"] <= 1
    assert results["tasks"]["mednli"]["complete"] is False


def test_bad_data_exits_2_naming_file_record_field_and_writes_nothing(tmp_path):
    bad = tmp_path / "mli_test_v1.jsonl"
    bad.write_text('{"pairID": "1", "sentence1": "a", "sentence2": "b", "gold_label": "maybe"}\n')
    out = tmp_path / "out"
    proc = clue_process("run", "--tasks", "mednli", "--data", f"mednli={bad}", "--output", str(out))  # the real entry point
    assert proc.returncode == 2
    assert str(bad) in proc.stderr and "line 1" in proc.stderr and "gold_label" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_usage_errors(tmp_path):
    # The exit statuses of the real entry point, in its own process.
    proc = clue_process("run", "--tasks", "nosuchtask", "--output", str(tmp_path / "o"))
    assert proc.returncode == 2 and "unknown task" in proc.stderr
    proc = clue_process("run", "--model", "nosuch:model", "--tasks", "mednli", "--output", str(tmp_path / "o"))
    assert proc.returncode == 2 and "unknown model spec" in proc.stderr
    proc = clue_process("run", "--tasks", "mednli", "--data", "mednli", "--output", str(tmp_path / "o"))
    assert proc.returncode == 2 and "TASK=PATH" in proc.stderr


def test_data_dir_lookup(tmp_path):
    from clue.tasks import get_task

    (tmp_path / "mednli").mkdir()
    (tmp_path / "mednli" / "mli_test_v1.jsonl").write_bytes(get_task("mednli").demo_path().read_bytes())
    proc = clue("run", "--tasks", "mednli", "--data-dir", str(tmp_path), "--output", str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stderr
    proc = clue("run", "--tasks", "meqsum", "--data-dir", str(tmp_path), "--output", str(tmp_path / "o2"))
    assert proc.returncode == 2 and "no data file" in proc.stderr


def test_tasks_command_lists_all():
    proc = clue("tasks", "--json")
    assert proc.returncode == 0
    rows = json.loads(proc.stdout)
    assert [r["task"] for r in rows] == list(all_tasks())
    assert {r["access"] for r in rows} == {"public", "credentialed"}


@pytest.mark.skipif(not MEQSUM.exists(), reason=f"real MeQSum file not present at {MEQSUM}")
def test_real_meqsum_scores_997_items(tmp_path):
    proc = clue("run", "--tasks", "meqsum", "--data", f"meqsum={MEQSUM}", "--output", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["tasks"]["meqsum"]["n"] == 997


def test_rescore_run_directory_from_store_without_model(demo_run, tmp_path):
    import shutil

    out, _ = demo_run
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    before = json.loads((copy / "results.json").read_text())
    (copy / "results.json").unlink()
    proc = clue("score", str(copy))
    assert proc.returncode == 0, proc.stderr
    after = json.loads((copy / "results.json").read_text())
    assert after["tasks"] == before["tasks"] and after["levels"] == before["levels"]
    for name in all_tasks():
        assert (copy / "predictions" / f"{name}.jsonl").read_bytes() == (out / "predictions" / f"{name}.jsonl").read_bytes()


def test_rerun_is_answered_from_store(tmp_path):
    first = clue("run", "--tasks", "mednli", "--output", str(tmp_path))
    assert first.returncode == 0, first.stderr
    import sqlite3

    with sqlite3.connect(tmp_path / "store.sqlite") as db:
        (count,) = db.execute("select count(*) from completions").fetchone()
    assert count == 15
    second = clue("run", "--tasks", "mednli", "--output", str(tmp_path))
    assert second.returncode == 0
    with sqlite3.connect(tmp_path / "store.sqlite") as db:
        (count_after,) = db.execute("select count(*) from completions").fetchone()
    assert count_after == count


def test_output_files_get_ordinary_permissions(tmp_path):
    import os
    import stat

    from clue.core.files import write_json

    umask = os.umask(0o022)
    try:
        write_json(tmp_path / "r.json", {"a": 1})
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == 0o644

"""Only like is ranked with like: runs record what they were scored on; the leaderboard and pairs keep groups apart."""

from __future__ import annotations

import dataclasses
import json
import shutil

from typer.testing import CliRunner

from clue.cli import app
from clue.report.leaderboard import Entry, differences, leaderboard_rows, load_run
from clue.report.pairs import compare_pairs, pairs_markdown, parse_pairs
from clue.report.published import results_from_metrics
from clue.tasks.registry import get_task
from tests.helpers.fake_runs import level1_tasks, write_run


def _run(tmp_path, name, *args):
    out = tmp_path / name
    result = CliRunner().invoke(app, ["run", "--tasks", "mednli,meqsum", "-o", str(out), "--bootstrap", "0", *args])
    assert result.exit_code == 0, result.output
    return out


def test_a_run_records_what_it_was_scored_on(tmp_path):
    out = _run(tmp_path, "demo", "--limit", "5")
    record = json.loads((out / "results.json").read_text())["scored_on"]
    assert record["protocol"] == "clue" and record["limit"] == 5 and record["protocol_settings"] == []
    assert record["data"]["mednli"]["kind"] == "demo" and len(record["data"]["mednli"]["sha256"]) == 64
    assert "rouge" in record["metric_settings"]


def test_a_file_is_the_release_only_when_its_hash_matches(tmp_path, monkeypatch):
    task = get_task("meqsum")
    copy = tmp_path / "meqsum.xlsx"
    shutil.copy(task.demo_path(), copy)
    other = _run(tmp_path, "other", "--data", f"meqsum={copy}", "--tasks", "meqsum")
    assert json.loads((other / "results.json").read_text())["scored_on"]["data"]["meqsum"]["kind"] == "file"
    sha = json.loads((other / "results.json").read_text())["scored_on"]["data"]["meqsum"]["sha256"]
    release = dataclasses.replace(task.declaration.release, sha256=sha)
    monkeypatch.setattr(type(task), "declaration", dataclasses.replace(task.declaration, release=release))
    same = _run(tmp_path, "same", "--data", f"meqsum={copy}", "--tasks", "meqsum")
    assert json.loads((same / "results.json").read_text())["scored_on"]["data"]["meqsum"]["kind"] == "release"


def test_a_demo_run_is_not_ranked_among_published_rows(tmp_path):
    demo = load_run(_run(tmp_path, "demo"), with_ci=False)
    published = [Entry(f"pub{i}", "published", results_from_metrics(f"p{i}", {"mednli": {"accuracy": 10.0 * i}}))
                 for i in (1, 2)]
    rows = {r["name"]: r for r in leaderboard_rows([demo, *published])}
    assert {(rows[p]["group"], rows[p]["rank"]) for p in ("pub1", "pub2")} == {(1, 1), (1, 2)}
    assert (rows["demo"]["group"], rows["demo"]["rank"]) == (2, 1)
    assert "protocol clue (not clue-2024-06)" in rows["demo"]["apart"] and "demo data for mednli" in rows["demo"]["apart"]
    assert "clue-2024-06" in rows["pub1"]["scored_on"] and rows["pub1"]["apart"] == ""


def test_runs_under_another_protocol_or_limit_are_apart(tmp_path):
    a = load_run(_run(tmp_path, "a"), with_ci=False)
    b = load_run(_run(tmp_path, "b", "--protocol-setting", "mednli.shots=1"), with_ci=False)
    c = load_run(_run(tmp_path, "c", "--limit", "3"), with_ci=False)
    d = load_run(_run(tmp_path, "d", "--seed", "7"), with_ci=False)
    assert differences(a, d) == []
    assert differences(b, a) == ["protocol settings changed (mednli.shots=1)"]
    assert differences(c, a) == ["--limit 3"]
    groups = {r["name"]: r["group"] for r in leaderboard_rows([a, b, c, d])}
    assert groups["a"] == groups["d"] and len({groups["a"], groups["b"], groups["c"]}) == 3


def test_pairs_scored_differently_are_not_compared(tmp_path):
    base = write_run(tmp_path / "base-model", "org/base-model", level1_tasks(300))
    bio = write_run(tmp_path / "bio-model", "org/bio-model", level1_tasks(350))
    manifest = json.loads((bio / "manifest.json").read_text())
    (bio / "manifest.json").write_text(json.dumps({**manifest, "protocol": "clue-2025-01"}))
    pairset = parse_pairs({"pair": [{"biomedical": "bio-model", "base": "base-model"}]}, "test")
    results = compare_pairs(pairset, [load_run(base), load_run(bio)], n_resamples=50)
    assert len(results) == 1 and results[0].comparison is None
    assert results[0].apart == "protocol clue-2025-01 (not clue)"
    assert "Not compared" in pairs_markdown(results) and "bio-model vs base-model" in pairs_markdown(results)

"""What clue prints from data, files and errors is printed as written, never read as rich markup."""

from __future__ import annotations

import json

from clue.api import evaluate
from tests.helpers import cli


def clue(*args: str) -> cli.Ran:
    return cli.clue(*args, columns=200)


def test_a_closing_tag_in_a_name_cannot_crash_a_table(tmp_path):
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        results = evaluate("baseline", ["mednli"], output=out, bootstrap=0)
        assert results.failed_requests == 0
        runs.append(out)
    results = json.loads((runs[1] / "results.json").read_text())
    results["model"] = "org/model[/i] [bold]x"
    (runs[1] / "results.json").write_text(json.dumps(results))
    proc = clue("compare", str(runs[0]), str(runs[1]), "--resamples", "50")
    assert proc.returncode == 0, proc.stderr
    assert "MarkupError" not in proc.stderr and "Traceback" not in proc.stderr
    assert "org/model[/i] [bold]x" in proc.stdout


def test_install_hints_keep_their_extra_in_tables(monkeypatch):
    # Whatever is installed here, bert-score is reported missing, so the hint with its extra is printed.
    from typer.testing import CliRunner

    from clue.cli import app
    from clue.metrics import bertscore

    monkeypatch.setattr(bertscore, "missing_packages", lambda: ["bert-score"])
    result = CliRunner().invoke(app, ["metrics", "status"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "pip install 'clue-eval[bertscore]'" in result.output


def test_brackets_in_a_data_folder_are_printed(tmp_path):
    folder = tmp_path / "data[red]x"
    folder.mkdir()
    proc = clue("data", "status", "--data-dir", str(folder), "--no-hash")
    assert proc.returncode == 0, proc.stderr
    assert f"--data-dir {folder}" in proc.stdout.replace("\n", "")


def test_the_sweep_log_prints_the_approvals_example_with_its_brackets(tmp_path):
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        f"output: {tmp_path / 'out'}\ntasks: mednli\n"
        "models:\n  - spec: openai:remote-model\n    name: remote\n"
        "    options: {base_url: 'http://llm.example.invalid:8000/v1'}\n"
    )
    proc = clue("sweep", str(sweep))
    assert "[[endpoint]]" in proc.stderr, proc.stderr

"""An egress refusal inside ``clue sweep``: reported per model, the other models still run, exit 4."""

from __future__ import annotations

import json

from tests.helpers.cli import clue


def test_a_refused_model_is_reported_and_the_sweep_exits_4(tmp_path):
    sweep = tmp_path / "sweep.yaml"
    out = tmp_path / "out"
    # A name under .invalid never resolves: if the guard failed to refuse, nothing could be reached.
    sweep.write_text(
        f"output: {out}\ntasks: mednli\n"
        "models:\n"
        "  - spec: openai:remote-model\n    name: remote\n    options: {base_url: 'http://llm.example.invalid:8000/v1'}\n"
        "  - spec: baseline\n    name: local\n"
    )
    proc = clue("sweep", str(sweep))
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "[1/2] remote: REFUSED: refusing to send credentialed data (mednli)" in proc.stderr
    assert "refused  remote" in proc.stdout and "done  local" in proc.stdout
    assert "1 of 2 model(s) refused by the egress guard" in proc.stderr
    status = {m["name"]: m for m in json.loads((out / "sweep-status.json").read_text())["models"]}
    assert status["remote"]["status"] == "refused" and status["local"]["status"] == "done"
    assert not (out / "remote" / "store.sqlite").exists()  # nothing was asked, nothing stored

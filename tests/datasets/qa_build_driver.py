"""Runs the MeDiSumQA build with the fake backend (a subprocess the kill/resume test can SIGKILL).

    python -m tests.datasets.qa_build_driver NOTES OUT LOG DELAY   (from the repository root)
"""

from __future__ import annotations

import sys
from pathlib import Path

from clue.builders import build_medisumqa
from clue.metrics import model
from tests.helpers.scripted_backends import FakeBackend


def no_model_metrics(names, ids, predictions, references, config=None):
    result = model.ModelMetricResult()
    for name in names:
        result.missing[name] = "disabled in this test"
    return result


def main() -> None:
    notes, out, log, delay = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    model.compute = no_model_metrics
    backend = FakeBackend("fake-model", {"log": log, "delay": delay})
    result = build_medisumqa.build(notes, backend, build_medisumqa.store_path_for(out), n=4, seed=7, letters=6)
    build_medisumqa.write(result, out)


if __name__ == "__main__":
    main()

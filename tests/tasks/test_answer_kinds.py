"""The four answer kinds are written once: a built-in task and a task file of the same kind score alike.

Each pair gets the same outputs against the same gold; the task file's
numbers (parsed answer, metrics, diagnostics) must be the built-in task's.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from clue.core.records import Reference
from clue.tasks import answers
from clue.tasks.registry import get_task
from clue.tasks.userfile import FileTask, read_spec

OUTPUTS = [
    "ENTAILMENT", "neutral.", "The answer is contradiction", "entailment or neutral", "", "I cannot tell",
    "The correct answer is B: the second", "The correct answer is F:", "Answer: (C)", "B", "choose e",
    "ICD-10 Codes: I10, E11.9, I10", "Codes: J18.9; N17.9 and vitamin B12", "i10 e119",
    "Sepsis, acute kidney injury, hypertension", "  heart failure with reduced ejection fraction \n",
]


def task_file(folder: Path, metrics: str, extra: str = "", inputs: str = 'text = "text"') -> FileTask:
    (folder / "prompts").mkdir(exist_ok=True)
    (folder / "prompts" / "t.system.txt").write_text("Answer.\n")
    (folder / "prompts" / "t.user.txt").write_text("$text\n")
    path = folder / "t.toml"
    path.write_text(textwrap.dedent(f"""\
        name = "t"
        data = "t.jsonl"
        prompts = "prompts"
        max_new_tokens = 8
        metrics = {metrics}
        """) + extra + textwrap.dedent(f"""
        [fields]
        id = "id"
        gold = "gold"
        inputs = {{ {inputs} }}
        """))
    return FileTask(read_spec(path))


def same(built_in, mine, gold, inputs_builtin=None, inputs_mine=None, rename=None):
    """Every output scored by both; ``rename`` maps the built-in task's metric and diagnostic keys to the file's."""
    rename = rename or {}
    for output in OUTPUTS:
        a = built_in.score(Reference("b/1", built_in.name, "1", gold, inputs=inputs_builtin or {}, subtask="task1"), output)
        b = mine.score(Reference("t/1", "t", "1", gold, inputs=inputs_mine or {}), output)
        assert a.parsed == b.parsed, output
        assert {rename.get(k, k): v for k, v in a.metrics.items()} == b.metrics, output
        ours = {rename.get(k, k): v for k, v in a.diagnostics.items()}
        assert {k: ours[k] for k in b.diagnostics} == b.diagnostics, output


def test_a_label_task_file_scores_as_mednli(tmp_path):
    mine = task_file(tmp_path, '["accuracy"]', 'labels = ["entailment", "neutral", "contradiction"]\n')
    mednli = get_task("mednli")
    assert type(mine.spec.answer) is answers.Labels
    for gold in ("entailment", "neutral", "contradiction"):
        same(mednli, mine, gold)


def test_a_choice_task_file_scores_as_longhealth(tmp_path):
    letters = "ABCDE"
    inputs = ", ".join(f'{L.lower()} = "{L.lower()}"' for L in letters) + ', text = "text"'
    choices = "[choices]\n" + "\n".join(f'{L} = "{L.lower()}"' for L in letters) + "\n"
    mine = task_file(tmp_path, '["choice_accuracy"]', choices, inputs)
    longhealth = get_task("longhealth")
    texts = {"A": "the first", "B": "the second", "C": "the third", "D": "the fourth", "E": "the fifth"}
    rename = {"task1": "choice_accuracy", "task1_lenient": "lenient_accuracy", "task1_unparsed_rate": "unparsed_rate"}
    for gold in ("B", "C"):
        same(longhealth, mine, gold, {"options": texts}, {L.lower(): t for L, t in texts.items()}, rename)


def test_an_icd10_task_file_scores_as_medisumcode(tmp_path):
    pytest.importorskip("icd10")
    mine = task_file(tmp_path, '["em_f1", "ap_f1", "valid"]')
    medisumcode = get_task("medisumcode")
    assert mine.scoring_settings() == medisumcode.scoring_settings()
    for gold in (["I10", "E119"], ["J189"], []):
        same(medisumcode, mine, gold)


def test_a_text_task_file_scores_as_the_summary_tasks(tmp_path):
    mine = task_file(tmp_path, '["rouge1", "rouge2", "rougeL"]')
    for name in ("meqsum", "problem_summary", "medisumqa"):
        same(get_task(name), mine, "Heart failure, acute kidney injury")


def test_metrics_are_scored_in_the_kinds_order_whatever_order_the_file_lists(tmp_path):
    mine = task_file(tmp_path, '["rougeL", "rouge1"]')
    scored = mine.score(Reference("t/1", "t", "1", "acute kidney injury"), "kidney injury")
    assert list(scored.metrics) == ["rouge1", "rougeL"]
    assert mine.metrics == ("rougeL", "rouge1")

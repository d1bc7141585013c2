"""LongHealth under the reference profiles: prompts equal to a synthetic reference script's, seeded as issue 23 says.

The script below is written for this test and has the structure of the reference's eval_LongHealth.py (a
``create_prompt`` that counts with ``len(tokenizer.encode(...))`` and cuts with ``decode(encode(...)[:n])``, a
distractor sampler, the task loops with Python's module-level ``random``), none of its text. Seeded with
``random.seed(seed + q)`` before each task-1 question and ``random.seed(seed + 100000 + q)`` before each
task-2/3 question, it must give the prompts ``clue`` builds, in all three chat layouts, under both profiles.
"""

from __future__ import annotations

import json

import pytest

from clue.core.chat import ChatLayout, apply_layout
from clue.core.records import Message
from clue.core.tokens import hf_tokenizer_counter
from clue.tasks.base import BuildContext
from clue.tasks.longhealth.task import reference_gold
from clue.tasks.registry import get_task
from clue.tasks.settings import parse_setting
from clue.tasks.templates import Templates

SYSTEM = "\nRead the letters carefully.\n"
TEMPLATE = "\n<<DOCS>>\n{documents}\n<</DOCS>>\n\n{question_text}\n{options}\n\nAnswer: The correct answer is X.\n"
SEPARATOR = "~~~~"
UNANSWERABLE = "Not answerable from these letters"

REFERENCE_SCRIPT = '''
import random

def count(tok, text):
    return len(tok.encode(text))

def create_prompt(answer_docs, non_answer_docs, question, separator, labels, max_len, tok):
    question_text = question["question"]
    options = "\\n".join([l.upper() + ": " + question["answer_" + l] for l in labels])
    sep_len = count(tok, "\\n\\n" + separator + " NEW DOCUMENT " + separator + "\\n\\n")
    total = count(tok, question_text) + count(tok, options) + count(tok, TEMPLATE)
    picked = []
    for doc in answer_docs.values():
        n = count(tok, doc)
        if total + n <= max_len:
            picked.append(doc)
            total += n + sep_len
        else:
            picked.append(tok.decode(tok.encode(doc)[: max(max_len - total, 0)]))
            total += max_len - total
            break
    for doc in non_answer_docs:
        n = count(tok, doc)
        if total + n <= max_len:
            picked.append(doc)
            total += n + sep_len
        else:
            picked.append(tok.decode(tok.encode(doc)[: max(max_len - total, 0)]))
            total += max_len - total
            break
    random.shuffle(picked)
    joined = ("\\n\\n" + separator + "\\n\\n").join(picked)
    return TEMPLATE.format(documents=joined, question_text=question_text, options=options)

def distractors(patient_id, data, n):
    pool = [t for pid, p in data.items() if pid != patient_id for t in p["texts"].values()]
    return random.sample(pool, min(n, len(pool)))

def gold(question, last):
    found = None
    for key in question:
        if not key.startswith("answer") or key.endswith("location"):
            continue
        if question["correct"] in question[key]:
            found = key[-1].upper()
            if not last:
                return found
    return found

def layout(prompt, kind):
    if kind == "system":
        return [("system", SYSTEM), ("user", prompt)]
    if kind == "fold":
        return [("user", SYSTEM + prompt)]
    return SYSTEM + "\\n\\n\\n" + prompt

def run(data, tok, max_len, context, kind, seed, last, task23_context):
    out = []
    q = 0
    for pid, patient in data.items():
        for question in patient["questions"]:
            random.seed(seed + q)
            answer_docs = {t: patient["texts"][t] for t in question["answer_location"]}
            others = [x for t, x in patient["texts"].items() if t not in question["answer_location"]]
            for j in range(5):
                prompt = create_prompt(answer_docs, others, question, SEPARATOR, "abcde",
                                       max_len - count(tok, SYSTEM), tok)
                out.append((layout(prompt, kind), gold(question, last)))
            q += 1
    q = 0
    for pid, patient in data.items():
        for question in patient["questions"]:
            random.seed(seed + 100000 + q)
            question = dict(question)
            question["answer_f"] = UNANSWERABLE
            for j in range(10):
                non_answer = distractors(pid, data, 10)
                if j % 2 == 0:
                    answer_docs, truth = {}, "F"
                else:
                    answer_docs = {t: patient["texts"][t] for t in question["answer_location"]}
                    truth = gold(question, last)
                budget = context if task23_context else max_len
                prompt = create_prompt(answer_docs, non_answer, question, SEPARATOR, "abcdef",
                                       budget - count(tok, SYSTEM), tok)
                out.append((layout(prompt, kind), truth))
            q += 1
    return out
'''


class CharTokenizer:
    """A Hugging Face-like tokenizer: one id per character, a BOS (``<s>``) added by default."""

    BOS = 1

    def encode(self, text, add_special_tokens=True):
        return ([self.BOS] if add_special_tokens else []) + [ord(c) + 10 for c in text]

    def decode(self, ids, skip_special_tokens=False):
        return "".join(("" if skip_special_tokens else "<s>") if i == self.BOS else chr(i - 10) for i in ids)


def benchmark(path):
    def letter(n, words):
        return (" " * (n % 3)) + " ".join(f"{words}{k}" for k in range(40 + 37 * n)) + ("\n" if n % 2 else "")

    data = {}
    for p in range(3):
        texts = {f"text_{t}": letter(p * 4 + t, f"p{p}t{t}é ") for t in range(4)}
        questions = [
            {
                "question": f"  Which diagnosis for patient {p}? ",
                "answer_a": "Diabetes type 2 ", "answer_b": " Diabetes", "answer_c": "Asthma – acute",
                "answer_d": "COPD", "answer_e": "Diabetes insipidus",
                "correct": "Diabetes", "answer_location": {"text_1": {"start": [0.1], "end": [0.2]}},
            },
            {
                "question": f"Which drug ({p})?",
                "answer_e": "Aspirin\t", "answer_a": "Heparin", "answer_b": "Metformin",
                "answer_c": "Insulin", "answer_d": "Aspirin 100 mg",
                "correct": "Aspirin", "answer_location": {"text_2": {"start": [0.5], "end": [0.6]},
                                                           "text_0": {"start": [0.1], "end": [0.2]}},
            },
        ]
        data[f"patient_{p:02d}"] = {"texts": texts, "questions": questions}
    path.write_text(json.dumps(data, ensure_ascii=False))
    return data


def templates(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "longhealth.system.txt").write_text(SYSTEM)
    (folder / "longhealth.user.txt").write_text(TEMPLATE.replace("{", "${"))
    (folder / "longhealth.separator.txt").write_text(f"\n\n{SEPARATOR}\n\n")
    (folder / "longhealth.unanswerable.txt").write_text(UNANSWERABLE)
    return Templates(folder)


def as_reference(laid_out):
    if isinstance(laid_out, str):
        return laid_out
    return [(m.role, m.content) for m in laid_out]


@pytest.mark.parametrize("protocol", ["clue-2024-06", "clue-2025-01"])
@pytest.mark.parametrize("layout", ["system", "fold", "plain"])
def test_prompts_equal_the_reference_scripts_under_its_seeding(tmp_path, protocol, layout):
    data = benchmark(tmp_path / "benchmark.json")
    task = get_task("longhealth")
    items = task.load(tmp_path / "benchmark.json")
    hf = CharTokenizer()
    seed, budget, context = 7, 2600, 3200
    ctx = BuildContext(
        seed=seed, tokenizer=hf_tokenizer_counter("chars", hf), context_length=context,
        templates=templates(tmp_path / "t"), protocol=protocol,
        overrides=[parse_setting(f"longhealth.options.budget={budget}")],
    )
    cases = task.build(items, ctx)
    namespace = {"TEMPLATE": TEMPLATE, "SYSTEM": SYSTEM, "SEPARATOR": SEPARATOR, "UNANSWERABLE": UNANSWERABLE}
    exec(REFERENCE_SCRIPT, namespace)  # noqa: S102 - the synthetic script above
    expected = namespace["run"](data, hf, budget, context, layout, seed, protocol == "clue-2024-06",
                                protocol == "clue-2025-01")
    # the reference's order: all task-1 prompts, then all task-2/3 prompts; clue's: per question
    ours = [c for c in cases if c.reference.subtask == "task1"] + [c for c in cases if c.reference.subtask != "task1"]
    assert len(ours) == len(expected) == 6 * 15
    for case, (prompt, gold) in zip(ours, expected, strict=True):
        laid_out = apply_layout(case.request.messages, ChatLayout(layout), case.request.joins)
        assert as_reference(laid_out) == prompt, case.request.id
        assert case.reference.gold == gold, case.request.id
    # the draws vary between prompts, and the packing overflowed somewhere (a cut document, BOS at its head)
    assert len({c.request.prompt_hash() for c in ours}) > 60
    assert any(c.reference.truncated for c in ours)
    assert any(doc.startswith("<s>") for c in ours for doc in c.reference.inputs["documents"])
    assert any(doc == "" for c in ours for doc in c.reference.inputs["documents"])  # the empty document
    # the same seed gives the same prompts; another seed other ones
    again = task.build(items, ctx)
    assert [c.request.prompt_hash() for c in again] == [c.request.prompt_hash() for c in cases]
    ctx.seed = seed + 1
    other = task.build(items, ctx)
    assert [c.request.prompt_hash() for c in other] != [c.request.prompt_hash() for c in cases]


def test_gold_letter_rule_per_profile():
    options = {"A": "Diabetes type 2 ", "B": " Diabetes", "C": "COPD"}
    assert reference_gold("Diabetes", options, "last-containing", "B") == "B"
    assert reference_gold("Diabetes", options, "first-containing", "B") == "A"
    assert reference_gold("Diabetes", options, "equal", "B") == "B"
    lh = get_task("longhealth").declaration
    assert lh.settings("clue-2024-06").options["gold_rule"] == "last-containing"
    assert lh.settings("clue-2025-01").options["gold_rule"] == "first-containing"
    assert "gold_rule" not in lh.settings("clue").options


def test_task1_stop_strings_for_llama3_names(tmp_path):
    benchmark(tmp_path / "benchmark.json")
    task = get_task("longhealth")
    items = task.load(tmp_path / "benchmark.json")
    for model, expected in (("openai:meta-llama/Meta-Llama-3-8B-Instruct", True), ("smollm2", False)):
        ctx = BuildContext(seed=1, templates=templates(tmp_path / "t"), protocol="clue-2024-06", model=model)
        cases = task.build(items, ctx)
        t1 = [c for c in cases if c.reference.subtask == "task1"]
        t23 = [c for c in cases if c.reference.subtask != "task1"]
        assert all(bool(c.request.decoding.stop) is expected for c in t1)
        assert not any(c.request.decoding.stop for c in t23)
    ctx = BuildContext(seed=1, templates=templates(tmp_path / "t"), protocol="clue-2025-01", model="llama3")
    assert not any(c.request.decoding.stop for c in task.build(items, ctx))


def test_task1_keep_end_at_ff75877_only(tmp_path):
    benchmark(tmp_path / "benchmark.json")
    task = get_task("longhealth")
    items = task.load(tmp_path / "benchmark.json")
    ctx = BuildContext(seed=1, templates=templates(tmp_path / "t"), protocol="clue-2024-06", context_length=400)
    cases = task.build(items, ctx)
    t1 = [c for c in cases if c.reference.subtask == "task1"]
    # the budget is not capped by the context (the reference did not); task 1 is cut to positions - 50
    from clue.core.tokens import ApproxTokenizer
    from clue.tasks.context import prompt_tokens

    assert all(c.reference.truncated for c in t1)
    assert all(prompt_tokens(c.request.messages, ApproxTokenizer()) <= 350 + 2 for c in t1)
    t23 = [c for c in cases if c.reference.subtask != "task1"]
    assert max(prompt_tokens(c.request.messages, ApproxTokenizer()) for c in t23) > 400  # not shortened
    assert isinstance(t1[0].request.messages[-1], Message)


def test_clue_profile_keeps_its_joins_and_hashes(tmp_path):
    task = get_task("longhealth")
    items = task.load(task.demo_path())
    cases = task.build(items, BuildContext(seed=42))
    assert all(c.request.joins is None for c in cases)
    laid = apply_layout(cases[0].request.messages, ChatLayout.FOLD, cases[0].request.joins)
    assert laid[0].content.startswith(cases[0].request.messages[0].content + "\n\n")

"""LongHealth prompt construction: packing, evidence, distractors, seeds, counts."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from clue.core.tokens import ApproxTokenizer
from clue.tasks import BuildContext, get_task
from clue.tasks.longhealth.task import pack_documents
from clue.tasks.settings import parse_setting

SEP = "----- next document -----"


@pytest.fixture
def built(longhealth_file):
    task = get_task("longhealth")
    items = task.load(longhealth_file)
    return task, items, task.build(items, BuildContext(seed=42))


def documents_of(request):
    return request.reference.inputs["documents"]


def test_counts_and_gold(built):
    _, items, requests = built
    per = Counter((r.reference.item_id, r.reference.subtask) for r in requests)
    for item in items:
        assert per[(item.id, "task1")] == 5
        assert per[(item.id, "task2")] == 5
        assert per[(item.id, "task3")] == 5
    for r in requests:
        assert r.reference.gold == ("F" if r.reference.subtask == "task3" else "C")
        assert r.reference.group == r.reference.item_id.split("/")[0]
        letters = re.findall(r"^([A-F]): ", r.request.messages[-1].content, re.M)
        assert letters == (list("ABCDE") if r.reference.subtask == "task1" else list("ABCDEF"))
    assert len({r.id for r in requests}) == len(requests)


def test_evidence_present_in_tasks_1_2_absent_in_task_3(built):
    _, items, requests = built
    by_id = {i.id: i for i in items}
    for r in requests:
        item = by_id[r.reference.item_id]
        evidence = [item.inputs["texts"][t] for t in item.inputs["evidence"]]
        docs = documents_of(r)
        for ev in evidence:
            if r.reference.subtask in ("task1", "task2"):
                assert ev in docs
            else:
                assert ev not in docs


def test_distractors_never_from_same_patient(built):
    _, items, requests = built
    by_id = {i.id: i for i in items}
    for r in requests:
        own = set(by_id[r.reference.item_id].inputs["texts"].values())
        patient_tag = r.reference.group.replace("patient_0", "p")
        docs = documents_of(r)
        if r.reference.subtask == "task1":
            assert all(d in own for d in docs)
        else:
            others = [d for d in docs if d not in own]
            assert others, "tasks 2-3 carry distractor documents"
            assert not any(d.startswith(f"{patient_tag} ") for d in others)
            if r.reference.subtask == "task3":
                assert not any(d in own for d in docs)


def test_same_seed_same_prompts_other_seed_differs(longhealth_file):
    task = get_task("longhealth")
    items = task.load(longhealth_file)
    a = task.build(items, BuildContext(seed=1))
    b = task.build(items, BuildContext(seed=1))
    c = task.build(items, BuildContext(seed=2))
    assert [r.request.prompt_hash() for r in a] == [r.request.prompt_hash() for r in b]
    assert [r.request.prompt_hash() for r in a] != [r.request.prompt_hash() for r in c]
    # Task 1 runs of one question are fresh shuffles of the same documents.
    first = [r for r in a if r.reference.item_id == items[0].id and r.reference.subtask == "task1"]
    assert len({tuple(documents_of(r)) for r in first}) > 1
    assert len({frozenset(documents_of(r)) for r in first}) == 1


@pytest.mark.parametrize("budget", [300, 700, 1500, 8140])
def test_budget_never_exceeded(longhealth_file, budget):
    task = get_task("longhealth")
    tok = ApproxTokenizer()
    items = task.load(longhealth_file)
    requests = task.build(items, BuildContext(seed=3, overrides=[parse_setting(f"longhealth.options.budget={budget}")]))
    system = requests[0].request.messages[0].content
    limit = budget - tok.count(system)
    for r in requests:
        joined = f"\n{SEP}\n".join(documents_of(r))
        assert tok.count(joined) <= limit
        assert documents_of(r), "at least part of a document always fits"
    if budget < 1500:
        assert any(r.reference.truncated for r in requests)


def test_context_length_shrinks_budget_so_question_survives(longhealth_file):
    task = get_task("longhealth")
    tok = ApproxTokenizer()
    requests = task.build(task.load(longhealth_file), BuildContext(seed=3, context_length=900, tokenizer=tok))
    for r in requests:
        total = sum(tok.count(m.content) for m in r.request.messages) + 64
        assert total <= 900 - r.request.decoding.max_new_tokens
        assert "question" in r.request.messages[-1].content and "The correct answer is" in r.request.messages[-1].content


def test_pack_documents_cuts_first_misfit_and_stops():
    tok = ApproxTokenizer()
    docs = ["a" * 400, "b" * 400, "c" * 400]  # 100 tokens each
    chosen, cut = pack_documents(docs[:1], docs[1:], 150, tok, f"\n{SEP}\n", lambda x: None)
    assert cut
    assert chosen[0] == docs[0]
    assert len(chosen) == 2 and set(chosen[1]) == {"b"} and len(chosen[1]) < 400
    chosen, cut = pack_documents(docs, [], 1000, tok, f"\n{SEP}\n", lambda x: None)
    assert chosen == docs and not cut


def test_limit_keeps_all_runs_of_first_questions(longhealth_file):
    from clue.pipeline.plan import limit_cases

    task = get_task("longhealth")
    requests = task.build(task.load(longhealth_file), BuildContext(seed=42))
    limited = limit_cases(requests, 2)
    assert len({r.reference.item_id for r in limited}) == 2
    assert len(limited) == 2 * 15

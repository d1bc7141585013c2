"""Hand-computed metric cases, reference quirks included."""

from __future__ import annotations

import pytest
from rouge_score import rouge_scorer

from clue.core.records import Reference
from clue.metrics import icd
from clue.metrics.choice import lenient_letter, reference_letter
from clue.metrics.labels import first_label, reference_correct
from clue.metrics.rouge import rouge
from clue.tasks import get_task


def test_rouge_equals_rouge_score_exactly():
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)
    pairs = [
        ("What are the treatments for gout?", "What are the treatments for gout and its causes?"),
        ("Heart failure, CKD stage 3", "Acute on chronic heart failure, chronic kidney disease"),
        ("", "anything"),
    ]
    for pred, ref in pairs:
        expected = scorer.score(ref, pred)
        got = rouge(pred, ref)
        for key in ("rouge1", "rouge2", "rougeL"):
            assert got[key] == expected[key].fmeasure


def test_rouge_hand_computed():
    # pred tokens: a b c ; ref tokens: a b d e -> overlap 2, P=2/3, R=2/4, F=4/7
    assert rouge("a b c", "a b d e")["rouge1"] == pytest.approx(4 / 7)
    # bigrams: pred {ab, bc}, ref {ab, bd, de} -> overlap 1, P=1/2, R=1/3, F=0.4
    assert rouge("a b c", "a b d e")["rouge2"] == pytest.approx(0.4)
    assert rouge("A B", "a b")["rouge1"] == 1.0  # lower-cased, no stemming
    assert rouge("infections", "infection")["rouge1"] == 0.0


def test_mednli_exactly_once_rule_and_its_quirks():
    assert reference_correct("entailment", "entailment")
    assert reference_correct("The answer: ENTAILMENT.", "entailment")
    assert not reference_correct("ENTAILMENT, definitely ENTAILMENT", "entailment")  # twice: wrong
    assert reference_correct("ENTAILMENT or NEUTRAL or CONTRADICTION", "neutral")  # gamed: counts
    assert not reference_correct("no idea", "neutral")
    assert first_label("neutral... or contradiction") == "NEUTRAL"
    assert first_label("nothing") is None


def _request(task, gold, payload=None, subtask=None):
    return Reference(request_id="r", task=task, item_id="i", gold=gold, inputs=payload or {}, subtask=subtask)


def test_mednli_task_scoring_reports_stricter_diagnostic():
    t = get_task("mednli")
    s = t.score(_request("mednli", "neutral"), "ENTAILMENT NEUTRAL CONTRADICTION")
    assert s.metrics == {"accuracy": 1.0}
    assert s.diagnostics["first_label_accuracy"] == 0.0
    assert s.diagnostics["several_labels_rate"] == 1.0


def test_icd_reference_extraction_quirks():
    text = "Codes: E11.9, I50.33, U07.1, C7A.1, M1A.0, vitamin B12 deficiency, e11.9, E119"
    assert icd.extract_codes(text) == ["E119", "I5033", "B12", "E119"]
    # U codes, letters in third place and lowercase codes are missed; B12 is matched.
    fixed = icd.extract_codes_fixed(text)
    assert "U071" in fixed and "C7A1" in fixed and "M1A0" in fixed and "B12" not in fixed
    assert fixed.count("E119") == 1


def test_icd_exact_match_counts_duplicates_approximate_uses_sets():
    gold = ["E119", "I10", "N179"]
    pred = ["E119", "E119", "I10", "J189"]
    # list: tp = 3 (E119 twice, I10), fp = 1 (J189), fn = 1 (N179)
    p, r, f = icd.exact_match_list(pred, gold)
    assert (p, r) == (pytest.approx(3 / 4), pytest.approx(3 / 4)) and f == pytest.approx(0.75)
    # categories: pred {E11, I10, J18}, gold {E11, I10, N17}: tp 2, fp 1, fn 1
    p, r, f = icd.set_match(icd.categories(pred), icd.categories(gold))
    assert f == pytest.approx(2 / 3)
    assert icd.exact_match_list([], gold) == (0.0, 0.0, 0.0)
    assert icd.exact_match_list(["E119"], []) == (0.0, 0.0, 0.0)  # no gold: scores 0


def test_icd_valid_rate_and_edition():
    assert icd.valid_rate(["E119", "B12", "I10"]) == pytest.approx(2 / 3)
    assert icd.valid_rate([]) == 0.0
    assert icd.valid_rate(["e119"]) == 0.0  # as stored: lower-case is not a code
    assert icd.is_valid("U071") and icd.is_valid("C7A") and not icd.is_valid("B12")
    assert icd.is_billable("E119") and not icd.is_billable("E11")
    assert icd.edition()["edition"].startswith("ICD-10-CM ")


def test_medisumcode_task_score_hand_computed():
    t = get_task("medisumcode")
    s = t.score(_request("medisumcode", ["E119", "I10", "N179"]), "ICD-10 Codes: E11.9, E11.9, I10, J18.9, vitamin B12")
    # predicted list: E119 E119 I10 J189 B12 -> tp 3, fp 2, fn 1: P 3/5, R 3/4
    assert s.metrics["em_f1"] == pytest.approx(2 * 0.6 * 0.75 / 1.35)
    # categories pred {E11, I10, J18, B12} gold {E11, I10, N17}: P 2/4 R 2/3
    assert s.metrics["ap_f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert s.metrics["valid"] == pytest.approx(4 / 5)
    assert s.diagnostics["duplicate_codes_rate"] == 1.0
    # fixed pattern, sets: {E119, I10, J189} vs gold: tp 2 fp 1 fn 1
    assert s.diagnostics["fixed_pattern_em_f1"] == pytest.approx(2 / 3)
    empty = t.score(_request("medisumcode", ["E119"]), "I am not sure.")
    assert empty.metrics == {"em_f1": 0.0, "ap_f1": 0.0, "valid": 0.0}


def test_longhealth_parses():
    options = {"A": "Aspirin", "B": "Heparin", "C": "Warfarin", "D": "None", "E": "Both", "F": "cannot be answered"}
    assert reference_letter("The correct answer is B: Heparin") == "B"
    assert reference_letter("the correct answer is B: Heparin") is None  # case-sensitive
    assert reference_letter("The correct answer is B") is None  # colon required
    assert reference_letter("x The correct answer is C: W. Or The correct answer is A: a") == "C"
    assert lenient_letter("The correct answer is B", options) == "B"
    assert lenient_letter("Answer: (c)", options) == "C"
    assert lenient_letter("B) Heparin", options) == "B"
    assert lenient_letter("I think heparin is right", options) == "B"
    assert lenient_letter("Nothing useful", options) is None


def test_longhealth_task_scoring():
    t = get_task("longhealth")
    options = {"A": "a1", "B": "b1", "C": "c1", "D": "d1", "E": "e1", "F": "cannot"}
    s = t.score(_request("longhealth", "F", {"options": options}, "task3"), "The correct answer is F: cannot")
    assert s.metrics == {"task3": 1.0} and s.diagnostics["task3_unparsed_rate"] == 0.0
    s = t.score(_request("longhealth", "B", {"options": options}, "task2"), "Answer: B")
    assert s.metrics == {"task2": 0.0}
    assert s.diagnostics["task2_lenient"] == 1.0 and s.diagnostics["task2_unparsed_rate"] == 1.0

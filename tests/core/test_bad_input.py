"""Bad input that used to get past the loaders: each is refused with file, record and field named
(exit 2, no traceback, no run directory made); a UTF-8 byte order mark is accepted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clue.core.errors import DataError
from clue.tasks import get_task
from tests.helpers.cli import clue


def mednli_lines(n: int = 6) -> list[str]:
    labels = ["entailment", "neutral", "contradiction"]
    return [json.dumps({"pairID": f"p{i}", "sentence1": f"Synthetic patient {i} has a cough.",
                        "sentence2": "The patient coughs.", "gold_label": labels[i % 3]}) for i in range(n)]


def refused(tmp_path: Path, task: str, data: Path) -> str:
    out = tmp_path / "out"
    proc = clue("run", "--tasks", task, "--data", f"{task}={data}", "--output", str(out))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists(), "nothing is created before the data is known to be good"
    assert str(data) in proc.stderr
    return proc.stderr


def test_a_lone_surrogate_is_named(tmp_path):
    lines = mednli_lines()
    lines[3] = lines[3].replace("has a cough", "has a \\ud800 cough")  # JSON escape: valid JSON, invalid Unicode
    data = tmp_path / "mednli.jsonl"
    data.write_text("\n".join(lines) + "\n")
    err = refused(tmp_path, "mednli", data)
    assert "line 4" in err and "'sentence1'" in err and "lone surrogate \\ud800" in err


def test_nan_is_not_the_text_nan(tmp_path):
    lines = mednli_lines()
    lines[2] = lines[2].replace('"The patient coughs."', "NaN")
    data = tmp_path / "mednli.jsonl"
    data.write_text("\n".join(lines) + "\n")
    err = refused(tmp_path, "mednli", data)
    assert "line 3" in err and "'sentence2'" in err and "NaN" in err


def test_nan_inside_a_longhealth_record_is_named(tmp_path):
    demo = json.loads(get_task("longhealth").demo_path().read_text(encoding="utf-8"))
    patient = next(iter(demo))
    demo[patient]["questions"][0]["answer_a"] = float("nan")
    data = tmp_path / "benchmark_v5.json"
    data.write_text(json.dumps(demo))  # json.dumps writes NaN
    err = refused(tmp_path, "longhealth", data)
    assert f"key '{patient}'" in err and "questions[0].answer_a" in err and "NaN" in err


def test_bytes_that_are_not_utf8_name_the_line(tmp_path):
    lines = [line.encode() for line in mednli_lines()]
    lines[4] = lines[4].replace(b"cough", b"c\xf6ugh")  # Latin-1, not UTF-8
    data = tmp_path / "mednli.jsonl"
    data.write_bytes(b"\n".join(lines) + b"\n")
    err = refused(tmp_path, "mednli", data)
    assert "line 5" in err and "not UTF-8" in err and "0xf6" in err


def test_bytes_that_are_not_utf8_in_a_csv_name_the_line(tmp_path):
    data = tmp_path / "meqsum.csv"
    data.write_bytes(b"File,CHQ,Summary\n1,What is flu?,flu\n2,What is a c\xf6ugh?,cough\n")
    err = refused(tmp_path, "meqsum", data)
    assert "line 3" in err and "not UTF-8" in err


def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    data = tmp_path / "mednli.jsonl"
    data.write_bytes(b"\xef\xbb\xbf" + ("\n".join(mednli_lines()) + "\n").encode())
    assert [item.id for item in get_task("mednli").load(data)] == [f"p{i}" for i in range(6)]
    table = tmp_path / "meqsum.csv"
    table.write_bytes(b"\xef\xbb\xbfFile,CHQ,Summary\n" + b"".join(b"%d,Question %d?,summary %d\n" % (i, i, i) for i in range(5)))
    assert len(get_task("meqsum").load(table)) == 5
    out = tmp_path / "out"
    proc = clue("run", "--tasks", "mednli", "--data", f"mednli={data}", "--output", str(out))
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("indent", [2, None], ids=["pretty", "one-line"])
def test_a_medisumqa_file_that_is_one_object_names_the_file(tmp_path, indent):
    data = tmp_path / "medisumqa.json"
    data.write_text(json.dumps({"discharge_summary": "A letter.", "Question": "Why?", "Answer": "Because."}, indent=indent))
    err = refused(tmp_path, "medisumqa", data)
    assert "is one JSON object" in err and "JSON array" in err
    with pytest.raises(DataError, match="medisumqa.json"):
        get_task("medisumqa").load(data)

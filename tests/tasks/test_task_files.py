"""Task files (TOML/YAML) users write without touching clue: checking, loading, scoring, running.

Every task file and data file here is made in the test (synthetic text, no
MIMIC data). The commands run in this process as a user's next ``clue`` call
would run them: the registry without any task file's task, the test folder as
HOME.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from clue.core.errors import DataError, UsageError
from clue.core.records import Reference
from clue.tasks.registry import all_tasks, get_task, load_task_file, unregister
from clue.tasks.suite import CLUE, resolve_tasks
from clue.tasks.templates import Templates
from clue.tasks.userfile import FileTask, read_spec, template_variables
from tests.helpers import cli

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "examples" / "discharge_codes" / "discharge_codes.toml"

pytestmark = pytest.mark.usefixtures("forget_task_files")


def clue(*args: str, cwd: Path, env: dict[str, str | None] | None = None) -> cli.Ran:
    """``clue ARGS`` in ``cwd``, started as a new process starts: no task file's task is registered yet
    (each is read again from the file a command names), HOME is ``cwd`` and no approvals or caches come
    from the environment."""
    for name, task in all_tasks().items():
        if isinstance(task, FileTask):
            unregister(name)
    home = {"HOME": str(cwd), "XDG_CONFIG_HOME": None, "XDG_CACHE_HOME": None, "CLUE_APPROVED_ENDPOINTS": None,
            "CLUE_CACHE_DIR": None}
    return cli.clue(*args, cwd=cwd, env={**home, **(env or {})})


# -- a label task over a CSV: the files a user writes --------------------------------------------------
SMOKING_TOML = """\
name = "smoking"
title = "Smoking status"
data = "smoking.csv"
prompts = "prompts"
shots = 2
max_new_tokens = 8
metrics = ["accuracy"]
labels = ["current", "former", "never"]

[fields]
id = "note_id"
gold = "status"
inputs = { note = "social_history" }
"""
SMOKING_ROWS = [
    ("s01", "Smokes one pack per day for 20 years.", "current"),
    ("s02", "Quit smoking in 2010, 30 pack-years.", "former"),
    ("s03", "Denies tobacco use ever.", "never"),
    ("s04", "Current smoker, half a pack daily.", "Current"),
    ("s05", "Former smoker, stopped 5 years ago.", "FORMER"),
    ("s06", "Lifelong non-smoker.", "never"),
    ("s07", "Smokes cigars on weekends.", "current"),
    ("s08", "Never smoked.", "never"),
]


def write_csv(path: Path, header: list[str], rows: list[tuple]) -> Path:
    import csv

    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def smoking_task(folder: Path, toml: str = SMOKING_TOML, rows: list[tuple] | None = None,
                 user: str = "Social history: $note\nSmoking status?") -> Path:
    (folder / "prompts").mkdir(parents=True, exist_ok=True)
    (folder / "prompts" / "smoking.system.txt").write_text("Classify the smoking status: CURRENT, FORMER or NEVER.\n")
    (folder / "prompts" / "smoking.user.txt").write_text(user + "\n")
    write_csv(folder / "smoking.csv", ["note_id", "social_history", "status"], rows if rows is not None else SMOKING_ROWS)
    path = folder / "smoking.toml"
    path.write_text(toml, encoding="utf-8")
    return path


def edit(toml: str, old: str, new: str) -> str:
    assert old in toml, old
    return toml.replace(old, new)


# -- the file is checked strictly ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "change, key, problem",
    [
        (("shots = 2", "shots = 2\nshot = 3"), "shot", "unknown key"),
        (('metrics = ["accuracy"]\n', ""), "metrics", "missing"),
        (('metrics = ["accuracy"]', 'metrics = ["f1"]'), "metrics", "unknown metric 'f1'"),
        (('metrics = ["accuracy"]', 'metrics = ["accuracy", "rouge1"]'), "metrics", "mixes metric families"),
        (('labels = ["current", "former", "never"]\n', ""), "labels", "needs the label set"),
        (('labels = ["current", "former", "never"]', 'labels = ["smoker", "nonsmoker"]'), "labels", "occurs inside"),
        (('labels = ["current", "former", "never"]', 'labels = ["never", "NEVER"]'), "labels", "twice"),
        (("max_new_tokens = 8\n", ""), "max_new_tokens", "missing"),
        (("max_new_tokens = 8", "max_new_tokens = 0"), "max_new_tokens", "at least 1"),
        (("shots = 2", 'shots = "2"'), "shots", "whole number"),
        (('name = "smoking"', 'name = "level1"'), "name", "not all, overall or levelN"),
        (('name = "smoking"', 'name = "smoking/../x"'), "name", "letters, digits"),
        (('data = "smoking.csv"', 'data = "smoking.parquet"'), "data", "expected a .jsonl"),
        (('title = "Smoking status"', 'title = "Smoking status"\naccess = "secret"'), "access", "public, credentialed"),
        (('title = "Smoking status"', 'title = "Smoking status"\nlevel = "one"'), "level", "whole number"),
        (('title = "Smoking status"', 'title = "Smoking status"\ndocument_field = "history"'), "document_field", "not one of the inputs"),
        (('title = "Smoking status"', 'title = "Smoking status"\ncode_separator = ";"'), "code_separator", "ICD-10"),
        (('title = "Smoking status"', 'title = "Smoking status"\ndocument_field = ["note"]'), "document_field", "non-empty text"),
        (('title = "Smoking status"', 'title = "Smoking status"\ndescription = 3'), "description", "non-empty text"),
        (('title = "Smoking status"', 'title = ""'), "title", "non-empty text"),
        (('gold = "status"\n', ""), "fields.gold", "missing"),
        (('gold = "status"', 'gold = "status"\nlabel = "x"'), "fields.label", "unknown key"),
        (('inputs = { note = "social_history" }', 'inputs = { answer = "social_history" }'), "fields.inputs", "cannot be a template variable"),
        (('inputs = { note = "social_history" }', 'inputs = { "2note" = "social_history" }'), "fields.inputs", "cannot be a template variable"),
    ],
)
def test_a_bad_task_file_names_the_file_and_the_key(tmp_path, change, key, problem):
    path = smoking_task(tmp_path, edit(SMOKING_TOML, *change))
    with pytest.raises(UsageError) as err:
        read_spec(path)
    message = str(err.value)
    assert message.startswith(f"{path}: {key}: "), message
    assert problem in message


def test_templates_are_checked_when_the_file_is_read(tmp_path):
    path = smoking_task(tmp_path, user="History: $note; age $age")
    with pytest.raises(UsageError, match=r"smoking\.user\.txt uses \$age, which is no variable it gets \(it gets: note"):
        read_spec(path)
    (tmp_path / "prompts" / "smoking.user.txt").write_text("History: $note costs 5$")
    with pytest.raises(UsageError, match=r"uses \$\$"):
        read_spec(path)
    (tmp_path / "prompts" / "smoking.user.txt").write_text("History: $note costs 5$$")
    read_spec(path)
    (tmp_path / "prompts" / "smoking.user.txt").unlink()
    with pytest.raises(UsageError, match=r"smoking\.user\.txt is missing \(the user prompt\)"):
        read_spec(path)
    assert template_variables("a $x ${y} $$z $") == {"x", "y", "$"}


def test_invalid_toml_and_a_missing_file_name_the_file(tmp_path):
    path = smoking_task(tmp_path, SMOKING_TOML + "\nbroken = [\n")
    with pytest.raises(UsageError, match=f"{path}: not valid TOML"):
        read_spec(path)
    with pytest.raises(UsageError, match="task file not found"):
        resolve_tasks(str(tmp_path / "nothing.toml"))


def test_a_task_file_cannot_take_a_built_in_name(tmp_path):
    path = smoking_task(tmp_path, edit(SMOKING_TOML, 'name = "smoking"', 'name = "mednli"'))
    for part in ("system", "user"):
        (tmp_path / "prompts" / f"smoking.{part}.txt").rename(tmp_path / "prompts" / f"mednli.{part}.txt")
    with pytest.raises(UsageError, match="clashes with the one from builtin"):
        resolve_tasks(str(path))
    assert get_task("mednli").level == 1 and not isinstance(get_task("mednli"), FileTask)


# -- bad rows name the file, the row and the field ---------------------------------------------------------
@pytest.mark.parametrize(
    "rows, where",
    [
        ([*SMOKING_ROWS[:3], ("s04", "Smokes.", "sometimes")], r"row 5: field 'status': unknown label 'sometimes'"),
        ([*SMOKING_ROWS[:3], ("s04", "", "never")], r"row 5: field 'social_history': is empty"),
        ([*SMOKING_ROWS[:3], ("s02", "Smokes.", "current")], r"row 5: field 'note_id': duplicate id 's02' \(also in row 3\)"),
        ([*SMOKING_ROWS[:2], ("s03", "Smokes.", "")], r"row 4: field 'status': is empty"),
    ],
)
def test_a_bad_row_names_the_file_row_and_field(tmp_path, rows, where):
    task = load_task_file(smoking_task(tmp_path, rows=rows))
    with pytest.raises(DataError, match=where) as err:
        task.load(tmp_path / "smoking.csv")
    assert str(err.value).startswith(str(tmp_path / "smoking.csv"))


def test_a_missing_column_is_named(tmp_path):
    task = load_task_file(smoking_task(tmp_path, edit(SMOKING_TOML, 'gold = "status"', 'gold = "smoking_status"')))
    with pytest.raises(DataError, match=r"field 'smoking_status': missing column"):
        task.load(tmp_path / "smoking.csv")


# -- scoring, per metric family ----------------------------------------------------------------------------
def reference(task: FileTask, gold, inputs=None) -> Reference:
    return Reference(request_id=f"{task.name}/x", task=task.name, item_id="x", gold=gold, inputs=inputs or {})


def test_label_accuracy_follows_the_reference_rule_with_a_first_label_diagnostic(tmp_path):
    task = load_task_file(smoking_task(tmp_path))
    items = task.load(tmp_path / "smoking.csv")
    assert [i.gold for i in items][3:5] == ["current", "former"]  # matched case-insensitively, spelt as declared
    assert task.score(reference(task, "former"), "Former smoker.").metrics == {"accuracy": 1.0}
    # the reference rule is gameable: naming every label once is right whatever the gold...
    gamed = task.score(reference(task, "never"), "CURRENT or FORMER or NEVER")
    assert gamed.metrics == {"accuracy": 1.0}
    # ... so the first label named is reported beside it
    assert gamed.parsed == "CURRENT" and gamed.diagnostics["first_label_accuracy"] == 0.0
    assert gamed.diagnostics["several_labels_rate"] == 1.0
    twice = task.score(reference(task, "never"), "never, never")
    assert twice.metrics == {"accuracy": 0.0} and twice.diagnostics["no_label_rate"] == 0.0
    assert task.score(reference(task, "never"), "no idea").diagnostics["no_label_rate"] == 1.0
    assert task.baseline({"note": "anything"}) == "current"


def test_choice_accuracy_parses_like_longhealth_and_takes_gold_as_letter_or_option_text(tmp_path):
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "mcq.system.txt").write_text("Answer as: The correct answer is X: option.")
    (tmp_path / "prompts" / "mcq.user.txt").write_text("$question\nA: $a\nB: $b\nC: $c")
    data = tmp_path / "mcq.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in [
        {"qid": 1, "question": "Which drug is an anticoagulant?", "a": "Warfarin", "b": "Metformin", "c": "Insulin", "key": "A"},
        {"qid": 2, "question": "Which is a beta blocker?", "a": "Lisinopril", "b": "Metoprolol", "c": "Amlodipine", "key": "Metoprolol"},
        {"qid": 3, "question": "Which lowers glucose?", "a": "Aspirin", "b": "Heparin", "c": "Insulin", "key": "c"},
    ]) + "\n")
    path = tmp_path / "mcq.yaml"
    path.write_text(textwrap.dedent("""\
        name: mcq
        data: mcq.jsonl
        prompts: prompts
        shots: 1
        max_new_tokens: 30
        access: public
        metrics: [choice_accuracy]
        choices: {A: a, B: b, C: c}
        fields:
          id: qid
          gold: key
          inputs: [question, a, b, c]
        """))
    task = load_task_file(path)
    items = task.load(data)
    assert [i.gold for i in items] == ["A", "B", "C"] and items[0].id == "1"
    ref = reference(task, "B", {"a": "Lisinopril", "b": "Metoprolol", "c": "Amlodipine"})
    strict = task.score(ref, "The correct answer is B: Metoprolol")
    assert strict.metrics == {"choice_accuracy": 1.0} and strict.parsed == "B"
    loose = task.score(ref, "Answer: (B)")
    assert loose.metrics == {"choice_accuracy": 0.0} and loose.diagnostics == {"lenient_accuracy": 1.0, "unparsed_rate": 1.0}
    assert task.score(ref, "It is Metoprolol, clearly.").diagnostics["lenient_accuracy"] == 1.0  # quotes one option
    assert task.baseline({}) == "The correct answer is A:"
    # the demonstration's answer shows the format the parse expects
    assert task.render_answer(items[1], Templates()) == "The correct answer is B: Metoprolol"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"qid": 9, "question": "q", "a": "x", "b": "y", "c": "z", "key": "w"}) + "\n")
    with pytest.raises(DataError, match=r"line 1: field 'key': 'w' is neither a choice letter nor one option's text"):
        task.load(bad)


def test_icd_codes_from_a_list_field_or_a_separated_string(tmp_path):
    task = load_task_file(EXAMPLE)
    items = task.load(EXAMPLE.parent / "discharge_codes.csv")
    assert items[0].gold == ["I5023", "I110"] and items[0].group == "p01"
    ref = reference(task, ["I5023", "I110"])
    scored = task.score(ref, "ICD-10 Codes: I50.23, I11.0, Z99.99")
    assert scored.metrics["em_f1"] == pytest.approx(0.8) and scored.metrics["valid"] == pytest.approx(2 / 3)
    assert set(scored.metrics) == {"em_f1", "ap_f1", "valid"}
    # JSONL: a list of codes, or MeDiSumCode's {code, description} objects; a string split on , ; | or spaces
    jsonl = tmp_path / "codes.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in [
        {"note_id": "a", "patient_id": "p", "discharge_summary": "text", "codes": ["I10", "e11.9"]},
        {"note_id": "b", "patient_id": "p", "discharge_summary": "text", "codes": [{"code": "J18.9", "description": "Pneumonia"}]},
        {"note_id": "c", "patient_id": "p", "discharge_summary": "text", "codes": []},
    ]) + "\n")
    assert [i.gold for i in task.load(jsonl)] == [["I10", "E119"], ["J189"], []]
    jsonl.write_text(json.dumps({"note_id": "a", "patient_id": "p", "discharge_summary": "t", "codes": ["I10", "hypertension"]}) + "\n")
    with pytest.raises(DataError, match=r"line 1: field 'codes': 'hypertension' is not an ICD-10 code"):
        task.load(jsonl)
    jsonl.write_text(json.dumps({"note_id": "a", "patient_id": "p", "discharge_summary": ["t"], "codes": []}) + "\n")
    with pytest.raises(DataError, match=r"line 1: field 'discharge_summary': expected text, found list"):
        task.load(jsonl)
    assert task.baseline({"summary": "Treated for pneumonia. History of hypertension."}) == "ICD-10 Codes: J18.9, I10"


def test_text_metrics_score_only_what_the_file_declares_and_bertscore_is_a_model_metric(tmp_path):
    (tmp_path / "sum.system.txt").write_text("Summarise.")
    (tmp_path / "sum.user.txt").write_text("$text")
    write_csv(tmp_path / "sum.csv", ["id", "text", "summary"], [("1", "Chest pain. Ruled out MI.", "chest pain")])
    (tmp_path / "sum.toml").write_text(
        'name = "sum"\ndata = "sum.csv"\nmax_new_tokens = 50\nmetrics = ["rougeL", "bertscore"]\n'
        '[fields]\nid = "id"\ngold = "summary"\ninputs = ["text"]\n'
    )
    task = load_task_file(tmp_path / "sum.toml")
    assert task.declaration.model_metrics == ("bertscore",) and task.access == "credentialed" and task.level is None
    scored = task.score(reference(task, "chest pain"), " chest pain ")
    assert scored.metrics == {"rougeL": 1.0} and scored.parsed == "chest pain"
    assert task.baseline({"text": "Chest pain. Ruled out MI."}) == "Chest pain."


def test_an_xlsx_data_file_and_the_same_task_in_yaml(tmp_path):
    pytest.importorskip("openpyxl")
    import pandas as pd

    toml = smoking_task(tmp_path)
    pd.DataFrame(SMOKING_ROWS, columns=["note_id", "social_history", "status"]).to_excel(tmp_path / "smoking.xlsx", index=False)
    yaml_path = tmp_path / "smoking.yaml"
    yaml_path.write_text(textwrap.dedent("""\
        name: smoking
        title: Smoking status
        data: smoking.xlsx
        prompts: prompts
        shots: 2
        max_new_tokens: 8
        metrics: [accuracy]
        labels: [current, former, never]
        fields: {id: note_id, gold: status, inputs: {note: social_history}}
        """))
    from_yaml = FileTask.from_file(yaml_path)
    from_toml = FileTask.from_file(toml)
    assert from_yaml.load(tmp_path / "smoking.xlsx") == from_toml.load(tmp_path / "smoking.csv")
    assert from_yaml.describe()["metrics"] == from_toml.describe()["metrics"]


# -- the command line ----------------------------------------------------------------------------------
def test_a_task_file_over_a_csv_runs_end_to_end_with_the_baseline(tmp_path):
    smoking_task(tmp_path / "mytask")
    proc = clue("run", "--tasks", "mytask/smoking.toml", "--output", "out", "--bootstrap", "100", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out"
    results = json.loads((out / "results.json").read_text())
    rows = [json.loads(line) for line in (out / "predictions" / "smoking.jsonl").read_text().splitlines()]
    assert list(results["tasks"]) == ["smoking"] and len(rows) == len(SMOKING_ROWS) - 2 == results["tasks"]["smoking"]["n"]
    assert {r["output"] for r in rows} == {"current"}  # the baseline names the first label
    golds = {r[0]: r[2].lower() for r in SMOKING_ROWS}
    assert all(r["metrics"]["accuracy"] == float(golds[r["item_id"]] == "current") for r in rows)
    expected = 100 * sum(golds[r["item_id"]] == "current" for r in rows) / len(rows)
    assert results["tasks"]["smoking"]["score"] == pytest.approx(expected)
    manifest = json.loads((out / "manifest.json").read_text())
    task = manifest["tasks"]["smoking"]
    assert task["source"] == "task-file" and task["access"] == "credentialed"
    assert task["declaration"]["level"] is None  # outside the CLUE level scores
    assert task["declaration"]["task_file"] == str(tmp_path / "mytask" / "smoking.toml")
    assert manifest["templates"]["smoking.user"]["source"] == str(tmp_path / "mytask" / "prompts" / "smoking.user.txt")
    # the prompts carry the two demonstrations and the file's own templates
    prompts = clue("prompts", "--tasks", "mytask/smoking.toml", "--output", "p.jsonl", cwd=tmp_path)
    assert prompts.returncode == 0, prompts.stderr
    first = json.loads((tmp_path / "p.jsonl").read_text().splitlines()[0])
    assert [m["role"] for m in first["messages"]] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert first["messages"][-1]["content"].startswith("Social history: ")

    # clue score RUN_DIR as a fresh process: the task is registered again from the file the manifest names
    again = clue("score", "out", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert json.loads((out / "results.json").read_text())["tasks"] == results["tasks"]
    # the report reads the title from the manifest (the task file is not loaded there)
    report = clue("report", "out", "--out", "report", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert "Smoking status" in (tmp_path / "report" / "leaderboard.md").read_text()
    assert "Smoking status" in (tmp_path / "report" / "report.html").read_text()
    # an edited task file no longer rebuilds the same requests: refused, not silently rescored
    toml = tmp_path / "mytask" / "smoking.toml"
    toml.write_text(toml.read_text().replace("shots = 2", "shots = 1"))
    changed = clue("score", "out", cwd=tmp_path)
    assert changed.returncode == 2 and "has changed since the run" in changed.stderr


def test_predictions_are_scored_against_a_task_file(tmp_path):
    path = smoking_task(tmp_path)
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps({"id": r[0], "output": r[2].upper()}) + "\n" for r in SMOKING_ROWS))
    proc = clue("score", "--task", str(path), "--data", str(tmp_path / "smoking.csv"), "--predictions", str(answers),
                "--output", "scored", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "2 prediction id(s) are for the few-shot demonstrations" in proc.stderr
    assert json.loads((tmp_path / "scored" / "results.json").read_text())["tasks"]["smoking"]["score"] == 100.0
    # compared with the baseline in a fresh process: paired by request, McNemar on the paired-binary accuracy
    base = clue("run", "--tasks", str(path), "--output", "base", "--bootstrap", "0", cwd=tmp_path)
    assert base.returncode == 0, base.stderr
    compared = clue("compare", "base", "scored", "--out", "cmp.json", "--resamples", "200", cwd=tmp_path)
    assert compared.returncode == 0, compared.stderr
    smoking = json.loads((tmp_path / "cmp.json").read_text())["tasks"]["smoking"]
    assert smoking["n_paired"] == len(SMOKING_ROWS) - 2 and smoking["unit"] == "item"
    base_score = json.loads((tmp_path / "base" / "results.json").read_text())["tasks"]["smoking"]["score"]
    assert smoking["delta"] == pytest.approx(100.0 - base_score) and "accuracy" in smoking["mcnemar"]


def test_the_example_task_file_runs_with_no_model(tmp_path):
    """Every metric family has a baseline: with no --model, the documented ICD example runs and scores."""
    proc = clue("run", "--tasks", str(EXAMPLE), "--output", "out", "--bootstrap", "0", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in (tmp_path / "out" / "predictions" / "discharge_codes.jsonl").read_text().splitlines()]
    assert rows and all(r["output"].startswith("ICD-10 Codes: ") for r in rows)


def test_credentialed_by_default_a_task_file_is_not_sent_to_an_unknown_host(tmp_path):
    smoking_task(tmp_path)
    proc = clue("run", "--tasks", "smoking.toml", "--model", "openai:some-model",
                "--base-url", "http://llm.example.invalid:8000/v1", "--output", "out", cwd=tmp_path)
    assert proc.returncode == 4, proc.stderr
    assert "refusing to send credentialed data (smoking)" in proc.stderr and "Nothing was sent" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_task_file_runs_against_a_local_server(tmp_path):
    """A credentialed task file may go to a server on 127.0.0.1; every request arrives and is scored."""
    pytest.importorskip("httpx", reason="the OpenAI-compatible backend needs httpx")
    pytest.importorskip("aiohttp", reason="the fake server needs aiohttp")
    from tests.helpers.fakeserver import FakeServer

    (tmp_path / "notes.system.txt").write_text("Summarise the note.")
    (tmp_path / "notes.user.txt").write_text("$note")
    rows = [(f"n{i}", f"Patient {i} admitted with chest pain, troponin negative.", "chest pain") for i in range(5)]
    write_csv(tmp_path / "notes.csv", ["id", "note", "summary"], rows)
    (tmp_path / "notes.toml").write_text(
        'name = "notes"\ndata = "notes.csv"\nmax_new_tokens = 6\nmetrics = ["rouge1", "rougeL"]\n'
        'document_field = "note"\n[fields]\nid = "id"\ngold = "summary"\ninputs = ["note"]\n'
    )
    with FakeServer(max_seconds=60) as server:
        proc = clue("run", "--tasks", "notes.toml", "--model", "openai:fake-model", "--base-url", server.url,
                    "--output", "out", "--bootstrap", "0", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert server.requests == len(rows)
    scored = [json.loads(line) for line in (tmp_path / "out" / "predictions" / "notes.jsonl").read_text().splitlines()]
    assert len(scored) == len(rows) and all(r["output"].startswith("ref-") for r in scored)
    assert all(set(r["metrics"]) == {"rouge1", "rougeL"} for r in scored)


def test_clue_tasks_include_lists_a_folder_of_task_files(tmp_path):
    folder = tmp_path / "tasks"
    smoking_task(folder)
    (folder / "codes.toml").write_text(EXAMPLE.read_text().replace('"prompts"', f'"{EXAMPLE.parent / "prompts"}"')
                                       .replace('"discharge_codes.csv"', f'"{EXAMPLE.parent / "discharge_codes.csv"}"'))
    proc = clue("tasks", "--json", "--include", str(folder), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    listed = {r["task"]: r for r in json.loads(proc.stdout)}
    assert listed["smoking"]["source"] == f"file {folder / 'smoking.toml'}"
    assert listed["discharge_codes"]["metrics"] == ["em_f1", "ap_f1", "valid"]
    assert listed["mednli"]["source"] == "builtin"
    table = clue("tasks", "--include", str(folder / "smoking.toml"), cwd=tmp_path)
    assert table.returncode == 0 and "smoking" in table.stdout and "discharge_codes" not in table.stdout
    empty = tmp_path / "empty"
    empty.mkdir()
    none = clue("tasks", "--include", str(empty), cwd=tmp_path)
    assert none.returncode == 2 and "no task files" in none.stderr


def test_a_level_declared_in_a_task_file_does_not_put_it_into_a_clue_level(tmp_path):
    path = smoking_task(tmp_path, edit(SMOKING_TOML, 'title = "Smoking status"', 'title = "Smoking status"\nlevel = 1'))
    names = resolve_tasks(f"level1,{path}")
    assert names == [*CLUE.level_members()["level1"], "smoking"]
    assert "smoking" in all_tasks() and get_task("smoking").level == 1  # a description, kept in the declaration
    assert resolve_tasks("level1") == list(CLUE.level_members()["level1"])  # registered, still outside CLUE's level 1
    assert "smoking" not in resolve_tasks("all")


def test_a_sweep_runs_task_files_relative_to_the_sweep_file_and_sees_them_change(tmp_path):
    from clue.pipeline.sweep import load_sweep, run_sweep

    smoking_task(tmp_path / "study" / "tasks")
    sweep = tmp_path / "study" / "sweep.yaml"
    sweep.write_text("output: runs\ntasks: [tasks/smoking.toml]\nmodels: [baseline]\n")
    plan = load_sweep(sweep)
    assert plan.models[0].tasks == ["smoking"]
    lines: list[str] = []
    first = run_sweep(plan, log=lines.append)
    assert [o.status for o in first] == ["done"]
    run = first[0].run
    assert json.loads((run / "results.json").read_text())["tasks"]["smoking"]["n"] == len(SMOKING_ROWS) - 2
    assert [o.status for o in run_sweep(load_sweep(sweep), log=lines.append)] == ["skipped"]
    # the task's prompt changed: the finished run is not the run this sweep asks for any more
    (tmp_path / "study" / "tasks" / "prompts" / "smoking.user.txt").write_text("Note: $note\nStatus?\n")
    assert [o.status for o in run_sweep(load_sweep(sweep), log=lines.append)] == ["done"]

"""Suites are values: CLUE's levels are the CLUE suite's, whatever else is registered.

A contributor adds a built-in task by the documented steps (a task folder with
task.py, prompts/ and demo/, and the registry line in ``BUILTIN``): the whole
CLUE suite still scores exactly the demo numbers, the new task runs by name,
and ``--tasks level1`` under a reference protocol never tries it. A user's own
suite file (TOML or YAML) names tasks, task files and levels; ``clue run
--suite FILE`` scores its levels and records the suite.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import clue.tasks.registry as registry
from clue.core.errors import UsageError
from clue.tasks.suite import CLUE, Level, Suite, builtin_suites, get_suite, read_suite_file, resolve_tasks, suite_levels

HERE = Path(__file__).resolve().parent

# `clue run` with no options (the baseline on the bundled demo data): the numbers the demo run has always had.
DEMO_TASKS = {
    "mednli": 33.33333333333333,
    "meqsum": 34.932121255650664,
    "problem_summary": 52.9143133873096,
    "medisumqa": 14.667292982024504,
    "medisumcode": 59.2015392015392,
    "longhealth": 59.25925925925926,
}
DEMO_LEVELS = {"level1": 40.39325599209786, "level2": 44.37603048094098, "overall": 42.38464323651942}


@pytest.fixture(scope="module")
def app():
    from clue.cli import app

    return app


def invoke(app, *args: str, ok: bool = True):
    result = CliRunner().invoke(app, [*args])
    if ok:
        assert result.exit_code == 0, f"clue {' '.join(args)} failed:\n{result.output}\n{result.exception!r}"
    return result


def results_of(run: Path) -> dict:
    return json.loads((run / "results.json").read_text(encoding="utf-8"))


# -- the CLUE suite -------------------------------------------------------------------------------------
def test_the_clue_suite_is_the_six_tasks_in_two_levels():
    assert builtin_suites() == {"clue": CLUE} and get_suite("clue") is CLUE
    assert CLUE.level_members() == {
        "level1": ("mednli", "meqsum", "problem_summary"),
        "level2": ("medisumqa", "medisumcode", "longhealth"),
        "overall": ("mednli", "meqsum", "problem_summary", "medisumqa", "medisumcode", "longhealth"),
    }
    assert CLUE.tasks == CLUE.level_members()["overall"]
    assert [lv.title for lv in CLUE.levels] == ["level 1", "level 2", "the overall score"]
    assert CLUE.protocols == ("clue", "clue-2024-06", "clue-2025-01") and CLUE.source == "builtin"
    assert suite_levels() == suite_levels("clue") == CLUE.level_members()
    assert resolve_tasks("all") == list(CLUE.tasks) and resolve_tasks("level2") == list(CLUE.level_members()["level2"])


# -- a contributor's new built-in task ---------------------------------------------------------------------
def contributor_task(root: Path) -> str:
    """A task folder made as docs/tasks.md says (task.py, baseline.py, prompts/, demo/), in a package under ``root``.

    Returns its BUILTIN line. The task is the toy parity task renamed: level 1, public, protocol "clue" only.
    """
    source = HERE / "clue_toy_tasks" / "parity"
    package = root / "clue_contrib"
    folder = package / "contrib_parity"
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "__init__.py").write_text("")
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("clue_toy_tasks.parity", "clue_contrib.contrib_parity").replace("toy_parity", "contrib_parity"),
                        encoding="utf-8")
        if "toy_parity" in path.name:
            path.rename(path.with_name(path.name.replace("toy_parity", "contrib_parity")))
    return "clue_contrib.contrib_parity.task:ToyParity"


@pytest.fixture
def contributed(tmp_path, monkeypatch):
    """The registry as it is after a contributor added one line to BUILTIN (the registry itself restored after)."""
    line = contributor_task(tmp_path / "src")
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    monkeypatch.setattr(registry, "BUILTIN", (*registry.BUILTIN, line))
    for name, value in (("_tasks", {}), ("_sources", {}), ("_plugin_errors", []), ("_loaded", False),
                        ("_plugins_loaded", False)):
        monkeypatch.setattr(registry, name, value)
    yield registry.get_task("contrib_parity")
    for module in [m for m in sys.modules if m == "clue_contrib" or m.startswith("clue_contrib.")]:
        del sys.modules[module]


def reference_templates(cache: Path, protocol: str, tasks: tuple[str, ...]) -> None:
    """Stand-ins for the reference's prompts (what `clue protocol fetch` writes), for the level-1 tasks."""
    folder = cache / "protocols" / protocol
    folder.mkdir(parents=True)
    for name in tasks:
        fields = list(registry.get_task(name).declaration.settings(protocol).fields)
        (folder / f"{name}.system.txt").write_text(f"System text for {name}.\n")
        (folder / f"{name}.user.txt").write_text("\n".join(f"{f}: ${{{f}}}" for f in fields) + "\n")
        answer = "".join(f"${{{f}}}" for f in fields if "answer" in f or f in ("gold_label", "summary", "Summary"))
        (folder / f"{name}.answer.txt").write_text("Answer: " + answer)


def test_a_new_built_in_task_leaves_the_clue_suite_and_its_demo_scores_unchanged(app, contributed, tmp_path, monkeypatch):
    assert contributed.level == 1 and registry.source_of("contrib_parity") == "builtin"
    assert list(registry.all_tasks())[-1] == "contrib_parity"
    # the whole CLUE suite, as `clue run` with no options runs it: exactly the demo numbers
    run = tmp_path / "clue"
    invoke(app, "run", "--output", str(run))
    results = results_of(run)
    assert {t: v["score"] for t, v in results["tasks"].items()} == DEMO_TASKS
    assert results["levels"] == DEMO_LEVELS
    assert "suite" not in results and "suite" not in json.loads((run / "manifest.json").read_text())
    # the new task runs by name, beside a CLUE task; no CLUE level is complete without its members
    named = tmp_path / "named"
    invoke(app, "run", "--tasks", "mednli,contrib_parity", "--output", str(named), "--bootstrap", "0")
    results = results_of(named)
    assert list(results["tasks"]) == ["mednli", "contrib_parity"]
    assert results["tasks"]["mednli"]["score"] == DEMO_TASKS["mednli"] and results["tasks"]["contrib_parity"]["n"] > 0
    assert results["levels"] == dict.fromkeys(DEMO_LEVELS)
    # CLUE's level 1 under a reference protocol the new task has no settings for: the new task is not tried
    monkeypatch.setenv("CLUE_CACHE_DIR", str(tmp_path / "cache"))
    reference_templates(tmp_path / "cache", "clue-2024-06", CLUE.level_members()["level1"])
    level1 = tmp_path / "level1"
    invoke(app, "run", "--tasks", "level1", "--protocol", "clue-2024-06", "--output", str(level1), "--bootstrap", "0")
    assert list(results_of(level1)["tasks"]) == list(CLUE.level_members()["level1"])
    assert results_of(level1)["levels"]["level1"] is not None
    failed = invoke(app, "run", "--tasks", "contrib_parity", "--protocol", "clue-2024-06", "--output", str(tmp_path / "x"), ok=False)
    assert "contrib_parity: no settings for protocol 'clue-2024-06'" in str(failed.exception)


# -- a user's suite file ------------------------------------------------------------------------------------
SMOKING_TOML = """\
name = "smoking"
title = "Smoking status"
access = "public"
data = "smoking.csv"
prompts = "prompts"
max_new_tokens = 8
metrics = ["accuracy"]
labels = ["current", "former", "never"]

[fields]
id = "note_id"
gold = "status"
inputs = { note = "note" }
"""
SMOKING_ROWS = [
    ("n1", "Smokes a pack a day.", "current"),
    ("n2", "Quit smoking ten years ago.", "former"),
    ("n3", "Never smoked.", "never"),
    ("n4", "Current smoker, 20 pack-years.", "current"),
    ("n5", "Former smoker.", "former"),
    ("n6", "Denies tobacco use ever.", "never"),
]


def smoking_task(folder: Path) -> Path:
    (folder / "prompts").mkdir(parents=True, exist_ok=True)
    (folder / "smoking.toml").write_text(SMOKING_TOML)
    (folder / "smoking.csv").write_text("note_id,note,status\n" + "".join(f'{i},"{n}",{s}\n' for i, n, s in SMOKING_ROWS))
    (folder / "prompts" / "smoking.system.txt").write_text("Classify the patient's smoking status.\n")
    (folder / "prompts" / "smoking.user.txt").write_text("Note: $note\nAnswer current, former or never.\n")
    return folder / "smoking.toml"


SUITE_TOML = """\
name = "my-suite"
title = "My suite"
tasks = ["mednli", "meqsum", "tasks/smoking.toml"]

[levels.core]
tasks = ["mednli", "meqsum"]
title = "core"

[levels.all3]
tasks = ["mednli", "meqsum", "smoking"]
title = "all three"
"""
SUITE_YAML = """\
name: my-suite
title: My suite
tasks: [mednli, meqsum, tasks/smoking.toml]
levels:
  core: {tasks: [mednli, meqsum], title: core}
  all3: {tasks: [mednli, meqsum, smoking], title: all three}
"""


@pytest.fixture
def suite_dir(tmp_path, forget_task_files):
    smoking_task(tmp_path / "study" / "tasks")
    return tmp_path / "study"


@pytest.mark.parametrize("kind, text", [("toml", SUITE_TOML), ("yaml", SUITE_YAML)])
def test_a_suite_file_names_tasks_task_files_and_levels(app, suite_dir, tmp_path, kind, text):
    path = suite_dir / f"my.{kind}"
    path.write_text(text)
    suite = get_suite(str(path))
    assert suite == Suite(
        name="my-suite", title="My suite", tasks=("mednli", "meqsum", "smoking"),
        levels=(Level("core", ("mednli", "meqsum"), "core"), Level("all3", ("mednli", "meqsum", "smoking"), "all three")),
        protocols=("clue",),  # the only profile the task file has settings for
        source=str(path.resolve()),
    )
    assert resolve_tasks(str(path)) == ["mednli", "meqsum", "smoking"]  # a suite file as a --tasks piece
    run = tmp_path / "run"
    invoke(app, "run", "--suite", str(path), "--limit", "3", "--output", str(run), "--bootstrap", "50")
    results = results_of(run)
    assert list(results["tasks"]) == ["mednli", "meqsum", "smoking"]
    assert list(results["levels"]) == ["core", "all3"] == list(results["levels_ci"])
    scores = {t: v["score"] for t, v in results["tasks"].items()}
    assert results["levels"]["core"] == pytest.approx((scores["mednli"] + scores["meqsum"]) / 2)
    assert results["levels"]["all3"] == pytest.approx(sum(scores.values()) / 3)
    assert results["suite"]["name"] == "my-suite" and results["suite"]["source"] == str(path.resolve())
    assert results["suite"]["levels"]["core"] == {"tasks": ["mednli", "meqsum"], "title": "core", "aggregate": "mean"}
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["suite"]["file"] == str(path.resolve()) and len(manifest["suite"]["sha256"]) == 64
    # scored again from its store: the same suite, the same levels
    invoke(app, "score", str(run))
    assert results_of(run)["levels"] == results["levels"]
    # --tasks with --suite: some of the suite's tasks; a task outside it is refused
    some = tmp_path / "some"
    invoke(app, "run", "--suite", str(path), "--tasks", "core", "--limit", "3", "--output", str(some), "--bootstrap", "0")
    assert list(results_of(some)["tasks"]) == ["mednli", "meqsum"] and results_of(some)["levels"]["all3"] is None
    refused = invoke(app, "run", "--suite", str(path), "--tasks", "longhealth", "--output", str(tmp_path / "no"), ok=False)
    assert "longhealth: not in the suite 'my-suite'" in str(refused.exception)
    refused = invoke(app, "run", "--suite", str(path), "--protocol", "clue-2024-06", "--output", str(tmp_path / "no"), ok=False)
    assert "does not support the protocol 'clue-2024-06'" in str(refused.exception)
    # the report ranks it apart from a CLUE run, with its own level columns
    clue_run = tmp_path / "clue-run"
    invoke(app, "run", "--tasks", "level1", "--limit", "3", "--output", str(clue_run), "--bootstrap", "0")
    report = tmp_path / "report"
    invoke(app, "report", str(run), str(clue_run), "--out", str(report), "--resamples", "50")
    board = json.loads((report / "leaderboard.json").read_text())
    assert board["levels"] == ["core", "all3", "level1", "level2", "overall"]
    assert sorted(r["group"] for r in board["rows"]) == [1, 2]
    assert any("suite" in r["apart"] for r in board["rows"])
    assert "| Core | All three |" in (report / "leaderboard.md").read_text()  # the suite's level titles
    assert "All three" in (report / "report.html").read_text()


def test_a_suite_file_without_levels_has_one_overall_level(suite_dir):
    path = suite_dir / "plain.toml"
    path.write_text('name = "plain"\ntasks = ["mednli", "tasks/smoking.toml"]\n')
    suite = read_suite_file(path)
    assert suite.title == "plain" and suite.levels == (Level("overall", ("mednli", "smoking"), "the overall score"),)


@pytest.mark.parametrize(
    "text, field, message",
    [
        ('title = "x"\ntasks = ["mednli"]\n', "name", "missing"),
        ('name = "clue"\ntasks = ["mednli"]\n', "name", "built-in suite"),
        ('name = "x"\n', "tasks", "missing"),
        ('name = "x"\ntasks = "mednli"\n', "tasks", "list"),
        ('name = "x"\ntasks = ["mednly"]\n', "tasks", "did you mean 'mednli'"),
        ('name = "x"\ntasks = ["tasks/nothing.toml"]\n', "tasks", "no such task file"),
        ('name = "x"\ntasks = ["mednli"]\nlevel = {}\n', "level", "unknown key"),
        ('name = "x"\ntasks = ["mednli"]\nprotocols = ["clue-2099"]\n', "protocols", "unknown protocol"),
        ('name = "x"\ntasks = ["tasks/smoking.toml"]\nprotocols = ["clue-2024-06"]\n', "protocols", "no settings"),
        ('name = "x"\ntasks = ["mednli"]\n[levels.core]\ntitle = "c"\n', "levels.core: tasks", "missing"),
        ('name = "x"\ntasks = ["mednli"]\n[levels.core]\ntasks = ["meqsum"]\n', "levels.core: tasks", "not one of the suite's tasks"),
        ('name = "x"\ntasks = ["mednli"]\n[levels.core]\ntasks = ["mednli"]\naggregate = "max"\n', "levels.core: aggregate",
         "unknown aggregate"),
        ('name = "x"\ntasks = ["mednli"]\n[levels.core]\ntasks = ["mednli"]\nweights = 1\n', "levels.core: weights", "unknown key"),
    ],
)
def test_a_bad_suite_file_is_refused_naming_the_file_and_the_field(suite_dir, text, field, message):
    path = suite_dir / "bad.toml"
    path.write_text(text)
    with pytest.raises(UsageError) as caught:
        get_suite(str(path))
    assert str(caught.value).startswith(f"{path.resolve()}: {field}")
    assert message in str(caught.value)


def test_a_bad_yaml_suite_file_names_the_file(suite_dir):
    path = suite_dir / "bad.yaml"
    path.write_text("name: x\ntasks: [mednli\n")
    with pytest.raises(UsageError, match="not valid YAML"):
        get_suite(str(path))
    with pytest.raises(UsageError, match="unknown suite 'cleu'; did you mean 'clue'"):
        get_suite("cleu")


def test_a_sweep_names_its_suite(suite_dir):
    from clue.pipeline.sweep import fingerprint, load_sweep

    (suite_dir / "my.toml").write_text(SUITE_TOML)
    sweep = suite_dir / "sweep.yaml"
    sweep.write_text("output: runs\nsuite: my.toml\nmodels: [baseline, {spec: baseline, name: b2, tasks: core}]\n")
    plan = load_sweep(sweep)
    assert plan.suite == str((suite_dir / "my.toml").resolve())
    assert plan.models[0].tasks == ["mednli", "meqsum", "smoking"] and plan.models[1].tasks == ["mednli", "meqsum"]
    assert fingerprint(plan, plan.models[0])["material"]["suite"]["levels"]["core"] == ("mednli", "meqsum")
    sweep.write_text("output: runs\nsuite: my.toml\ntasks: longhealth\nmodels: [baseline]\n")
    with pytest.raises(UsageError, match="not in the suite 'my-suite'"):
        load_sweep(sweep)
    sweep.write_text("output: runs\nmodels: [baseline]\n")
    plain = load_sweep(sweep)
    assert plain.suite == "clue" and "suite" not in fingerprint(plain, plain.models[0])["material"]


def test_clue_suites_lists_the_built_in_suite_and_shows_a_file(app, suite_dir):
    listed = json.loads(invoke(app, "suites", "--json").output)
    assert [s["suite"] for s in listed] == ["clue"]
    assert listed[0]["levels"]["level1"] == {"title": "level 1", "tasks": ["mednli", "meqsum", "problem_summary"],
                                             "aggregate": "mean"}
    table = invoke(app, "suites").output
    assert "suite clue: CLUE" in table and "mean of mednli, meqsum, problem_summary" in table
    (suite_dir / "my.yaml").write_text(SUITE_YAML)
    shown = invoke(app, "suites", "--file", str(suite_dir / "my.yaml")).output
    assert "suite my-suite: My suite" in shown and "mean of mednli, meqsum, smoking" in shown
    assert f"clue run --suite {(suite_dir / 'my.yaml').resolve()}" in " ".join(shown.split())

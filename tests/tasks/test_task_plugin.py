"""A task from an installed package, found through the entry-point group ``clue.tasks``.

The toy task package beside these tests (``clue_toy_tasks``: a Task subclass
in its own folder with prompts/ and demo/) is built into a wheel and installed
into a folder of its own, offline (``pip wheel --no-build-isolation``, ``pip
install --target``); fresh ``clue`` processes with that folder on PYTHONPATH
find it by its entry point alone.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

TOY_PACKAGE = Path(__file__).resolve().parent / "clue_toy_tasks"

PYPROJECT = """\
[build-system]
requires = ["setuptools>=70.1"]
build-backend = "setuptools.build_meta"

[project]
name = "clue-toy-tasks"
version = "0.1.0"
dependencies = ["clue-eval"]

[project.entry-points."clue.tasks"]
toy_parity = "clue_toy_tasks.parity.task:ToyParity"
broken = "clue_toy_tasks.missing:Nothing"

[tool.setuptools.packages.find]
include = ["clue_toy_tasks*"]

[tool.setuptools.package-data]
"*" = ["prompts/*.txt", "demo/*"]
"""


def can_build_wheels() -> bool:
    if importlib.util.find_spec("setuptools") is None:
        return False
    major, minor = (int(p) for p in version("setuptools").split(".")[:2])
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, cwd=cwd, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "COLUMNS": "160", **(env or {})})


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The toy package built into a wheel and installed into a folder; returns the folder."""
    if not can_build_wheels():
        pytest.skip("building the plugin wheel needs setuptools>=70.1 (the test extra: pip install -e '.[test]')")
    root = tmp_path_factory.mktemp("plugin")
    src = root / "src"
    shutil.copytree(TOY_PACKAGE, src / "clue_toy_tasks", ignore=shutil.ignore_patterns("__pycache__"))
    (src / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    built = run(*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "--wheel-dir", str(root / "dist"), str(src), cwd=root)
    assert built.returncode == 0, built.stdout + built.stderr
    wheels = list((root / "dist").glob("clue_toy_tasks-0.1.0-*.whl"))
    assert len(wheels) == 1
    site = root / "site"
    done = run(*pip, "install", "--no-deps", "--no-index", "--target", str(site), str(wheels[0]), cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (site / "clue_toy_tasks" / "parity" / "demo" / "toy_parity.jsonl").is_file()
    assert (site / "clue_toy_tasks-0.1.0.dist-info" / "entry_points.txt").is_file()
    return site


def clue(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run(sys.executable, "-m", "clue.cli", *args, cwd=cwd, env={"PYTHONPATH": str(site)})


def test_an_installed_package_adds_its_task_to_clue_tasks(installed, tmp_path):
    proc = clue(installed, "tasks", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    listed = {r["task"]: r for r in json.loads(proc.stdout)}
    assert listed["toy_parity"]["source"] == "package clue-toy-tasks"
    assert listed["toy_parity"]["level"] == 1 and listed["toy_parity"]["metrics"] == ["accuracy"]
    assert list(listed)[:6] == ["mednli", "meqsum", "problem_summary", "medisumqa", "medisumcode", "longhealth"]
    # a broken entry point is reported and does not stop the others
    assert "entry point 'broken'" in proc.stderr and "could not be loaded" in proc.stderr


def test_without_the_package_clue_does_not_know_the_task(tmp_path):
    proc = run(sys.executable, "-m", "clue.cli", "run", "--tasks", "toy_parity", cwd=tmp_path)
    assert proc.returncode == 2 and "unknown task 'toy_parity'" in proc.stderr


def test_the_installed_task_runs_from_its_installed_folder(installed, tmp_path):
    proc = clue(installed, "run", "--tasks", "toy_parity", "--output", "out", "--bootstrap", "0", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    task = manifest["tasks"]["toy_parity"]
    # the demo file and templates come from the installed copy, not from the tests' folder
    assert task["file"] == str(installed / "clue_toy_tasks" / "parity" / "demo" / "toy_parity.jsonl")
    assert task["source"] == "demo" and task["declaration"]["title"] == "Toy Parity"
    rows = [json.loads(line) for line in (tmp_path / "out" / "predictions" / "toy_parity.jsonl").read_text().splitlines()]
    assert len(rows) == 11 and all(r["output"] in {"EVEN", "ODD"} for r in rows)
    # its declared level does not put it into CLUE's level 1 (only a suite naming it would); by name it joins
    prompts = clue(installed, "prompts", "--tasks", "level1", "--limit", "1", "--output", "p.jsonl", cwd=tmp_path)
    assert prompts.returncode == 0, prompts.stderr
    tasks = [json.loads(line)["task"] for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert tasks == ["mednli", "meqsum", "problem_summary"]
    prompts = clue(installed, "prompts", "--tasks", "level1,toy_parity", "--limit", "1", "--output", "p.jsonl", cwd=tmp_path)
    assert prompts.returncode == 0, prompts.stderr
    tasks = [json.loads(line)["task"] for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert tasks == ["mednli", "meqsum", "problem_summary", "toy_parity"]

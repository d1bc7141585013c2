"""Variants of a task's prompt: wordings, demonstration draws and answer orders never change what is scored."""

from __future__ import annotations

import fnmatch
import random
import re
import string
from itertools import permutations
from pathlib import Path

import pytest

from clue.core.errors import UsageError
from clue.core.records import Item
from clue.formats.config import read_mapping
from clue.tasks import BuildContext, get_task
from clue.tasks.longhealth.task import LETTERS, option_permutation, permute_options
from clue.tasks.mednli.task import label_list
from clue.tasks.registry import all_tasks
from clue.tasks.shots import split_shots
from clue.tasks.templates import Templates
from clue.tasks.variant import Variant, base_request_id

TASKS = sorted(all_tasks())


def placeholders(text: str) -> set[str]:
    return {m.group("named") or m.group("braced") for m in string.Template.pattern.finditer(text)} - {None}


@pytest.mark.parametrize("name", TASKS)
def test_every_task_ships_four_complete_alternative_wordings(name):
    task = get_task(name)
    assert task.wordings() >= 5
    own = task.prompts_dir()
    parts = sorted(p.name for p in own.iterdir() if p.name.endswith(".txt"))
    for n in range(1, task.wordings()):
        folder = own.joinpath("variants", f"w{n}")
        assert sorted(p.name for p in folder.iterdir()) == parts
        for part in parts:
            default, variant = own.joinpath(part).read_text(), folder.joinpath(part).read_text()
            assert variant.strip() != default.strip(), f"{name} w{n} {part} repeats the default"
            assert placeholders(variant) == placeholders(default), f"{name} w{n} {part}"


@pytest.mark.parametrize("name", TASKS)
def test_wordings_change_the_prompt_never_what_is_scored(name):
    task = get_task(name)
    items = task.load(task.demo_path())
    default = task.build(items, BuildContext(seed=42))
    seen = {tuple(m.content for m in c.request.messages) for c in default}
    for n in range(1, task.wordings()):
        templates = Templates()
        cases = task.build(items, BuildContext(seed=42, templates=templates, variant=Variant(wording=n)))
        assert [base_request_id(c.id) for c in cases] == [c.id for c in default]
        assert all(c.id.endswith(f"@p{n}-s0-o0") for c in cases)
        assert [(c.reference.item_id, c.reference.gold, c.reference.subtask) for c in cases] == [
            (c.reference.item_id, c.reference.gold, c.reference.subtask) for c in default
        ]
        prompts = {tuple(m.content for m in c.request.messages) for c in cases}
        assert not prompts & seen
        assert all(key.startswith(f"variants/w{n}/") for key in templates.manifest())


def test_longhealth_answer_format_is_kept_by_every_wording():
    task = get_task("longhealth")
    for n in range(task.wordings()):
        user = Templates().for_wording(n).get("longhealth.user", task.prompts_dir()).text
        example = re.search(r"The correct answer is [A-E]:", user)
        assert example, f"wording {n} does not show the parsed answer form"


def test_mednli_default_order_names_labels_as_the_protocol_does():
    task = get_task("mednli")
    system = task.template(Templates(), "system").fill(labels=label_list(0))
    assert system.endswith("Reply with exactly one word: ENTAILMENT, NEUTRAL or CONTRADICTION.")
    named = [label_list(k) for k in range(task.answer_orders())]
    assert len(set(named)) == 6
    items = task.load(task.demo_path())
    for k in range(6):
        cases = task.build(items, BuildContext(seed=1, variant=Variant(order=k)))
        assert label_list(k) in cases[0].request.messages[0].content
        with pytest.raises(ValueError):
            label_list(6)


def test_longhealth_permutations_move_the_gold_letter_with_the_option():
    """Property, over many seeded cases: the gold letter always shows the gold option's text."""
    draw = random.Random(2024)
    for case in range(2000):
        texts = [f"text {case}-{i}" for i in range(5)]
        options = dict(zip(LETTERS, texts))
        options["F"] = "cannot be answered"
        gold = draw.choice([*LETTERS, "F"])
        order = draw.choice([0, 1, 2, 3, 4, draw.randrange(5, 10_000)])
        perm = option_permutation(order, draw.randrange(1000), f"patient_{case}/q00")
        assert sorted(perm) == [0, 1, 2, 3, 4]
        shown, new_gold = permute_options(options, gold, perm)
        assert shown[new_gold] == options[gold]
        assert sorted(shown.values()) == sorted(options.values())
        assert shown["F"] == options["F"] and list(shown)[-1] == "F"
        if order == 0:
            assert shown == options and new_gold == gold


def test_longhealth_rotations_put_every_option_in_every_position_once():
    positions = {tuple(option_permutation(k, 0, "x")) for k in range(5)}
    assert len(positions) == 5
    for slot in range(5):
        assert sorted(p[slot] for p in positions) == [0, 1, 2, 3, 4]


def test_longhealth_order_variant_keeps_the_documents_and_moves_gold(longhealth_file):
    task = get_task("longhealth")
    items = task.load(longhealth_file)
    plain = task.build(items, BuildContext(seed=7))
    moved = task.build(items, BuildContext(seed=7, variant=Variant(order=2)))
    assert len(plain) == len(moved)
    for a, b in zip(plain, moved):
        assert base_request_id(b.id) == a.id
        assert a.reference.inputs["documents"] == b.reference.inputs["documents"]
        text = a.reference.inputs["options"][a.reference.gold]
        assert b.reference.inputs["options"][b.reference.gold] == text
        if a.reference.gold != "F":
            assert b.reference.gold != a.reference.gold  # a rotation moves every option


def test_demonstration_draws_are_disjoint_and_score_the_same_items():
    items = [Item(id=str(i), inputs={}, gold=str(i)) for i in range(20)]
    plain_shots, plain_scored = split_shots(items, 3, 5, "t")
    assert split_shots(items, 3, 5, "t", 0, 1) == (plain_shots, plain_scored)
    draws = [split_shots(items, 3, 5, "t", d, 4) for d in range(4)]
    assert draws[0][0] == plain_shots
    shot_ids = [{it.id for it in shots} for shots, _ in draws]
    assert len(set().union(*shot_ids)) == 12
    scored = {tuple(it.id for it in s) for _, s in draws}
    assert len(scored) == 1 and not set(next(iter(scored))) & set().union(*shot_ids)
    with pytest.raises(UsageError, match="4 draws of 5"):
        split_shots(items, 5, 5, "t", 0, 4)
    with pytest.raises(UsageError):
        split_shots(items, 3, 5, "t", 4, 4)


def test_unknown_wording_is_an_error_not_the_default():
    task = get_task("meqsum")
    items = task.load(task.demo_path())
    with pytest.raises(UsageError, match="variants/w99/meqsum.system.txt"):
        task.build(items, BuildContext(seed=1, variant=Variant(wording=99)))


def test_mednli_permutation_table_is_all_orders():
    from clue.tasks.mednli.task import LABEL_ORDERS

    assert sorted(LABEL_ORDERS) == sorted(permutations(("ENTAILMENT", "NEUTRAL", "CONTRADICTION")))


def test_every_template_file_is_declared_package_data():
    """The wheel carries a task folder's files matching pyproject's package-data patterns: every template must match."""
    root = Path(__file__).resolve().parents[2]
    patterns = read_mapping(root / "pyproject.toml")["tool"]["setuptools"]["package-data"]["*"]
    tasks_dir = root / "clue" / "tasks"
    templates = list(tasks_dir.glob("*/prompts/**/*.txt"))
    assert len(templates) >= 6 * 5 * 2
    for path in templates:
        task_dir = tasks_dir / path.relative_to(tasks_dir).parts[0]
        relative = path.relative_to(task_dir).as_posix()  # prompts/..., as package-data names it
        # fnmatch's * crosses "/", setuptools' does not: compare part by part
        assert any(
            len(p.split("/")) == len(relative.split("/"))
            and all(fnmatch.fnmatch(a, b) for a, b in zip(relative.split("/"), p.split("/")))
            for p in patterns
        ), relative

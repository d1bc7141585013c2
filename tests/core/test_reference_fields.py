"""The last field-level differences of the reference profiles (issue 23 items 2-5), on synthetic files.

Keep-end limits per task, MeDiSumQA's letter field and output strip, dotted gold codes, MeQSum's NA
cells: each a setting of the reference profiles (``options``), overridable, and absent under ``clue``.
Reference templates are written here (synthetic texts with the reference's field names).
"""

from __future__ import annotations

import json

import pytest

from clue.core.records import Message
from clue.core.tokens import ApproxTokenizer
from clue.tasks.base import BuildContext, clean_output
from clue.tasks.context import keep_end_limit, prompt_tokens
from clue.tasks.registry import get_task
from clue.tasks.settings import apply_overrides, parse_setting
from clue.tasks.templates import Templates

REFERENCE = ("clue-2024-06", "clue-2025-01")


def reference_templates(folder, task: str, protocol: str):
    """Templates for ``task`` of the reference's shape: every reference field in the user turn."""
    settings = get_task(task).declaration.settings(protocol)
    folder.mkdir(parents=True, exist_ok=True)
    user = "".join(f"<{f}>${{{f}}}</{f}>" for f, key in settings.fields.items() if key != "@answer")
    answer = "A: " + "".join(f"${{{f}}}" for f, key in settings.fields.items() if key == "@answer")
    (folder / f"{task}.system.txt").write_text("Sys.")
    (folder / f"{task}.user.txt").write_text(user)
    (folder / f"{task}.answer.txt").write_text(answer)
    return Templates(folder)


# -- keep-end limits (the reference server's truncate) ------------------------------------------------
@pytest.mark.parametrize(
    ("task", "limit"),
    [
        ("mednli", 32768 - 200),  # eval_mednli.py line 90: positions - 200
        ("meqsum", 24576),  # eval_meqsum.py line 109: min(positions - max_new_tokens, 24576)
        ("problem_summary", 32768 - 100),  # positions - max_new_tokens (100)
        ("medisumqa", 32768 - 200),
        ("medisumcode", 32768 - 200),
    ],
)
def test_keep_end_limits_per_task_at_ff75877(task, limit):
    settings = get_task(task).declaration.settings("clue-2024-06")
    assert settings.truncation == "keep-end"
    assert keep_end_limit(settings.options, 32768, settings.max_new_tokens) == limit
    # the clue profile and clue-2025-01 keep the default room (context - max new tokens)
    for protocol in ("clue", "clue-2025-01"):
        other = get_task(task).declaration.settings(protocol)
        assert keep_end_limit(other.options, 32768, other.max_new_tokens) is None
    # MeQSum on a small model: positions - 200 is below the cap
    if task == "meqsum":
        assert keep_end_limit(settings.options, 8192, 200) == 8192 - 200
    # overridable: a reserve of 10
    changed = apply_overrides(settings, task, [parse_setting(f"{task}.options.keep_end_reserve=10")])
    assert keep_end_limit(changed.options, 4096, settings.max_new_tokens) == min(4086, 24576)


def test_keep_end_keeps_the_reference_limit_of_tokens(tmp_path):
    task = get_task("mednli")
    items = task.load(task.demo_path())
    templates = reference_templates(tmp_path / "t", "mednli", "clue-2024-06")
    ctx = BuildContext(seed=42, templates=templates, protocol="clue-2024-06", context_length=300)
    cases = task.build(items, ctx)
    tok = ApproxTokenizer()
    for case in cases:
        used = prompt_tokens(case.request.messages, tok)
        # the reference kept positions - 200 = 100 tokens (clue's count: the messages and the template margin,
        # each message's count rounded up)
        assert used <= 100 + len(case.request.messages)
        assert case.reference.truncated
    # clue's default room would have kept 300 - 20 = 280
    roomy = task.build(items, BuildContext(seed=42, templates=templates, protocol="clue-2024-06", context_length=300,
                                           overrides=[parse_setting("mednli.options.keep_end_reserve=max_new_tokens")]))
    assert max(prompt_tokens(c.request.messages, tok) for c in roomy) > 110


# -- MeDiSumQA: the letter field and the output strip ---------------------------------------------------
def _both_letters(tmp_path):
    rows = [
        {"discharge_summary": f"FULL letter {i}", "without_discharge_summary": f"SHORT letter {i}",
         "Question": f"What happened {i}?", "Answer": f" Answer {i}. "}
        for i in range(4)
    ]
    path = tmp_path / "medisumqa.json"
    path.write_text(json.dumps(rows))
    return path


def test_medisumqa_letter_field_per_profile(tmp_path):
    task = get_task("medisumqa")
    items = task.load(_both_letters(tmp_path))
    expected = {"clue": "FULL", "clue-2024-06": "SHORT", "clue-2025-01": "FULL"}
    for protocol, word in expected.items():
        templates = reference_templates(tmp_path / protocol, "medisumqa", protocol) if protocol != "clue" else None
        ctx = BuildContext(seed=42, protocol=protocol, **({"templates": templates} if templates else {}))
        cases = task.build(items, ctx)
        text = "\n".join(m.content for c in cases for m in c.request.messages)
        assert f"{word} letter" in text
        assert ({"FULL", "SHORT"} - {word}).pop() + " letter" not in text
        # the letter chosen is the only one the scorer and baseline see
        assert all(set(c.reference.inputs) == {"letter", "question"} for c in cases)
    # overridable
    ctx = BuildContext(seed=42, protocol="clue-2024-06", templates=reference_templates(tmp_path / "o", "medisumqa",
                       "clue-2024-06"), overrides=[parse_setting("medisumqa.options.letter_field=discharge_summary")])
    assert "FULL letter" in task.build(items, ctx)[0].request.messages[-2].content


def test_medisumqa_output_is_stripped_at_ff75877_only():
    task = get_task("medisumqa")
    assert clean_output("  An answer.\n", task.declaration.settings("clue-2024-06")) == "An answer."
    for protocol in ("clue", "clue-2025-01"):
        assert clean_output("  An answer.\n", task.declaration.settings(protocol)) == "  An answer.\n"


# -- MeDiSumCode: dotted gold codes -------------------------------------------------------------------
def test_dotted_gold_codes_never_match_under_the_reference_profiles(tmp_path):
    rows = [{"hadm_id": str(i), "text": f"Letter {i}.", "icd_codes": [{"code": "A41.9"}, {"code": "N179"}]}
            for i in range(3)]
    path = tmp_path / "medisumcode.json"
    path.write_text(json.dumps(rows))
    task = get_task("medisumcode")
    items = task.load(path)
    output = "A41.9, N17.9"
    clue_case = task.build(items, BuildContext(seed=42))[0]
    assert clue_case.reference.gold == ["A419", "N179"]
    assert task.score(clue_case.reference, output).metrics["em_f1"] == 1.0
    for protocol in REFERENCE:
        ctx = BuildContext(seed=42, protocol=protocol, templates=reference_templates(tmp_path / protocol,
                                                                                    "medisumcode", protocol))
        case = task.build(items, ctx)[0]
        assert case.reference.gold == ["A41.9", "N179"]  # as stored, split at ", " as the reference split it
        metrics = task.score(case.reference, output).metrics
        # the prediction loses its dots (A419, N179): only N179 matches: P 1/2, R 1/2
        assert metrics["em_f1"] == pytest.approx(0.5)
        assert metrics["ap_f1"] == 1.0  # categories A41 and N17 match either way
        again = apply_overrides(task.declaration.settings(protocol), "medisumcode",
                                [parse_setting("medisumcode.options.gold_codes=clue")])
        assert again.options["gold_codes"] == "clue"


# -- MeQSum: NA cells ---------------------------------------------------------------------------------
def test_meqsum_na_cells_become_nan_under_the_reference_profiles(tmp_path):
    import pandas as pd

    rows = {
        "File": [f"f{i}" for i in range(6)],
        "CHQ": ["NA", "None", "null", "A real question?", " NA", "N/A"],
        "Summary": ["What is NA?", "NA", "Summary two?", "Summary three?", "Four?", "Five?"],
    }
    path = tmp_path / "meqsum.xlsx"
    pd.DataFrame(rows).to_excel(path, index=False)
    task = get_task("meqsum")
    items = task.load(path)
    clue_cases = task.build(items, BuildContext(seed=42, protocol="clue"))
    assert all("nan" not in m.content for c in clue_cases for m in c.request.messages)
    for protocol in REFERENCE:
        ctx = BuildContext(seed=42, protocol=protocol, templates=reference_templates(tmp_path / protocol, "meqsum",
                                                                                    protocol))
        cases = task.build(items, ctx)
        first = cases[0].request.messages
        # demonstrations are rows 0-2 (2024-06) or the seed-1 shuffle (2025-01); every NA cell reads "nan"
        text = "\n".join(m.content for c in cases for m in c.request.messages)
        assert "<CHQ>NA</CHQ>" not in text and "<CHQ>None</CHQ>" not in text and "<CHQ>N/A</CHQ>" not in text
        assert "<CHQ>nan</CHQ>" in text
        assert "<CHQ> NA</CHQ>" in text  # pandas matches the whole cell: " NA" stays text
        if protocol == "clue-2024-06":
            assert first[1].content == "<CHQ>nan</CHQ>" and first[4].content == "A: nan"
        golds = {c.reference.item_id: c.reference.gold for c in cases}
        assert all(g != "NA" for g in golds.values())
    assert isinstance(first[0], Message)

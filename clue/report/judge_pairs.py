"""Pairwise judging with the position probe: ``clue compare A B --judge SPEC`` (docs/judges.md).

For every item both runs answered in a free-text task, the judge is asked which
answer is better twice: A first, then B first (the rubric ``judge/pairwise.txt``;
answer ``{"better": 0|1|2, "reason": "..."}``, parsed strictly). A verdict that
changes with the order is a flip: the share of flips is reported and only
order-consistent verdicts count (B wins, A wins, or a tie in both orders).
Answers are kept in run B's judge store, like the pointwise judge's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from string import Template
from typing import Any

from clue.core.files import sha256_text
from clue.core.results import read_run
from clue.pipeline.judge import CRITERIA, TASKS_DIR, Jury, TaskJudging, ask, open_judges, strict_answer
from clue.store.judge_cache import FILENAME as STORE_FILENAME
from clue.store.judge_cache import JudgeStore
from clue.tasks.registry import get_task


def parse_verdict(text: str | None) -> int | None:
    """``{"better": 0|1|2, "reason": "one line"}`` and nothing else, or None."""
    parsed = strict_answer(text, "better", (0, 1, 2))
    return None if parsed is None else parsed[0]


def pairwise_rubric(task: str) -> str:
    return (TASKS_DIR / task / "prompts" / "judge" / "pairwise.txt").read_text(encoding="utf-8")


def _answer(row: Any) -> str:
    return str(row.parsed if isinstance(row.parsed, str) else row.output or "")


def judge_pairs(run_a: Path, run_b: Path, jury: Jury, approved: Sequence[str] = ()) -> dict[str, Any]:
    """Per free-text task both runs have: flips, order-consistent wins for A and B, ties, failures (first judge only)."""
    a, b = read_run(run_a), read_run(run_b)
    tasks = [t for t in a.tasks if t in b.tasks and t in CRITERIA]
    out: dict[str, Any] = {"judge": jury.judges[0].spec, "tasks": {}}
    if not tasks:
        return out
    backends = open_judges(jury, [get_task(t) for t in tasks], approved)
    try:
        backend, judge = backends[0], jury.judges[0]
        identity = {"spec": judge.spec, **backend.identity()}
        with JudgeStore(Path(run_b) / STORE_FILENAME) as store:
            for task in tasks:
                rows_a, rows_b = a.rows_by_id(task), b.rows_by_id(task)
                shared = [rid for rid in rows_a if rid in rows_b and rows_a[rid].scored and rows_b[rid].scored]
                template = Template(pairwise_rubric(task))
                rubric_hash = sha256_text(template.template)
                prompts_ab, prompts_ba = {}, {}
                for rid in shared:
                    ref = str(rows_b[rid].gold)
                    xa, xb = _answer(rows_a[rid]), _answer(rows_b[rid])
                    prompts_ab[rid] = template.safe_substitute(reference=ref, first=xa, second=xb)
                    prompts_ba[rid] = template.safe_substitute(reference=ref, first=xb, second=xa)
                spent = TaskJudging()
                first = ask(backend, identity, store, judge.label, rubric_hash, prompts_ab, jury.retries, spent, parse_verdict)
                second = ask(backend, identity, store, judge.label, rubric_hash, prompts_ba, jury.retries, spent, parse_verdict)
                counts = {"b_wins": 0, "a_wins": 0, "ties": 0, "flips": 0, "failures": 0}
                items: dict[str, str] = {}
                for rid in shared:
                    v1, v2 = first[rid][0], second[rid][0]
                    if v1 is None or v2 is None:
                        counts["failures"] += 1
                        items[rid] = "failed"
                        continue
                    # in B's terms: +1 B better, -1 A better, 0 tie
                    s1 = {0: 0, 1: -1, 2: 1}[v1]
                    s2 = {0: 0, 1: 1, 2: -1}[v2]
                    if s1 != s2:
                        counts["flips"] += 1
                        items[rid] = "flip"
                    else:
                        key = {1: "b_wins", -1: "a_wins", 0: "ties"}[s1]
                        counts[key] += 1
                        items[rid] = key
                judged = len(shared) - counts["failures"]
                consistent = judged - counts["flips"]
                out["tasks"][task] = {
                    "n_pairs": len(shared), **counts,
                    "flip_rate": counts["flips"] / judged if judged else None,
                    "b_win_rate": (counts["b_wins"] + 0.5 * counts["ties"]) / consistent if consistent else None,
                    "rubric": rubric_hash, "calls": spent.calls, "items": items,
                }
    finally:
        for bk in backends:
            bk.close()
    return out

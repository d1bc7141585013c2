"""LLM judges and juries for the free-text tasks (MeQSum, Problem Summary, MeDiSumQA): docs/judges.md.

A judge is any backend spec (``openai:MODEL`` with a base URL, ``vllm:``, ``hf:``,
``llamacpp:``, ``smollm2``), loaded with ``clue.models.load_backend``. A jury is a
judges file (TOML)::

    combine = "mean"            # mean, median or majority (of the judges' 1..5 scores)
    [[judge]]
    spec = "openai:judge-a"
    options = { base_url = "http://127.0.0.1:8000/v1" }
    weight = 2.0

Each task has one rubric per criterion, a template in its prompts folder
(``judge/<criterion>.txt``, ``${source}``: what the model was given, ``${answer}``,
``${reference}``). The judge answers one JSON object ``{"score": 1..5, "reason": "..."}``
and nothing else; anything else (or a refusal, or a failed request) is retried,
then counted as a judge failure for that task and judge: never scored, and the
judged score is marked incomplete. Answers are kept in the judge store
(``clue.store.judge_cache``) per (judge identity, rubric hash, prompt, attempt).

Judged values go into ``results.json`` under each task's ``judge`` key and into
each prediction row's ``judge`` key; the task's own score is unchanged (judged
scores rank only with scores of the same judges and rubric versions).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any

from clue.core.errors import UsageError
from clue.core.files import sha256_text
from clue.core.records import Case, Decoding, Message, Request
from clue.core.results import PredictionRow, TaskSummary
from clue.formats.config import read_mapping
from clue.metrics.metric import Metric
from clue.metrics.registry import find_metric, register_metric
from clue.models import load_backend
from clue.models.base import Backend
from clue.pipeline.egress import EgressRefused, check_egress
from clue.pipeline.judge_bias import SCALE, combine, probes
from clue.store.judge_cache import FILENAME as STORE_FILENAME
from clue.store.judge_cache import JudgeStore, answer_key

# The free-text tasks and their rubrics' criteria (a template ``judge/<criterion>.txt`` in the task's prompts folder).
CRITERIA: dict[str, tuple[str, ...]] = {
    "meqsum": ("asks", "nothing_added"),
    "problem_summary": ("supported", "missed"),
    "medisumqa": ("correct", "complete", "unsupported", "harm"),
}
RUBRIC_VERSION = "v1"
COMBINE = ("mean", "median", "majority")
DEFAULT_RETRIES = 2  # a malformed or refused answer is asked again this many times
MAX_NEW_TOKENS = 160
TASKS_DIR = Path(__file__).resolve().parents[1] / "tasks"


class JudgeMetric(Metric):
    """A judged criterion of a free-text task, in [0, 1] (the 1..5 score rescaled); computed by the judges."""

    answer = ""
    needs_model = True

    def __init__(self, task: str, criterion: str):
        self.task, self.criterion = task, criterion
        self.name = f"judge_{criterion}"
        self.title = f"judge: {criterion.replace('_', ' ')}"


def register_judge_metrics() -> None:
    """The judge metrics in the metric registry (done when a run is judged, so runs without judges list none)."""
    for task, criteria in CRITERIA.items():
        for criterion in criteria:
            if find_metric(f"judge_{criterion}") is None:
                register_metric(JudgeMetric(task, criterion))


@dataclass
class Judge:
    spec: str
    options: dict[str, Any] = field(default_factory=dict)
    weight: float = 1.0

    @property
    def label(self) -> str:
        return self.spec


@dataclass
class Jury:
    judges: list[Judge]
    combine: str = "mean"
    retries: int = DEFAULT_RETRIES

    def record(self) -> dict[str, Any]:
        return {"combine": self.combine, "retries": self.retries, "scale": list(SCALE),
                "judges": [{"spec": j.spec, "weight": j.weight} for j in self.judges]}


def jury_from(judge: str | None, base_url: str | None = None, judges_file: Path | None = None) -> Jury | None:
    """The jury a run asks for: ``--judge SPEC`` (with ``--judge-base-url``) or ``--judges FILE``; None: no judging."""
    if judge and judges_file:
        raise UsageError("give --judge SPEC or --judges FILE, not both")
    if judge:
        options = {"base_url": base_url} if base_url else {}
        return Jury([Judge(judge, options)])
    if base_url:
        raise UsageError("--judge-base-url needs --judge SPEC")
    if judges_file is None:
        return None
    data = read_mapping(judges_file, "judges file", kind="toml")
    combine = str(data.get("combine", "mean"))
    if combine not in COMBINE:
        raise UsageError(f"{judges_file}: combine = {combine!r}; one of {', '.join(COMBINE)}")
    entries = data.get("judge")
    if not isinstance(entries, list) or not entries:
        raise UsageError(f"{judges_file}: needs at least one [[judge]] with spec = \"...\"")
    judges = []
    for n, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or not isinstance(entry.get("spec"), str):
            raise UsageError(f"{judges_file}: judge {n} needs spec = \"BACKEND:MODEL\"")
        options = entry.get("options", {})
        weight = entry.get("weight", 1.0)
        if not isinstance(options, dict) or not isinstance(weight, (int, float)) or weight <= 0:
            raise UsageError(f"{judges_file}: judge {n}: options must be a table and weight a positive number")
        judges.append(Judge(entry["spec"], dict(options), float(weight)))
    retries = data.get("retries", DEFAULT_RETRIES)
    if not isinstance(retries, int) or retries < 0:
        raise UsageError(f"{judges_file}: retries must be a whole number >= 0")
    return Jury(judges, combine, retries)


def rubric_text(task: str, criterion: str) -> str:
    return (TASKS_DIR / task / "prompts" / "judge" / f"{criterion}.txt").read_text(encoding="utf-8")


def rubrics_record(tasks: Sequence[str]) -> dict[str, dict[str, str]]:
    """Per judged task and criterion: the rubric's sha256 (the manifest's record)."""
    return {t: {c: sha256_text(rubric_text(t, c)) for c in CRITERIA[t]} for t in tasks if t in CRITERIA}


def rubric_texts(tasks: Sequence[str]) -> dict[str, dict[str, str]]:
    """Per judged task and criterion: the rubric template itself (the judge prompt before its fields are filled)."""
    return {t: {c: rubric_text(t, c) for c in CRITERIA[t]} for t in tasks if t in CRITERIA}


def open_judges(jury: Jury, tasks: Sequence[Any], approved: Sequence[str], *,
                data: Mapping[str, Path | None] | None = None, public_tasks: Sequence[str] = ()) -> list[Backend]:
    """Load every judge and pass it through the egress guard (exit 4 before any call), with the same data files and
    confirmations the model's check had; the caller closes them."""
    backends: list[Backend] = []
    try:
        for judge in jury.judges:
            backend = load_backend(judge.spec, dict(judge.options))
            backends.append(backend)
            try:
                check_egress(backend, tasks, approved=list(approved), data=data, public_tasks=list(public_tasks))
            except EgressRefused as exc:
                raise EgressRefused(f"the judge {judge.spec}: {exc}") from None
    except BaseException:
        for b in backends:
            b.close()
        raise
    return backends


def strict_answer(text: str | None, key: str, allowed: Sequence[int]) -> tuple[int, str] | None:
    """``{KEY: a whole number in allowed, "reason": "one line"}`` and nothing else, or None."""
    if text is None:
        return None
    try:
        obj = json.loads(text.strip())
    except json.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or set(obj) != {key, "reason"}:
        return None
    value, reason = obj[key], obj["reason"]
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        return None
    if not isinstance(reason, str) or "\n" in reason.strip():
        return None
    return value, reason.strip()


def parse_answer(text: str | None) -> tuple[int, str] | None:
    """``{"score": 1..5, "reason": "one line"}`` and nothing else, or None."""
    return strict_answer(text, "score", range(SCALE[0], SCALE[1] + 1))


def source_of(case: Case) -> str:
    users = [m.content for m in case.request.messages if m.role == "user"]
    return users[-1] if users else ""


@dataclass
class TaskJudging:
    values: dict[str, dict[str, Any]] = field(default_factory=dict)  # request id -> judge record of the row
    summary: dict[str, Any] = field(default_factory=dict)
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


def ask(backend: Backend, identity: dict[str, Any], store: JudgeStore, label: str, rubric_hash: str,
        prompts: dict[str, str], retries: int, out: TaskJudging,
        parse: Callable[[str | None], Any] = parse_answer) -> dict[str, tuple[Any, int]]:
    """Each prompt's parsed answer (or None after the retries) and the attempts made; stored answers are re-used."""
    result: dict[str, tuple[Any, int]] = {}
    pending = dict(prompts)
    for attempt in range(retries + 1):
        if not pending:
            break
        keys = {rid: answer_key(identity, rubric_hash, prompt, attempt) for rid, prompt in pending.items()}
        answers: dict[str, dict[str, Any]] = {}
        to_ask: list[Request] = []
        for rid, key in keys.items():
            stored = store.get(key)
            if stored is not None:
                answers[rid] = stored
            else:
                to_ask.append(Request(f"{rid}#judge{attempt}", [Message("user", pending[rid])],
                                      Decoding(max_new_tokens=MAX_NEW_TOKENS)))
        if to_ask:
            t0 = last = time.perf_counter()
            for c in backend.generate(to_ask):  # each answer is kept as it arrives: a killed run resumes
                now = time.perf_counter()
                rid = c.request_id.rsplit("#judge", 1)[0]
                answer = {"text": c.text, "error": c.error, "prompt_tokens": c.meta.get("prompt_tokens"),
                          "completion_tokens": c.meta.get("completion_tokens"), "seconds": round(now - last, 6)}
                last = now
                if c.error is None:  # a failed request is asked again next time, not remembered as an answer
                    store.put(keys[rid], label, rubric_hash, answer)
                answers[rid] = answer
                out.calls += 1
                out.prompt_tokens += int(answer["prompt_tokens"] or 0)
                out.completion_tokens += int(answer["completion_tokens"] or 0)
            out.seconds += time.perf_counter() - t0
        for rid, answer in answers.items():
            parsed = None if answer.get("error") else parse(answer.get("text"))
            if parsed is not None or attempt == retries:
                result[rid] = (parsed, attempt + 1)
                pending.pop(rid)
    return result


def judge_task(jury: Jury, backends: Sequence[Backend], store: JudgeStore, task: str,
               cases: Sequence[Case], predictions: Sequence[str], *, judged_model: str = "",
               quality: Mapping[str, float] | None = None) -> TaskJudging:
    """Judge one task's scored answers on each of its criteria, with every judge of the jury."""
    out = TaskJudging()
    criteria = CRITERIA[task]
    identities = [{"spec": j.spec, **b.identity()} for j, b in zip(jury.judges, backends)]
    failures = {j.label: {c: 0 for c in criteria} for j in jury.judges}
    per_item: dict[str, dict[str, Any]] = {case.id: {} for case in cases}
    means: dict[str, float | None] = {}
    for criterion in criteria:
        template = Template(rubric_text(task, criterion))
        rubric_hash = sha256_text(template.template)
        prompts = {case.id: template.safe_substitute(source=source_of(case), answer=answer,
                                                     reference=str(case.reference.gold))
                   for case, answer in zip(cases, predictions)}
        by_judge = [ask(b, ident, store, j.label, rubric_hash, prompts, jury.retries, out)
                    for j, b, ident in zip(jury.judges, backends, identities)]
        values: list[float] = []
        for case in cases:
            scores: list[tuple[int, float]] = []
            record: dict[str, Any] = {}
            for judge, answers in zip(jury.judges, by_judge):
                parsed, attempts = answers[case.id]
                if parsed is None:
                    failures[judge.label][criterion] += 1
                    record[judge.label] = {"score": None, "failed": True, "attempts": attempts}
                else:
                    scores.append((parsed[0], judge.weight))
                    record[judge.label] = {"score": parsed[0], "reason": parsed[1]}
            entry: dict[str, Any] = {"judges": record}
            if len(scores) == len(jury.judges):  # a jury score only where every judge answered
                jury_score = combine(scores, jury.combine)
                entry["score"] = jury_score
                entry["value"] = (jury_score - SCALE[0]) / (SCALE[1] - SCALE[0])
                entry["spread"] = float(max(s for s, _ in scores) - min(s for s, _ in scores))
                values.append(entry["value"])
            else:
                entry["score"] = entry["value"] = None
            per_item[case.id][f"judge_{criterion}"] = entry
        means[f"judge_{criterion}"] = statistics.fmean(values) if values else None
    n = len(cases)
    failed = sum(sum(c.values()) for c in failures.values())
    scored = [v for v in means.values() if v is not None]
    out.values = per_item
    out.summary = {
        "score": statistics.fmean(scored) if scored else None,
        "metrics": means,
        "n": n,
        "complete": failed == 0 and n > 0 and len(scored) == len(criteria),
        "failures": failures,
        "failure_rate": {j: (sum(c.values()) / (n * len(criteria)) if n else 0.0) for j, c in failures.items()},
        "judges": [{"spec": j.spec, "weight": j.weight, "identity": ident} for j, ident in zip(jury.judges, identities)],
        "combine": jury.combine,
        "rubric_version": RUBRIC_VERSION,
        "rubrics": {c: sha256_text(rubric_text(task, c)) for c in criteria},
        "calls": out.calls,
        "tokens": {"prompt": out.prompt_tokens, "completion": out.completion_tokens},
        "seconds": round(out.seconds, 3),
        "bias": probes(judged_model, jury.judges, jury.combine, per_item,
                       {case.id: answer for case, answer in zip(cases, predictions)}, dict(quality or {}), criteria),
    }
    return out


def judge_run(jury: Jury, tasks: Sequence[Any], prepared: Sequence[Any], rows_by_task: Mapping[str, list[PredictionRow]],
              summaries: Mapping[str, TaskSummary], run_dir: Path, approved: Sequence[str],
              judged_model: str = "", data: Mapping[str, Path | None] | None = None,
              public_tasks: Sequence[str] = ()) -> dict[str, Any]:
    """Judge every free-text task of a scored run in place (rows and summaries); returns the manifest's record."""
    register_judge_metrics()
    judged = [p for p in prepared if p.task.name in CRITERIA]
    record: dict[str, Any] = {**jury.record(), "rubric_version": RUBRIC_VERSION,
                              "rubrics": rubrics_record([p.task.name for p in judged]),
                              "rubric_texts": rubric_texts([p.task.name for p in judged]),
                              "store": STORE_FILENAME, "tasks": {}}
    if not judged:
        return record
    backends = open_judges(jury, tasks, approved, data=data, public_tasks=public_tasks)
    # which approval (or confirmation) let each judge through the guard; absent when none was needed
    egress = {judge.spec: b.egress_record for judge, b in zip(jury.judges, backends) if b.egress_record}
    if egress:
        record["egress"] = egress
    try:
        with JudgeStore(run_dir / STORE_FILENAME) as store:
            for p in judged:
                rows = rows_by_task[p.task.name]
                by_id = {r.id: r for r in rows}
                ok = [c for c in p.cases if by_id.get(c.id) is not None and by_id[c.id].scored]
                predictions = [str(by_id[c.id].parsed if isinstance(by_id[c.id].parsed, str) else by_id[c.id].output or "")
                               for c in ok]
                overlap = {c.id: (by_id[c.id].metrics or {}).get("rougeL") for c in ok}
                quality = {rid: float(v) for rid, v in overlap.items() if isinstance(v, (int, float))}
                result = judge_task(jury, backends, store, p.task.name, ok, predictions,
                                    judged_model=judged_model, quality=quality)
                for rid, values in result.values.items():
                    by_id[rid].extra["judge"] = values
                summaries[p.task.name].extra["judge"] = result.summary
                record["tasks"][p.task.name] = {k: result.summary[k] for k in ("calls", "tokens", "seconds")}
    finally:
        for b in backends:
            b.close()
    return record

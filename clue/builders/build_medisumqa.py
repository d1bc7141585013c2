"""Build MeDiSumQA candidates from MIMIC-IV-Note (docs/datasets.md), with any backend, resumably.

1. Keep patient-facing letters: notes containing "You were admitted to the
   hospital". Split each into paragraphs on runs of two or more blank lines;
   paragraphs starting with "Discharge Instructions" are the instructions
   (header line dropped, cut at "Followup Instructions" and at "It was a
   pleasure"); the other paragraphs, re-joined, are the letter a model sees.
2. Choose letters by the seeded shuffle of ``clue.builders.mimic.select_notes``
   (purpose "medisumqa").
3. The model lists the facts in the instructions (one demonstration, "- "
   bullets; lines with ``___`` are dropped), then writes one question per
   fact. A pair is kept only if its answer is exactly one of the facts
   (compared after trimming and folding runs of white space).
4. Each pair is scored by question-answer ROUGE-L and, where available,
   BERTScore-F1; pairs are taken in order of least overlap (mean of the
   available scores; ties by id), skipping repeated pairs and letters that
   already gave ``per_letter`` pairs, until N are taken: no rank is skipped
   for any other reason and no pair is taken twice.

Every model call goes through the run store (``<out>.store.sqlite``): a killed
build, run again, reuses each finished answer and asks only for the rest.
Clinicians then review the pairs (``clue data review``).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from clue.builders.mimic import Note, iter_notes, select_notes
from clue.core.errors import DataError, UsageError
from clue.core.files import sha256_file, write_json
from clue.core.records import Completion, Decoding, Message, Request
from clue.core.seeding import DEFAULT_SEED
from clue.metrics import model as model_metrics
from clue.metrics import rouge
from clue.models.base import Backend
from clue.pipeline.egress import Resolver, guard
from clue.pipeline.generate import stored_generate
from clue.store.runs import RunStore
from clue.tasks.templates import Template

PURPOSE = "medisumqa"
#: What the builder sends: credentialed text, so its backend goes through the egress guard like `clue run`.
SENDS = "MIMIC-IV-Note discharge notes (clue data build medisumqa)"
PATIENT_MARK = "You were admitted to the hospital"
INSTRUCTIONS_HEADER = "Discharge Instructions"
CUT_MARKS = ("Followup Instructions", "It was a pleasure")
DEID_MARK = "___"
PARAGRAPH_BREAK = re.compile(r"\n(?:[ \t]*\n){2,}")
BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+(.*\S)\s*$")
PAIR = re.compile(r"^\s*Question\s*:\s*(?P<q>.+?)\s*\n\s*Answer\s*:\s*(?P<a>.+?)\s*$", re.M | re.I)
MAX_NEW_TOKENS = 512


# -- 1. splitting a note -------------------------------------------------------
@dataclass(frozen=True)
class Letter:
    note_id: str
    hadm_id: str
    letter: str  # what the model answering questions will see
    instructions: str  # what the questions are generated from


def split_note(text: str) -> tuple[str, str] | None:
    """(letter, instructions), or None when the note has no usable instructions."""
    paragraphs = [p for p in PARAGRAPH_BREAK.split(text) if p.strip()]
    instructions: list[str] = []
    rest: list[str] = []
    for paragraph in paragraphs:
        (instructions if paragraph.lstrip().startswith(INSTRUCTIONS_HEADER) else rest).append(paragraph)
    if not instructions or not rest:
        return None
    body = "\n".join(p.lstrip().split("\n", 1)[1] if "\n" in p.lstrip() else "" for p in instructions)
    for mark in CUT_MARKS:
        body = body.split(mark, 1)[0]
    body = body.strip()
    if not body:
        return None
    return "\n\n".join(p.strip("\n") for p in rest), body


def letter_of(note: Note) -> Letter | None:
    if PATIENT_MARK not in note.text:
        return None
    parts = split_note(note.text)
    return Letter(note.note_id, note.hadm_id, *parts) if parts else None


# -- 2. prompts and parsing ------------------------------------------------------
def template(name: str) -> Template:
    text = (resources.files("clue.builders") / "prompts" / f"{name}.txt").read_text(encoding="utf-8")
    return Template(name, text, "builtin")


PROMPTS = (
    "medisumqa.statements.system",
    "medisumqa.statements.user",
    "medisumqa.statements.demo_input",
    "medisumqa.statements.demo_output",
    "medisumqa.questions.system",
    "medisumqa.questions.user",
)


def statements_request(letter: Letter) -> Request:
    user = template("medisumqa.statements.user")
    messages = [
        Message("system", template("medisumqa.statements.system").fill()),
        Message("user", user.fill(instructions=template("medisumqa.statements.demo_input").fill())),
        Message("assistant", template("medisumqa.statements.demo_output").fill()),
        Message("user", user.fill(instructions=letter.instructions)),
    ]
    return _request("statements", letter, messages)


def questions_request(letter: Letter, statements: Sequence[str]) -> Request:
    listing = "\n".join(f"- {s}" for s in statements)
    messages = [
        Message("system", template("medisumqa.questions.system").fill()),
        Message("user", template("medisumqa.questions.user").fill(statements=listing)),
    ]
    return _request("questions", letter, messages)


def _request(stage: str, letter: Letter, messages: list[Message]) -> Request:
    # Greedy decoding: the same model gives the same candidates, and the run store can reuse them.
    return Request(id=f"{stage}/{letter.note_id}", messages=messages, decoding=Decoding(max_new_tokens=MAX_NEW_TOKENS))


def normalise(text: str) -> str:
    return " ".join(text.split())


def parse_statements(output: str) -> list[str]:
    """Bullet lines, de-identified ones dropped, repeats removed in order."""
    found: dict[str, None] = {}
    for line in output.splitlines():
        match = BULLET.match(line)
        if match and DEID_MARK not in match.group(1):
            found.setdefault(normalise(match.group(1)), None)
    return list(found)


def parse_pairs(output: str) -> list[tuple[str, str]]:
    return [(normalise(m.group("q")), normalise(m.group("a"))) for m in PAIR.finditer(output)]


# -- 3. selection ----------------------------------------------------------------
@dataclass
class Pair:
    id: str
    letter: Letter
    question: str
    answer: str
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def overlap(self) -> float:
        return sum(self.scores.values()) / len(self.scores)


def least_overlap(pairs: Sequence[Pair], n: int, per_letter: int | None) -> list[Pair]:
    """The ``n`` pairs with the least overlap, walking the ranking without skipping ranks.

    A pair is passed over only if it repeats an earlier pair (same letter,
    question and answer) or its letter already gave ``per_letter`` pairs.
    """
    taken: list[Pair] = []
    seen: set[tuple[str, str, str]] = set()
    per: dict[str, int] = {}
    for pair in sorted(pairs, key=lambda p: (p.overlap, p.id)):
        if len(taken) == n:
            break
        key = (pair.letter.note_id, pair.question.lower(), pair.answer.lower())
        if key in seen or (per_letter is not None and per.get(pair.letter.note_id, 0) >= per_letter):
            continue
        seen.add(key)
        per[pair.letter.note_id] = per.get(pair.letter.note_id, 0) + 1
        taken.append(pair)
    return taken


def score_pairs(pairs: Sequence[Pair], metric_config: dict[str, Any] | None) -> dict[str, Any]:
    """Fill each pair's ROUGE-L and, when it can run, BERTScore; returns the scoring settings."""
    for pair in pairs:
        pair.scores["rougeL"] = rouge.rouge(pair.question, pair.answer)["rougeL"]
    settings: dict[str, Any] = {"rougeL": rouge.settings()}
    if not pairs:
        return settings
    result = model_metrics.compute(
        ["bertscore"], [p.id for p in pairs], [p.question for p in pairs], [p.answer for p in pairs], metric_config or {}
    )
    if "bertscore" in result.missing or any("bertscore" not in result.values.get(p.id, {}) for p in pairs):
        why = result.missing.get("bertscore", "no value for some pairs")
        settings["bertscore"] = {"used": False, "note": f"BERTScore not used, ROUGE-L alone ranks the pairs: {why}"}
        return settings
    for pair in pairs:
        pair.scores["bertscore"] = result.values[pair.id]["bertscore"]
    settings["bertscore"] = {"used": True, **result.settings.get("bertscore", {})}
    return settings


# -- 4. the build ------------------------------------------------------------------
@dataclass
class BuildResult:
    items: list[dict[str, Any]]
    manifest: dict[str, Any]


def store_path_for(out: Path) -> Path:
    return out.with_name(out.name + ".store.sqlite")


def manifest_path_for(out: Path) -> Path:
    return out.with_name(out.name + ".manifest.json")


def build(
    notes: Path,
    backend,
    store_path: Path,
    n: int = 416,
    seed: int = DEFAULT_SEED,
    letters: int | None = None,
    per_letter: int | None = 1,
    metric_config: dict[str, Any] | None = None,
    refresh: bool = False,
    on_stage: Callable[[str], None] | None = None,
    approved: Sequence[str] = (),
    resolver: Resolver | None = None,
) -> BuildResult:
    """Build the candidates; the egress guard checks ``backend`` before anything is read or sent.

    ``approved``: endpoints the user approved (``--approve-endpoint``); the
    user's approvals file counts too. ``resolver`` replaces the system
    resolver (tests).
    """
    if n < 1:
        raise UsageError("-n must be at least 1")
    guard(backend, [SENDS], approved, resolver=resolver)
    letters = letters or 2 * n
    say = on_stage or (lambda _msg: None)
    counts: dict[str, int] = {}

    say(f"choosing {letters} patient letters from {notes}")
    chosen_notes, note_counts = select_notes(
        iter_notes(notes), letters, seed, PURPOSE, keep=lambda note: letter_of(note) is not None
    )
    counts.update(note_counts)
    if not chosen_notes:
        raise DataError(
            notes,
            f"no patient letter found (a note containing {PATIENT_MARK!r} with a "
            f"{INSTRUCTIONS_HEADER!r} paragraph after two blank lines) among {note_counts['notes_read']} notes",
        )
    # select_notes kept only notes that make a letter.
    chosen = [letter for letter in map(letter_of, chosen_notes) if letter is not None]
    counts["letters"] = len(chosen)

    say(f"listing facts in {len(chosen)} letters")
    stage1 = _generate(backend, [statements_request(letter) for letter in chosen], store_path, refresh)
    facts: dict[str, list[str]] = {}
    for letter in chosen:
        completion = stage1[f"statements/{letter.note_id}"]
        if not completion.ok:
            counts["statement_calls_failed"] = counts.get("statement_calls_failed", 0) + 1
            continue
        found = parse_statements(completion.text or "")
        if found:
            facts[letter.note_id] = found
        else:
            counts["letters_without_statements"] = counts.get("letters_without_statements", 0) + 1
    counts["statements"] = sum(map(len, facts.values()))

    with_facts = [letter for letter in chosen if letter.note_id in facts]
    say(f"writing questions for {counts['statements']} facts")
    stage2 = _generate(
        backend, [questions_request(letter, facts[letter.note_id]) for letter in with_facts], store_path, refresh
    )
    pairs: list[Pair] = []
    for letter in with_facts:
        completion = stage2[f"questions/{letter.note_id}"]
        if not completion.ok:
            counts["question_calls_failed"] = counts.get("question_calls_failed", 0) + 1
            continue
        statements = set(facts[letter.note_id])
        for k, (question, answer) in enumerate(parse_pairs(completion.text or "")):
            counts["pairs_generated"] = counts.get("pairs_generated", 0) + 1
            if answer not in statements:
                counts["pairs_rejected_answer_not_a_statement"] = counts.get("pairs_rejected_answer_not_a_statement", 0) + 1
                continue
            pairs.append(Pair(f"{letter.note_id}/{k}", letter, question, answer))
    counts["pairs_kept"] = len(pairs)
    if not pairs:
        raise DataError(
            notes,
            "the model produced no usable question-answer pair "
            f"({', '.join(f'{k} {v}' for k, v in counts.items())}); check the model and its answers in {store_path}",
        )

    say(f"scoring {len(pairs)} pairs")
    scoring = score_pairs(pairs, metric_config)
    selected = least_overlap(pairs, n, per_letter)
    counts["pairs_selected"] = len(selected)
    items = [
        {
            "id": pair.id,
            "note_id": pair.letter.note_id,
            "hadm_id": pair.letter.hadm_id,
            "discharge_summary": pair.letter.letter,
            "Question": pair.question,
            "Answer": pair.answer,
            **{name: round(value, 6) for name, value in pair.scores.items()},
        }
        for pair in selected
    ]
    manifest = {
        "dataset": "medisumqa",
        "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "inputs": {"notes": {"path": str(notes), "bytes": notes.stat().st_size, "sha256": sha256_file(notes)}},
        "seed": seed,
        "n_requested": n,
        "n_written": len(items),
        "shortfall": max(0, n - len(items)),
        "letters_requested": letters,
        "per_letter": per_letter,
        "selection": "least overlap first: mean of the scores used (see scoring), ties by pair id",
        "scoring": scoring,
        "model": backend.info(),
        "prompts": {name: template(name).sha256 for name in PROMPTS},
        "store": str(store_path),
        "counts": counts,
        "reviewed": False,
    }
    if backend.egress_record:  # which approval let the notes go to a non-local endpoint
        manifest["egress"] = backend.egress_record
    return BuildResult(items, manifest)


def _generate(backend: Backend, requests: list[Request], store_path: Path, refresh: bool) -> dict[str, Completion]:
    """Every call goes through the run store, so a re-run repeats no finished request."""
    if not requests:
        return {}
    with RunStore(store_path) as store:
        done = {c.request_id: c for c in stored_generate(backend, requests, store, refresh=refresh)}
    missing = [r.id for r in requests if r.id not in done]
    if missing:
        raise DataError(store_path, f"{len(missing)} request(s) got no answer, e.g. {missing[:3]}; run again to retry")
    return done


def write(result: BuildResult, out: Path) -> Path:
    if not result.items:
        raise DataError(out, "no pair selected; nothing written")
    write_json(out, result.items)
    path = manifest_path_for(out)
    write_json(path, {**result.manifest, "output": {"path": str(out), "sha256": sha256_file(out)}})
    return path

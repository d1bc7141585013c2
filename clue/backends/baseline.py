"""The parameterless baseline: deterministic per-task heuristics, no language model.

It is the leaderboard's floor and the default model on a fresh machine. It
reads each request's structured inputs (``Request.payload``), not the prompt.

- MedNLI: a negation mismatch between the sentences -> CONTRADICTION; most of
  the hypothesis' content words found in the premise -> ENTAILMENT; otherwise
  NEUTRAL.
- MeQSum: the first sentence of the message that asks something (ends with
  "?" or starts with a question word), else the subject line, as a question.
- Problem Summary: the Assessment's first sentences, shortened to clauses.
- MeDiSumQA: the letter's sentence that shares the most content words with
  the question (ties: the earlier sentence).
- MeDiSumCode: ICD-10-CM codes whose description (or a common clinical
  abbreviation of it) occurs in the letter, preferring the discharge-diagnosis
  section when the letter has one.
- LongHealth: the option whose content words are best covered by the
  documents; for tasks 2-3, option F when no option is covered well enough.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from typing import Any, Iterator, Mapping, Sequence

from ..schema import Completion, Request
from .base import Backend

WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
STOP = frozenset(
    """a an and are as at be been but by did do does for from had has have he her his how i if in into is it its
    me my no not of on or our she should so than that the their them then there these they this to too was we
    were what when where which while who why will with would you your can could about after before also any
    patient patients pt""".split()
)
NEGATION = re.compile(r"\b(no|not|denies|denied|without|negative|absent|never|none|normal|unremarkable)\b|n't\b")
SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
QUESTION_START = re.compile(r"^(what|how|why|when|where|which|who|is|are|can|could|should|do|does|will|would|may)\b", re.I)


def content_words(text: str) -> list[str]:
    return [w for w in WORD.findall(text.lower()) if w not in STOP and len(w) > 1]


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE.split(text) if s and s.strip()]


# -- MedNLI --------------------------------------------------------------------
def nli(premise: str, hypothesis: str) -> str:
    if bool(NEGATION.search(premise.lower())) != bool(NEGATION.search(hypothesis.lower())):
        return "CONTRADICTION"
    hyp = set(content_words(hypothesis))
    prem = set(content_words(premise))
    overlap = len(hyp & prem) / len(hyp) if hyp else 0.0
    return "ENTAILMENT" if overlap >= 0.5 else "NEUTRAL"


# -- MeQSum --------------------------------------------------------------------
def summarise_question(chq: str) -> str:
    subject = ""
    message = chq
    m = re.search(r"SUBJECT:\s*(.*?)\s*(?:MESSAGE:|$)", chq, re.S | re.I)
    if m:
        subject = m.group(1).strip()
    m = re.search(r"MESSAGE:\s*(.*)", chq, re.S | re.I)
    if m:
        message = m.group(1)
    parts = sentences(message)
    for sentence in parts:
        if sentence.endswith("?") or QUESTION_START.match(sentence):
            return _as_question(sentence)
    return _as_question(subject or (parts[0] if parts else chq))


def _as_question(text: str) -> str:
    text = " ".join(text.split())
    words = text.split()
    if len(words) > 25:
        text = " ".join(words[:25])
    return text.rstrip(".!,;: ") + ("" if text.endswith("?") else "?")


# -- Problem Summary -------------------------------------------------------------
def problems(assessment: str) -> str:
    picked = []
    for sentence in sentences(assessment)[:3]:
        clause = re.split(r",|;|\bwho\b|\bwith\b|\bs/p\b", sentence, maxsplit=1)[0]
        clause = re.sub(r"^\s*(\d+[.)]|[-*•])\s*", "", clause).strip(" .")
        if clause and clause not in picked:
            picked.append(clause)
    return ", ".join(picked) if picked else " ".join(assessment.split()[:30])


# -- MeDiSumQA -------------------------------------------------------------------
def closest_sentence(letter: str, question: str) -> str:
    wanted = Counter(content_words(question))
    best, best_score = "", 0.0
    for sentence in sentences(letter):
        if "___" in sentence and len(sentence) < 30:
            continue
        words = set(content_words(sentence))
        score = sum(count for word, count in wanted.items() if word in words)
        if score > best_score:
            best, best_score = sentence, score
    return best or (sentences(letter) or [""])[0]


# -- MeDiSumCode -----------------------------------------------------------------
# Abbreviations and short names clinicians write for common billed diagnoses.
ABBREVIATIONS: dict[str, str] = {
    "chf": "I509", "heart failure": "I509", "aki": "N179", "acute kidney injury": "N179",
    "ckd": "N189", "htn": "I10", "hypertension": "I10", "t2dm": "E119", "dm2": "E119",
    "type 2 diabetes": "E119", "copd": "J449", "cad": "I2510", "coronary artery disease": "I2510",
    "afib": "I4891", "atrial fibrillation": "I4891", "uti": "N390", "urinary tract infection": "N390",
    "hld": "E785", "hyperlipidemia": "E785", "gerd": "K219", "pneumonia": "J189", "sepsis": "A419",
    "hypothyroidism": "E039", "anemia": "D649", "hyponatremia": "E871", "hypokalemia": "E876",
    "obesity": "E669", "osa": "G4733", "obstructive sleep apnea": "G4733", "depression": "F329",
    "anxiety": "F419", "dvt": "I82409", "pulmonary embolism": "I2699", "pe": "I2699",
    "covid-19": "U071", "covid": "U071", "cellulitis": "L0390", "stroke": "I639",
    "nstemi": "I214", "stemi": "I213", "alcohol use disorder": "F1020", "cirrhosis": "K7460",
    "tobacco use": "Z720", "smoker": "F17210", "osteoarthritis": "M1990", "dementia": "F039",
}
_SECTION = re.compile(r"discharge diagnos[ie]s\s*:?(.*?)(?:\n\s*\n[A-Z][A-Za-z ]+:|discharge condition|$)", re.I | re.S)


@lru_cache(maxsize=1)
def _description_index() -> dict[str, str]:
    """Normalised ICD-10-CM description -> code, for billable codes with short descriptions."""
    import simple_icd_10_cm as cm

    from ..metrics.icd import _code_table

    index: dict[str, str] = {}
    for code in sorted(_code_table()[1]):
        phrase = _normalise_description(cm.get_description(code))
        if 2 <= len(phrase.split()) <= 6:
            index.setdefault(phrase, code)
    return index


def _normalise_description(text: str) -> str:
    text = text.lower()
    text = re.sub(r"\([^)]*\)", " ", text)
    text = re.sub(r",?\s*(unspecified|not elsewhere classified|without complications)\b.*$", "", text)
    text = re.sub(r"^unspecified\s+", "", text)
    return " ".join(WORD.findall(text))


def code_letter(text: str) -> list[str]:
    section = _SECTION.search(text)
    scope = section.group(1) if section and section.group(1).strip() else text
    words = WORD.findall(scope.lower())
    index = _description_index()
    found: dict[str, None] = {}
    for n in range(6, 1, -1):
        for i in range(len(words) - n + 1):
            code = index.get(" ".join(words[i : i + n]))
            if code:
                found.setdefault(code, None)
    lowered = " " + " ".join(words) + " "
    for phrase, code in ABBREVIATIONS.items():
        if f" {' '.join(WORD.findall(phrase))} " in lowered:
            found.setdefault(code, None)
    return list(found)[:12]


# -- LongHealth -----------------------------------------------------------------
ABSTAIN_BELOW = 0.6


def choose_option(documents: Sequence[str], question: str, options: Mapping[str, str]) -> tuple[str, str]:
    vocabulary = set(content_words(" ".join(documents)))
    coverage: dict[str, float] = {}
    for letter, text in options.items():
        if letter == "F":
            continue
        words = set(content_words(text))
        coverage[letter] = len(words & vocabulary) / len(words) if words else 0.0
    best = max(coverage, key=lambda k: (coverage[k], -ord(k)))
    if "F" in options and coverage[best] < ABSTAIN_BELOW:
        best = "F"
    return best, options[best]


class BaselineBackend(Backend):
    kind = "baseline"

    def __init__(self, target: str = "baseline", options: Mapping[str, Any] | None = None):
        super().__init__(target, options)

    @property
    def model_id(self) -> str:
        return "baseline"

    def info(self) -> dict[str, Any]:
        info = super().info()
        info["description"] = "parameterless per-task heuristics (clue.backends.baseline)"
        return info

    def generate(self, requests: Sequence[Request]) -> Iterator[Completion]:
        for request in requests:
            yield Completion(request.id, self.answer(request))

    @staticmethod
    def answer(request: Request) -> str:
        p = request.payload
        if request.task == "mednli":
            return nli(p["sentence1"], p["sentence2"])
        if request.task == "meqsum":
            return summarise_question(p["chq"])
        if request.task == "problem_summary":
            return problems(p["assessment"])
        if request.task == "medisumqa":
            return closest_sentence(p["letter"], p["question"])
        if request.task == "medisumcode":
            return "ICD-10 Codes: " + ", ".join(code_letter(p["text"]))
        if request.task == "longhealth":
            letter, text = choose_option(p["documents"], p["question"], p["options"])
            return f"The correct answer is {letter}: {text}"
        raise ValueError(f"the baseline has no heuristic for task {request.task!r}")

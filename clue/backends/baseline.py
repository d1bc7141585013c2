"""The parameterless baseline: deterministic per-task heuristics, no language model.

It is the leaderboard's floor and the default model on a fresh machine. It
reads each request's structured inputs (``Request.payload``), not the prompt.

- MedNLI: a negation mismatch between the sentences -> CONTRADICTION; most of
  the hypothesis' content words found in the premise -> ENTAILMENT; otherwise
  NEUTRAL.
- MeQSum: the topic (subject line or a short first sentence) put into the
  question form its cue words suggest ("What are the treatments for X?");
  with no topic, the first sentence that asks something.
- Problem Summary: the diagnoses the Assessment names (ICD-10-CM descriptions
  and common abbreviations, as for MeDiSumCode); else its first clauses.
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
# Consumer-question summaries mostly take a few fixed forms ("What are the
# treatments for X?", "Where can I find information on X?"). The baseline
# finds the topic (the subject line, or a short title-like first sentence)
# and picks the form from cue words in the message.
QUESTION_FORMS = (
    (re.compile(r"\b(treat|cure|therap|medicin|medication|drug|help)", re.I), "What are the treatments for {}?"),
    (re.compile(r"\b(cause|causes|why)\b", re.I), "What causes {}?"),
    (re.compile(r"\b(information|info|learn|know more)\b", re.I), "Where can I find information on {}?"),
)
DEFAULT_FORM = "What is {}?"


def question_topic(chq: str) -> str:
    m = re.search(r"SUBJECT:\s*(.*?)\s*(?:MESSAGE:|$)", chq, re.S | re.I)
    if m:
        topic = m.group(1).strip()
    else:
        body = sentences(re.sub(r"^\s*MESSAGE:\s*", "", chq))
        topic = body[0] if body and len(body[0].split()) <= 8 else ""
    if not topic or topic.endswith("?") or len(topic.split()) > 12:
        return ""
    return " ".join(topic.split()).rstrip(".!:; ")


def summarise_question(chq: str) -> str:
    topic = question_topic(chq)
    if topic:
        form = next((tpl for cue, tpl in QUESTION_FORMS if cue.search(chq)), DEFAULT_FORM)
        return form.format(topic)
    message = chq
    m = re.search(r"MESSAGE:\s*(.*)", chq, re.S | re.I)
    if m:
        message = m.group(1)
    parts = sentences(message)
    for sentence in parts:
        if sentence.endswith("?") or QUESTION_START.match(sentence):
            return _as_question(sentence)
    return _as_question(parts[0] if parts else chq)


def _as_question(text: str) -> str:
    text = " ".join(text.split())
    words = text.split()
    if len(words) > 25:
        text = " ".join(words[:25])
    return text.rstrip(".!,;: ") + ("" if text.endswith("?") else "?")


# -- Problem Summary -------------------------------------------------------------
def problems(assessment: str) -> str:
    """Diagnoses named in the assessment; without any, its first clauses."""
    named = [name for _, name in find_diagnoses(assessment)]
    if named:
        return ", ".join(named)
    picked: list[str] = []
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


# -- MeDiSumCode (and Problem Summary) -------------------------------------------
# Abbreviations and short names clinicians write for common diagnoses:
# phrase -> (ICD-10-CM code, the problem's name).
ABBREVIATIONS: dict[str, tuple[str, str]] = {
    "chf": ("I509", "Heart failure"), "heart failure": ("I509", "Heart failure"),
    "aki": ("N179", "Acute kidney injury"), "acute kidney injury": ("N179", "Acute kidney injury"),
    "ckd": ("N189", "Chronic kidney disease"), "esrd": ("N186", "End stage renal disease"),
    "htn": ("I10", "Hypertension"), "hypertension": ("I10", "Hypertension"),
    "t2dm": ("E119", "Type 2 diabetes mellitus"), "dm2": ("E119", "Type 2 diabetes mellitus"),
    "type 2 diabetes": ("E119", "Type 2 diabetes mellitus"), "dka": ("E1010", "Diabetic ketoacidosis"),
    "copd": ("J449", "Chronic obstructive pulmonary disease"),
    "cad": ("I2510", "Coronary artery disease"), "coronary artery disease": ("I2510", "Coronary artery disease"),
    "afib": ("I4891", "Atrial fibrillation"), "af": ("I4891", "Atrial fibrillation"),
    "atrial fibrillation": ("I4891", "Atrial fibrillation"),
    "uti": ("N390", "Urinary tract infection"), "urinary tract infection": ("N390", "Urinary tract infection"),
    "hld": ("E785", "Hyperlipidemia"), "hyperlipidemia": ("E785", "Hyperlipidemia"),
    "gerd": ("K219", "Gastroesophageal reflux disease"), "pneumonia": ("J189", "Pneumonia"),
    "cap": ("J189", "Community acquired pneumonia"), "sepsis": ("A419", "Sepsis"),
    "septic shock": ("R6521", "Septic shock"), "hypothyroidism": ("E039", "Hypothyroidism"),
    "anemia": ("D649", "Anemia"), "hyponatremia": ("E871", "Hyponatremia"),
    "hypokalemia": ("E876", "Hypokalemia"), "hyperkalemia": ("E875", "Hyperkalemia"),
    "obesity": ("E669", "Obesity"), "osa": ("G4733", "Obstructive sleep apnea"),
    "obstructive sleep apnea": ("G4733", "Obstructive sleep apnea"), "depression": ("F329", "Depression"),
    "anxiety": ("F419", "Anxiety"), "dvt": ("I82409", "Deep vein thrombosis"),
    "pulmonary embolism": ("I2699", "Pulmonary embolism"), "pe": ("I2699", "Pulmonary embolism"),
    "covid-19": ("U071", "COVID-19"), "covid": ("U071", "COVID-19"), "cellulitis": ("L0390", "Cellulitis"),
    "stroke": ("I639", "Stroke"), "nstemi": ("I214", "NSTEMI"), "stemi": ("I213", "STEMI"),
    "alcohol use disorder": ("F1020", "Alcohol use disorder"), "cirrhosis": ("K7460", "Cirrhosis"),
    "tobacco use": ("Z720", "Tobacco use"), "dementia": ("F039", "Dementia"),
    "gi bleed": ("K922", "Gastrointestinal bleed"), "ugib": ("K922", "Upper gastrointestinal bleed"),
    "respiratory failure": ("J9690", "Respiratory failure"), "thrombocytopenia": ("D696", "Thrombocytopenia"),
}
_SECTION = re.compile(r"discharge diagnos[ie]s\s*:?(.*?)(?:\n\s*\n[A-Z][A-Za-z ]+:|discharge condition|$)", re.I | re.S)


@lru_cache(maxsize=1)
def _description_index() -> dict[str, str]:
    """Normalised ICD-10-CM description -> code, for billable codes with short descriptions."""
    import simple_icd_10_cm as cm

    from ..metrics.icd import billable_codes

    index: dict[str, str] = {}
    for code in sorted(billable_codes()):
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


def find_diagnoses(text: str) -> list[tuple[str, str]]:
    """(code, name) of diagnoses named in ``text``: ICD-10-CM descriptions, then abbreviations.

    Longer descriptions are matched first; a phrase inside an already matched
    one is not counted again.
    """
    words = WORD.findall(text.lower())
    index = _description_index()
    found: dict[str, str] = {}
    taken = [False] * len(words)
    for n in range(6, 1, -1):
        for i in range(len(words) - n + 1):
            if any(taken[i : i + n]):
                continue
            phrase = " ".join(words[i : i + n])
            code = index.get(phrase)
            if code and code not in found:
                found[code] = phrase.capitalize()
                taken[i : i + n] = [True] * n
    for i, word in enumerate(words):
        for n in (3, 2, 1):
            phrase = " ".join(words[i : i + n])
            if phrase in ABBREVIATIONS and not any(taken[i : i + n]):
                code, name = ABBREVIATIONS[phrase]
                found.setdefault(code, name)
                taken[i : i + n] = [True] * n
    return list(found.items())


def code_letter(text: str) -> list[str]:
    section = _SECTION.search(text)
    scope = section.group(1) if section and section.group(1).strip() else text
    return [code for code, _ in find_diagnoses(scope)][:12]


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

"""Text heuristics the tasks' parameterless baselines share: words, sentences, diagnoses.

No language model: content words after a stop list, sentence splits, and
diagnoses named in a text found through ICD-10-CM descriptions and the
abbreviations clinicians write (used by the Problem Summary and MeDiSumCode
baselines).
"""

from __future__ import annotations

import re
from functools import lru_cache

from clue.metrics.icd import billable_codes, description

WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
STOP = frozenset(
    """a an and are as at be been but by did do does for from had has have he her his how i if in into is it its
    me my no not of on or our she should so than that the their them then there these they this to too was we
    were what when where which while who why will with would you your can could about after before also any
    patient patients pt""".split()
)
SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def content_words(text: str) -> list[str]:
    return [w for w in WORD.findall(text.lower()) if w not in STOP and len(w) > 1]


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE.split(text) if s and s.strip()]


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


@lru_cache(maxsize=1)
def _description_index() -> dict[str, str]:
    """Normalised ICD-10-CM description -> code, for billable codes with short descriptions."""
    index: dict[str, str] = {}
    for code in sorted(billable_codes()):
        phrase = _normalise_description(description(code))
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
    for i, _word in enumerate(words):
        for n in (3, 2, 1):
            phrase = " ".join(words[i : i + n])
            if phrase in ABBREVIATIONS and not any(taken[i : i + n]):
                code, name = ABBREVIATIONS[phrase]
                found.setdefault(code, name)
                taken[i : i + n] = [True] * n
    return list(found.items())

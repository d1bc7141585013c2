"""MeQSum baseline: the topic (subject line or a short first sentence) put into the question
form its cue words suggest ("What are the treatments for X?"); with no topic, the first
sentence that asks something.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from clue.tasks.heuristics import sentences

QUESTION_START = re.compile(r"^(what|how|why|when|where|which|who|is|are|can|could|should|do|does|will|would|may)\b", re.I)


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


def answer(inputs: Mapping[str, Any]) -> str:
    return summarise_question(inputs["chq"])

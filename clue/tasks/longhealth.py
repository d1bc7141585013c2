"""LongHealth (level 2): five-option questions about long records of 20 fictional patients.

File: ``benchmark_v5.json`` (public, Apache-2.0): ``patient_01`` ... each with
``texts`` {text_0: str, ...} and ``questions`` [{question, answer_a..answer_e,
correct (the option's text), answer_location {text id: {start, end}}}].
Zero-shot; 50 new tokens. Three sub-tasks, all seeded:

- task 1 (information extraction): the patient's own texts, evidence texts
  first; 5 prompts per question, each with a fresh shuffle.
- tasks 2 and 3: 10 runs per question, each with 10 texts drawn from *other*
  patients as distractors and a sixth option F ("cannot be answered"). Odd
  runs (1, 3, ...) add the evidence texts: task 2, gold is the right letter.
  Even runs (0, 2, ...) do not: task 3, gold is F (the hallucination test).

Documents are packed into a token budget (default 8,140 tokens minus the
system prompt, the same for all three tasks, counted with the model's
tokenizer): whole documents in order while they fit, the first that does not
fit cut to what is left, then the chosen ones shuffled. A model whose context
cannot hold that budget gets a smaller one, so the question is never cut.

The gold letter is the option whose text *equals* ``correct`` (the public
code takes the first option containing it, which can pick a wrong one).
Score: mean of task 1, 2 and 3 accuracy, each by the reference parse (the
first "The correct answer is X:"). Diagnostics: lenient-parse accuracy and
the unparseable rate per sub-task.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from ..datasets.readers import need_object, need_text, read_json_object
from ..errors import DataError
from ..metrics.choice import lenient_letter, reference_letter
from ..schema import Item, Message, Request, Scored
from ..seeding import rng
from ..tokens import Tokenizer
from .base import PUBLIC, BuildContext, Task, Templates, prompt_tokens

LETTERS = ("A", "B", "C", "D", "E")
UNANSWERABLE = "F"
DEFAULT_BUDGET = 8140
TASK1_RUNS = 5
TASK23_RUNS = 10
DISTRACTORS = 10


def pack_documents(
    first: Sequence[str], then: Sequence[str], budget: int, tokenizer: Tokenizer, separator: str, shuffle
) -> tuple[list[str], bool]:
    """Fill ``budget`` tokens with whole documents, ``first`` before ``then``.

    The first document that does not fit is cut to the remaining budget and
    packing stops. Separators between documents count toward the budget.
    Returns the chosen documents (shuffled with ``shuffle``) and whether one
    was cut.
    """
    chosen: list[str] = []
    used = 0
    cut = False
    sep_cost = tokenizer.count(f"\n{separator}\n")
    for doc in [*first, *then]:
        cost = tokenizer.count(doc) + (sep_cost if chosen else 0)
        if used + cost <= budget:
            chosen.append(doc)
            used += cost
            continue
        remaining = budget - used - (sep_cost if chosen else 0)
        if remaining > 0:
            piece = tokenizer.truncate(doc, remaining)
            if piece:
                chosen.append(piece)
                cut = True
        break
    shuffle(chosen)
    return chosen, cut


class LongHealth(Task):
    name = "longhealth"
    title = "LongHealth"
    level = 2
    access = PUBLIC
    expected_file = "benchmark_v5.json"
    file_format = "JSON object: patient_XX -> texts {text_N}, questions [question, answer_a..e, correct, answer_location]"
    metrics = ("task1", "task2", "task3")
    shots = 0
    max_new_tokens = 50

    # -- load -----------------------------------------------------------
    def load(self, path: str | Path) -> list[Item]:
        data = read_json_object(path)
        items: list[Item] = []
        for patient_id, raw_patient in data.items():
            patient = need_object(path, patient_id, raw_patient)
            texts_raw = patient.get("texts")
            if not isinstance(texts_raw, dict) or not texts_raw:
                raise DataError(path, "missing, empty or not an object", record=patient_id, field="texts")
            texts = {tid: need_text(path, f"{patient_id}, texts", texts_raw, tid) for tid in texts_raw}
            questions = patient.get("questions")
            if not isinstance(questions, list) or not questions:
                raise DataError(path, "missing, empty or not a list", record=patient_id, field="questions")
            for qn, raw_q in enumerate(questions):
                where = f"{patient_id}, questions[{qn}]"
                q = need_object(path, where, raw_q)
                options = {L: need_text(path, where, q, f"answer_{L.lower()}").strip() for L in LETTERS}
                correct = need_text(path, where, q, "correct").strip()
                matches = [L for L, text in options.items() if text == correct]
                if len(matches) != 1:
                    problem = "equals no option's text" if not matches else f"equals options {matches}"
                    raise DataError(path, f"{correct!r} {problem}", record=where, field="correct")
                location = q.get("answer_location") or {}
                if not isinstance(location, dict):
                    raise DataError(path, "not an object", record=where, field="answer_location")
                unknown = [tid for tid in location if tid not in texts]
                if unknown:
                    raise DataError(path, f"names texts {unknown} the patient does not have", record=where, field="answer_location")
                items.append(
                    Item(
                        id=f"{patient_id}/q{qn:02d}",
                        inputs={
                            "patient": patient_id,
                            "question": need_text(path, where, q, "question").strip(),
                            "options": options,
                            "evidence": list(location),
                            # One dict per patient, shared by its questions (not copied).
                            "texts": texts,
                        },
                        gold=matches[0],
                        group=patient_id,
                    )
                )
        return items

    # -- build ----------------------------------------------------------
    def build(self, items: Sequence[Item], ctx: BuildContext) -> list[Request]:
        templates = ctx.templates or Templates()
        # Distractors come from every other patient in the file.
        texts = {item.inputs["patient"]: item.inputs["texts"] for item in items}
        system = templates.get("longhealth.system").fill()
        separator = templates.get("longhealth.separator").fill()
        unanswerable = templates.get("longhealth.unanswerable").fill()
        decoding = self.decoding(ctx)
        budget_option = int(ctx.task_options.get("longhealth_budget", DEFAULT_BUDGET))
        requests: list[Request] = []
        for item in items:
            patient = item.inputs["patient"]
            own = texts[patient]
            evidence = [own[t] for t in item.inputs["evidence"]]
            rest_own = [own[t] for t in own if t not in item.inputs["evidence"]]
            pool = [doc for p, docs in texts.items() if p != patient for doc in docs.values()]
            runs: list[tuple[str, int, bool]] = [("task1", r, True) for r in range(TASK1_RUNS)]
            runs += [("task2" if r % 2 else "task3", r, bool(r % 2)) for r in range(TASK23_RUNS)]
            for subtask, run, with_evidence in runs:
                options = dict(item.inputs["options"])
                if subtask != "task1":
                    options[UNANSWERABLE] = unanswerable
                render = self._renderer(templates, system, separator, item.inputs["question"], options)
                budget = self._budget(budget_option, system, render, ctx, decoding.max_new_tokens)
                draw = rng(ctx.seed, "longhealth", item.id, subtask, run)
                if subtask == "task1":
                    first, then = evidence, rest_own
                else:
                    distractors = draw.sample(pool, min(DISTRACTORS, len(pool)))
                    first, then = (evidence if with_evidence else []), distractors
                docs, cut = pack_documents(first, then, budget, ctx.tokenizer, separator, draw.shuffle)
                gold = item.gold if with_evidence else UNANSWERABLE
                requests.append(
                    Request(
                        id=f"longhealth/{item.id}/{subtask}/{run}",
                        task=self.name,
                        item_id=item.id,
                        messages=render(docs),
                        decoding=decoding,
                        gold=gold,
                        group=item.group,
                        subtask=subtask,
                        payload={"documents": docs, "question": item.inputs["question"], "options": options},
                        truncated=cut,
                    )
                )
        return requests

    @staticmethod
    def _renderer(templates: Templates, system: str, separator: str, question: str, options: dict[str, str]):
        option_lines = "\n".join(f"{letter}: {text}" for letter, text in options.items())

        def render(docs: Sequence[str]) -> list[Message]:
            user = templates.get("longhealth.user").fill(
                documents=f"\n{separator}\n".join(docs), question=question, options=option_lines
            )
            return [Message("system", system), Message("user", user)]

        return render

    @staticmethod
    def _budget(option: int, system: str, render, ctx: BuildContext, max_new_tokens: int) -> int:
        budget = option - ctx.tokenizer.count(system)
        if ctx.context_length is not None:
            room = ctx.context_length - max_new_tokens - prompt_tokens(render([]), ctx.tokenizer)
            budget = min(budget, room)
        return max(budget, 0)

    # -- score ----------------------------------------------------------
    def score(self, request: Request, output: str) -> Scored:
        strict = reference_letter(output)
        lenient = lenient_letter(output, request.payload.get("options", {}))
        sub = request.subtask or "task1"
        return Scored(
            request_id=request.id,
            item_id=request.item_id,
            parsed=strict,
            metrics={sub: float(strict == request.gold)},
            diagnostics={
                f"{sub}_lenient": float(lenient == request.gold),
                f"{sub}_unparsed_rate": float(strict is None),
                f"{sub}_answered_f_rate": float(lenient == UNANSWERABLE),
            },
        )

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info["prompts_per_question"] = {"task1": TASK1_RUNS, "task2": TASK23_RUNS // 2, "task3": TASK23_RUNS // 2}
        return info

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
code takes the last option containing it at ff75877 and the first at
2de4314, which can pick a wrong one; the reference profiles do as their
commit did).

Under the reference profiles (``options.packing = "reference"``) the prompts
are built as eval_LongHealth.py builds them (``_build_reference``): texts
with their whitespace, its packing arithmetic, its chat joins and Python's
``random`` in its call order, seeded per question from ``--seed``, so that a
reference run seeded the same way gives the same prompts (docs/protocols.md).
Score: mean of task 1, 2 and 3 accuracy, each by the reference parse (the
first "The correct answer is X:"). Diagnostics: lenient-parse accuracy and
the unparseable rate per sub-task.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from clue.core.access import PUBLIC
from clue.core.errors import DataError
from clue.core.records import Case, Item, Joins, Message, Reference, Request, Scored
from clue.core.seeding import rng
from clue.core.tokens import Tokenizer, reference_count, reference_cut
from clue.formats.readers import need_object, need_text, read_json_object
from clue.metrics.registry import get_metric
from clue.tasks.answers import Choice
from clue.tasks.base import BuildContext, Task
from clue.tasks.context import keep_end, keep_end_limit, prompt_tokens
from clue.tasks.declaration import DataFiles, Declaration, DiagnosticColumn, Release
from clue.tasks.longhealth import baseline
from clue.tasks.protocols import LLAMA3_STOP
from clue.tasks.settings import Settings
from clue.tasks.templates import Templates

LETTERS = ("A", "B", "C", "D", "E")
# Distinct orders of the five options (F, "cannot be answered", always stays last).
OPTION_ORDERS = 120
UNANSWERABLE = "F"
TASK1_RUNS = 5
TASK23_RUNS = 10
DISTRACTORS = 10


def option_permutation(order: int, seed: int, item_id: str) -> list[int]:
    """Which original option each letter shows under answer order ``order``: position i shows option perm[i].

    Order 0 is the file's order; 1 to 4 rotate the options by that many
    places (orders 0-4 together put every option in every position once);
    from 5 on, a seeded shuffle per question.
    """
    n = len(LETTERS)
    if order < 0:
        raise ValueError(f"answer order {order} is negative")
    if order < n:
        return [(i + order) % n for i in range(n)]
    perm = list(range(n))
    rng(seed, "longhealth", item_id, "order", order).shuffle(perm)
    return perm


def permute_options(options: Mapping[str, str], gold: str, perm: Sequence[int]) -> tuple[dict[str, str], str]:
    """The options A-E shown in the order ``perm``, and the letter the gold option now has.

    Any other key (F) keeps its letter, as does a gold answer outside A-E.
    """
    texts = [options[letter] for letter in LETTERS]
    shown = {letter: texts[perm[i]] for i, letter in enumerate(LETTERS)}
    rest = {k: v for k, v in options.items() if k not in LETTERS}
    if gold in LETTERS:
        gold = LETTERS[list(perm).index(LETTERS.index(gold))]
    return {**shown, **rest}, gold


def pack_documents(
    first: Sequence[str], then: Sequence[str], budget: int, tokenizer: Tokenizer, join: str, shuffle
) -> tuple[list[str], bool]:
    """Fill ``budget`` tokens with whole documents, ``first`` before ``then``.

    The first document that does not fit is cut to the remaining budget and
    packing stops. What joins two documents (``join``) counts toward the budget.
    Returns the chosen documents (shuffled with ``shuffle``) and whether one
    was cut.
    """
    chosen: list[str] = []
    used = 0
    cut = False
    sep_cost = tokenizer.count(join)
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


# The reference's chat joins (eval_LongHealth.py at ff75877): system text and prompt folded with nothing
# between (lines 271/360), "\n\n\n" between them for base models and nothing after (lines 282/369).
REFERENCE_JOINS = Joins(fold="", plain="\n\n\n", plain_end="")
# The reference sent these stop strings with task 1 only, and only to models named Llama-3 (line 285).
LLAMA3_NAMES = ("llama-3", "llama3")


def reference_packing(
    first: Sequence[str], then: Sequence[str], max_len: int, fixed: int, charged: str, tokenizer: Tokenizer
) -> tuple[list[str], bool]:
    """``create_prompt``'s packing (eval_LongHealth.py lines 98-141 at ff75877, 105-148 at 2de4314).

    Counted as the reference counted (``reference_count``: BOS included with a
    Hugging Face tokenizer). It starts from the question, options and
    template (``fixed``); a document that fits is charged with the longer
    ``charged`` separator (the prompt joins with the short one); the first that
    does not fit, in either list, is cut to what is left (``reference_cut``:
    the decoded BOS stays at its head; nothing left: an empty document) and
    ends that list, the total then being the whole budget, so an overflow among
    ``first`` leaves an empty document from ``then``.
    """
    total = fixed
    sep = reference_count(tokenizer, charged)
    chosen: list[str] = []
    cut = False
    for docs in (first, then):
        for doc in docs:
            size = reference_count(tokenizer, doc)
            if total + size <= max_len:
                chosen.append(doc)
                total += size + sep
                continue
            chosen.append(reference_cut(tokenizer, doc, max(max_len - total, 0)))
            cut = True
            total = max_len
            break
    return chosen, cut


def reference_gold(correct: str, options: Mapping[str, str], rule: str, default: str) -> str:
    """The gold letter by ``rule``: the option containing ``correct``, the last (ff75877, lines 49-53) or the
    first (2de4314, lines 50-55) in the record's order; ``equal``: clue's (the option equal to it, ``default``)."""
    if rule == "equal":
        return default
    containing = [letter for letter, text in options.items() if correct in text]
    if not containing:
        return default
    return containing[-1] if rule == "last-containing" else containing[0]


def reference_task1_stop(options: Mapping[str, Any], model: str) -> tuple[str, ...]:
    """Task 1's stop strings: the Llama-3 ones for a model whose name says Llama-3 (``options.task1_stop``)."""
    if options.get("task1_stop") != "llama3-names":
        return ()
    name = model.lower()
    return LLAMA3_STOP if any(tag in name for tag in LLAMA3_NAMES) else ()


DECLARATION = Declaration(
    name="longhealth",
    title="LongHealth",
    kind="multiple choice",
    level=2,
    access=PUBLIC,
    metrics=("task1", "task2", "task3"),
    # A patient's questions (and their 15 prompts each) are not independent.
    resampling_unit="patient",
    files=DataFiles(
        expected="benchmark_v5.json",
        format="JSON object: patient_XX -> texts {text_N}, questions [question, answer_a..e, correct, answer_location]",
        demo="benchmark_v5.json",
    ),
    # budget: document tokens per prompt, before the system prompt is taken off.
    # budget_accounting: what is taken off the budget besides the documents: "system" (clue) or
    # "prompt" (system, question, options and template: eval/eval_LongHealth.py create_prompt at
    # ff75877, all tasks); budget_task23: "budget" or "context" (2de4314: tasks 2-3 get the model's
    # whole context as their budget). The reference's prompt texts (fetched) with clue's seeded document
    # shuffles and distractor draws: the reference's are unseeded and cannot be reproduced.
    protocols={
        "clue": Settings(shots=0, max_new_tokens=50, options={"budget": 8140}),
        # packing "reference": eval_LongHealth.py's own build (reference_packing, REFERENCE_JOINS, the seeded
        # draws of _build_reference); gold_rule: lines 52-53 at ff75877 (last containing), 54-55 at 2de4314
        # (first); keep_end_reserve: task 1's truncate=positions - max_new_tokens (line 290 at ff75877; tasks
        # 2-3 send no truncate); task1_stop: line 285 at ff75877.
        "clue-2024-06": Settings(
            shots=0, max_new_tokens=50, truncation="keep-end", templates="reference",
            options={"budget": 8140, "budget_accounting": "prompt", "budget_task23": "budget", "packing": "reference",
                     "gold_rule": "last-containing", "keep_end_reserve": "max_new_tokens",
                     "task1_stop": "llama3-names"},
        ),
        "clue-2025-01": Settings(
            shots=0, max_new_tokens=50, chat_layout="system", truncation="none", templates="reference",
            options={"budget": 8140, "budget_accounting": "prompt", "budget_task23": "context", "packing": "reference",
                     "gold_rule": "first-containing"},
        ),
    },
    # Follows the default branch (HEAD): the file is checked by the loader.
    release=Release(
        kind="public",
        source="GitHub kbressem/LongHealth",
        url_path="kbressem/LongHealth/HEAD/data/benchmark_v5.json",
        sha256=None,  # could not be obtained on the machine this was written on
        records=400,  # questions (20 patients x 20)
        license="Apache-2.0",
        page="https://github.com/kbressem/LongHealth",
    ),
    diagnostics=(
        DiagnosticColumn("longhealth_task1_unparsed", "LongHealth t1 unparsed (%)", "diagnostics.task1_unparsed_rate"),
        DiagnosticColumn("longhealth_task2_unparsed", "LongHealth t2 unparsed (%)", "diagnostics.task2_unparsed_rate"),
        DiagnosticColumn("longhealth_task3_unparsed", "LongHealth t3 unparsed (%)", "diagnostics.task3_unparsed_rate"),
        DiagnosticColumn("longhealth_task3", "LongHealth t3 abstention (%)", "metrics.task3"),
        DiagnosticColumn("longhealth_task3_answered_f", "LongHealth t3 chose F (%)", "diagnostics.task3_answered_f_rate"),
    ),
)


@dataclass(frozen=True)
class LongHealthTexts:
    system: str
    separator: str  # the separator text
    join: str  # what goes between two documents
    unanswerable: str  # option F of tasks 2 and 3
    user: Callable[[str, str, str], str]  # (documents, question, options) -> the user turn


# Multiple choice, the options shown in the reference's ``options`` input (A-E, and F for tasks 2-3).
ANSWERS = Choice()


class LongHealth(Task):
    declaration = DECLARATION

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
                raw_options = {L: need_text(path, where, q, f"answer_{L.lower()}") for L in LETTERS}
                raw_correct = need_text(path, where, q, "correct")
                options = {L: text.strip() for L, text in raw_options.items()}
                correct = raw_correct.strip()
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
                            # the file's texts as they are, whitespace kept, options in the record's key
                            # order (the reference profiles' prompts and gold rule read these)
                            "raw": {
                                "question": need_text(path, where, q, "question"),
                                "options": {k[-1].upper(): raw_options[k[-1].upper()] for k in q
                                            if k.lower() in {f"answer_{L.lower()}" for L in LETTERS}},
                                "correct": raw_correct,
                            },
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
    def uses_context(self, ctx: BuildContext) -> bool:
        """Always: the documents are packed into a budget that the model's context caps."""
        return True

    def build(self, items: Sequence[Item], ctx: BuildContext) -> list[Case]:
        if self.settings(ctx).options.get("packing") == "reference":
            return self._build_reference(items, ctx)
        templates = ctx.template_set()
        variant = ctx.variant
        # Distractors come from every other patient in the file.
        texts = {item.inputs["patient"]: item.inputs["texts"] for item in items}
        prompt_texts = self._texts(templates, ctx)
        system, unanswerable = prompt_texts.system, prompt_texts.unanswerable
        decoding = self.decoding(ctx)
        budget_option = int(self.option(ctx, "budget"))
        cases: list[Case] = []
        for item in items:
            shown, item_gold = permute_options(
                item.inputs["options"], item.gold, option_permutation(variant.order, ctx.seed, item.id)
            )
            patient = item.inputs["patient"]
            own = texts[patient]
            evidence = [own[t] for t in item.inputs["evidence"]]
            rest_own = [own[t] for t in own if t not in item.inputs["evidence"]]
            pool = [doc for p, docs in texts.items() if p != patient for doc in docs.values()]
            runs: list[tuple[str, int, bool]] = [("task1", r, True) for r in range(TASK1_RUNS)]
            runs += [("task2" if r % 2 else "task3", r, bool(r % 2)) for r in range(TASK23_RUNS)]
            for subtask, run, with_evidence in runs:
                options = dict(shown)
                if subtask != "task1":
                    options[UNANSWERABLE] = unanswerable
                render = self._renderer(prompt_texts, item.inputs["question"], options)
                budget = self._budget(
                    self._budget_start(budget_option, subtask, ctx) - self._accounted(item, options, templates, ctx),
                    system, render, ctx, decoding.max_new_tokens,
                )
                draw = rng(ctx.seed, "longhealth", item.id, subtask, run)
                if subtask == "task1":
                    first, then = evidence, rest_own
                else:
                    distractors = draw.sample(pool, min(DISTRACTORS, len(pool)))
                    first, then = (evidence if with_evidence else []), distractors
                docs, cut = pack_documents(first, then, budget, ctx.tokenizer, prompt_texts.join, draw.shuffle)
                gold = item_gold if with_evidence else UNANSWERABLE
                request = Request(
                    id=f"longhealth/{item.id}/{subtask}/{run}{variant.suffix}", messages=render(docs), decoding=decoding
                )
                reference = Reference(
                    request_id=request.id,
                    task=self.name,
                    item_id=item.id,
                    gold=gold,
                    group=item.group,
                    subtask=subtask,
                    inputs={"documents": docs, "question": item.inputs["question"], "options": options},
                    truncated=cut,
                )
                cases.append(Case(request, reference))
        return cases

    def _build_reference(self, items: Sequence[Item], ctx: BuildContext) -> list[Case]:
        """The reference's prompts (eval_LongHealth.py ``create_prompt`` and ``main``), drawn reproducibly.

        Python's ``random`` in the reference's call order, seeded with
        ``seed + q`` before question q's five task-1 prompts (one shuffle each)
        and with ``seed + 100000 + q`` before its ten task-2/3 prompts (a
        distractor sample, then a shuffle, each); q is the question's position
        in file order. Texts as the file has them (whitespace kept), budgets
        counted as ``reference_packing`` says, the gold letter by
        ``options.gold_rule``, joins by ``REFERENCE_JOINS``.
        """
        settings = self.settings(ctx)
        options = settings.options
        templates = ctx.template_set()
        variant = ctx.variant
        system = self.reference_template(templates, "system", ctx).fill_exact({})
        user = self.reference_template(templates, "user", ctx)
        join = self.reference_template(templates, "separator", ctx).fill_exact({})
        unanswerable = self.reference_template(templates, "unanswerable", ctx).fill_exact({})
        # the text create_prompt charged per document (its separator, with " NEW DOCUMENT " between two)
        inner = join.strip("\n") if join.strip("\n") else join
        charged = f"\n\n{inner} NEW DOCUMENT {inner}\n\n"
        template_text = user.text.replace("$$", "\0").replace("${", "{").replace("\0", "$")
        decoding = self.decoding(ctx)
        stop = reference_task1_stop(options, ctx.model)
        count = ctx.tokenizer
        texts = {item.inputs["patient"]: item.inputs["texts"] for item in items}
        budget_option = int(options["budget"])
        cases: list[Case] = []
        for q, item in enumerate(items):
            raw = item.inputs["raw"]
            patient = item.inputs["patient"]
            own = texts[patient]
            evidence = [own[t] for t in item.inputs["evidence"]]
            rest_own = [own[t] for t in own if t not in item.inputs["evidence"]]
            pool = [doc for p, docs in texts.items() if p != patient for doc in docs.values()]
            perm = option_permutation(variant.order, ctx.seed, item.id)
            for subtask_group in ("task1", "task23"):
                draw = random.Random(ctx.seed + q if subtask_group == "task1" else ctx.seed + 100000 + q)
                runs = range(TASK1_RUNS) if subtask_group == "task1" else range(TASK23_RUNS)
                for run in runs:
                    shown = dict(raw["options"])
                    if subtask_group == "task1":
                        subtask, with_evidence = "task1", True
                        first, then = evidence, rest_own
                    else:
                        with_evidence = bool(run % 2)
                        subtask = "task2" if with_evidence else "task3"
                        then = draw.sample(pool, min(DISTRACTORS, len(pool)))
                        first = evidence if with_evidence else []
                        shown[UNANSWERABLE] = unanswerable
                    gold_letter = reference_gold(raw["correct"], shown, options.get("gold_rule", "equal"), item.gold)
                    shown, gold_letter = permute_options(shown, gold_letter, perm)
                    option_lines = "\n".join(f"{letter}: {text}" for letter, text in shown.items())
                    start = budget_option
                    if subtask != "task1" and options.get("budget_task23") == "context" and ctx.context_length:
                        start = ctx.context_length
                    max_len = start - reference_count(count, system)
                    fixed = (reference_count(count, raw["question"]) + reference_count(count, option_lines)
                             + reference_count(count, template_text))
                    docs, cut = reference_packing(first, then, max_len, fixed, charged, count)
                    draw.shuffle(docs)
                    messages = [
                        Message("system", system),
                        Message("user", user.fill_exact(
                            {"documents": join.join(docs), "question_text": raw["question"], "options": option_lines}
                        )),
                    ]
                    reserve = options.get("keep_end_reserve") if subtask == "task1" else None
                    limit = keep_end_limit({"keep_end_reserve": reserve}, ctx.context_length, decoding.max_new_tokens)
                    if limit is not None and settings.truncation == "keep-end":
                        used = prompt_tokens(messages, count)
                        if used > limit:
                            messages, cut = keep_end(messages, used - limit, count), True
                    gold = gold_letter if with_evidence else UNANSWERABLE
                    request = Request(
                        id=f"longhealth/{item.id}/{subtask}/{run}{variant.suffix}", messages=messages,
                        decoding=replace(decoding, stop=stop) if subtask == "task1" and stop else decoding,
                        joins=REFERENCE_JOINS,
                    )
                    reference = Reference(
                        request_id=request.id, task=self.name, item_id=item.id, gold=gold, group=item.group,
                        subtask=subtask, inputs={"documents": docs, "question": raw["question"], "options": shown},
                        truncated=cut,
                    )
                    cases.append(Case(request, reference))
        return cases

    def _texts(self, templates: Templates, ctx: BuildContext) -> LongHealthTexts:
        """The prompt texts: clue's own, or (reference protocols) the reference's, filled as it filled them."""
        if self.settings(ctx).templates == "reference":
            separator = self.reference_template(templates, "separator", ctx).fill_exact({})
            user = self.reference_template(templates, "user", ctx)
            return LongHealthTexts(
                system=self.reference_template(templates, "system", ctx).fill_exact({}),
                separator=separator,
                join=separator,
                unanswerable=self.reference_template(templates, "unanswerable", ctx).fill_exact({}),
                user=lambda documents, question, options: user.fill_exact(
                    {"documents": documents, "question_text": question, "options": options}
                ),
            )
        separator = self.template(templates, "separator").fill()
        user = self.template(templates, "user")
        return LongHealthTexts(
            system=self.template(templates, "system").fill(),
            separator=separator,
            join=f"\n{separator}\n",
            unanswerable=self.template(templates, "unanswerable").fill(),
            user=lambda documents, question, options: user.fill(documents=documents, question=question, options=options),
        )

    def _renderer(
        self, texts: LongHealthTexts, question: str, options: dict[str, str]
    ) -> Callable[[Sequence[str]], list[Message]]:
        option_lines = "\n".join(f"{letter}: {text}" for letter, text in options.items())

        def render(docs: Sequence[str]) -> list[Message]:
            return [Message("system", texts.system), Message("user", texts.user(texts.join.join(docs), question, option_lines))]

        return render

    def _budget_start(self, option: int, subtask: str, ctx: BuildContext) -> int:
        """The budget a prompt starts from: the option, or (clue-2025-01, tasks 2-3) the model's context."""
        if subtask != "task1" and self.settings(ctx).options.get("budget_task23") == "context" and ctx.context_length:
            return ctx.context_length
        return option

    def _accounted(self, item: Item, options: Mapping[str, str], templates: Templates, ctx: BuildContext) -> int:
        """Tokens taken off the budget besides the system prompt: the question, options and template ("prompt")."""
        if self.settings(ctx).options.get("budget_accounting", "system") != "prompt":
            return 0
        option_lines = "\n".join(f"{letter}: {text}" for letter, text in options.items())
        count = ctx.tokenizer.count
        return count(item.inputs["question"]) + count(option_lines) + count(self.template(templates, "user").text)

    @staticmethod
    def _budget(
        option: int, system: str, render: Callable[[Sequence[str]], list[Message]], ctx: BuildContext, max_new_tokens: int
    ) -> int:
        budget = option - ctx.tokenizer.count(system)
        if ctx.context_length is not None:
            room = ctx.context_length - max_new_tokens - prompt_tokens(render([]), ctx.tokenizer)
            budget = min(budget, room)
        return max(budget, 0)

    # -- score ----------------------------------------------------------
    def score(self, reference: Reference, output: str) -> Scored:
        strict = ANSWERS.parse(output, reference)
        lenient = ANSWERS.lenient(output, reference)
        sub = reference.subtask or "task1"
        return Scored(
            request_id=reference.request_id,
            item_id=reference.item_id,
            parsed=strict,
            # each prompt scores its subtask's metric only
            metrics={sub: get_metric(sub).score(strict, reference.gold, output)},
            diagnostics={
                f"{sub}_lenient": float(lenient == reference.gold),
                f"{sub}_unparsed_rate": float(strict is None),
                f"{sub}_answered_f_rate": float(lenient == UNANSWERABLE),
            },
        )

    def answer_orders(self) -> int:
        return OPTION_ORDERS

    def describe(self, protocol: str = "clue") -> dict[str, Any]:
        info = super().describe(protocol)
        info["prompts_per_question"] = {"task1": TASK1_RUNS, "task2": TASK23_RUNS // 2, "task3": TASK23_RUNS // 2}
        return info

    def baseline(self, inputs: Mapping[str, Any]) -> str:
        return baseline.answer(inputs)

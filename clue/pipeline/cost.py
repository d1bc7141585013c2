"""What a run cost and how fast it went: tokens, generation time, GPU-seconds and an optional price.

Two parts, written to two files:

- ``results.json["cost"]`` holds what the answers decide, so it is the same
  however and wherever the run was made (a resumed run, a sweep on Ray or
  Slurm): prompt and completion tokens (from the engine's completion meta where
  the backend records them, else counted with the backend's tokenizer), the GPUs
  the model holds, the price and the token part of the cost.
- ``manifest.json["cost"]`` adds what was measured: generation wall time,
  tokens per second, GPU-seconds (GPUs held x generation time) and the total cost.

A resumed run generates only part of its requests: the speed is measured on
those (``fresh_requests``) and the whole run's generation time is estimated
from it (``extrapolated: true``). A run whose answers all came from the store
(``clue score RUN_DIR``, a repeated ``clue run``) keeps the measured part of
the manifest it replaces.

GPUs held (``gpus_for``) come from the model spec: tensor x pipeline parallel
size for vLLM, one for transformers or llama.cpp on a GPU, none for CPU
specs, the baseline, or a server that clue does not run (``openai:``). A sweep
can state it (``gpus:`` of a model) where the rule cannot know.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from clue.core.errors import UsageError
from clue.core.records import Case, Completion
from clue.core.tokens import Tokenizer

PRICE_KEYS = {
    "gpu_hour": "per GPU-hour",
    "mtok": "per million tokens, prompt and completion alike",
    "prompt_mtok": "per million prompt tokens",
    "completion_mtok": "per million completion tokens",
    "currency": "the currency's name (default USD)",
}
CPU_DEVICES = ("cpu",)


def parse_price(value: str | Mapping[str, Any] | None, where: str = "--price") -> dict[str, Any] | None:
    """A price from ``"gpu_hour=2.5"``, ``"prompt_mtok=0.5,completion_mtok=1.5"`` or a mapping of the same keys.

    ``mtok`` sets both token prices. The result holds only the prices given
    (numbers, never negative) and the currency.
    """
    if value is None or value == "" or value == {}:
        return None
    if isinstance(value, str):
        raw: dict[str, Any] = {}
        for part in value.split(","):
            key, sep, number = part.partition("=")
            if not sep:
                raise UsageError(f"{where}: expected KEY=VALUE pairs ({', '.join(PRICE_KEYS)}), got {part!r}")
            raw[key.strip()] = number.strip()
    elif isinstance(value, Mapping):
        raw = dict(value)
    else:
        raise UsageError(f"{where}: a price is KEY=VALUE pairs or a mapping of {', '.join(PRICE_KEYS)}")
    unknown = sorted(set(raw) - set(PRICE_KEYS))
    if unknown:
        known = "; ".join(f"{k} ({v})" for k, v in PRICE_KEYS.items())
        raise UsageError(f"{where}: unknown price key(s) {', '.join(unknown)}; known: {known}")
    price: dict[str, Any] = {"currency": str(raw.pop("currency", "USD"))}
    if "mtok" in raw:
        both = raw.pop("mtok")
        raw.setdefault("prompt_mtok", both)
        raw.setdefault("completion_mtok", both)
    for key, number in raw.items():
        try:
            amount = float(number)
        except (TypeError, ValueError):
            raise UsageError(f"{where}: {key} must be a number, got {number!r}") from None
        if not math.isfinite(amount) or amount < 0:
            raise UsageError(f"{where}: {key} must be a number of at least 0, got {number!r}")
        price[key] = amount
    if len(price) == 1:
        raise UsageError(f"{where}: give at least one of gpu_hour, mtok, prompt_mtok, completion_mtok")
    return dict(sorted(price.items()))


def _whole(options: Mapping[str, Any], key: str) -> int:
    value = options.get(key, 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        try:
            value = int(str(value))
        except ValueError:
            raise UsageError(f"option {key} must be a whole number of at least 1, got {value!r}") from None
        if value < 1:
            raise UsageError(f"option {key} must be a whole number of at least 1, got {value!r}")
    return int(value)


def gpus_for(spec: str, options: Mapping[str, Any], info: Mapping[str, Any] | None = None) -> int:
    """GPUs a model spec holds while it runs (see the module's doc); ``info`` is the loaded backend's, when known."""
    kind = spec.partition(":")[0] if ":" in spec else spec
    if kind == "vllm":
        if str(options.get("device", "")).lower() in CPU_DEVICES:
            return 0
        return _whole(options, "tensor_parallel_size") * _whole(options, "pipeline_parallel_size")
    if kind == "hf":
        device = str(options.get("device") or (info or {}).get("device") or "auto").lower()
        return 0 if device.startswith(CPU_DEVICES) else 1
    if kind == "llamacpp":
        return 1 if int(options.get("n_gpu_layers", 0) or 0) != 0 else 0
    return 0  # baseline, smollm2 (CPU), openai (the server's GPUs are not held by this run), replays


def prompt_tokens_counted(case: Case, tokenizer: Tokenizer) -> int:
    return sum(tokenizer.count(m.content) for m in case.request.messages)


def token_counts(cases: Sequence[Case], completions: Mapping[str, Completion], tokenizer: Tokenizer) -> dict[str, Any]:
    """Prompt and completion tokens of the answered requests; the engine's counts where it gave them."""
    prompt = completion = engine = counted = 0
    fresh = fresh_completion = 0
    for case in cases:
        c = completions.get(case.id)
        if c is None or not c.ok:
            continue
        p, n = c.meta.get("prompt_tokens"), c.meta.get("completion_tokens")
        if isinstance(p, int) and isinstance(n, int) and not isinstance(p, bool) and not isinstance(n, bool):
            engine += 1
        else:
            p, n = prompt_tokens_counted(case, tokenizer), tokenizer.count(c.text or "")
            counted += 1
        prompt += p
        completion += n
        if not c.meta.get("stored"):
            fresh += 1
            fresh_completion += n
    return {
        "requests": engine + counted, "prompt_tokens": prompt, "completion_tokens": completion,
        "counted_by": {"engine": engine, "tokenizer": counted, "tokenizer_name": tokenizer.name},
        "_fresh": fresh, "_fresh_completion_tokens": fresh_completion,
    }


def token_cost(tokens: Mapping[str, Any], price: Mapping[str, Any] | None) -> float | None:
    if not price or ("prompt_mtok" not in price and "completion_mtok" not in price):
        return None
    return (tokens["prompt_tokens"] * price.get("prompt_mtok", 0.0)
            + tokens["completion_tokens"] * price.get("completion_mtok", 0.0)) / 1e6


def cost_parts(
    cases: Sequence[Case],
    completions: Mapping[str, Completion],
    tokenizer: Tokenizer,
    *,
    gpus: int,
    price: Mapping[str, Any] | None,
    generation_s: float,
    previous: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(results.json's cost, manifest.json's cost); ``previous``: the manifest cost this run replaces."""
    tokens = token_counts(cases, completions, tokenizer)
    fresh, fresh_completion = tokens.pop("_fresh"), tokens.pop("_fresh_completion_tokens")
    stable: dict[str, Any] = {**tokens, "gpus": gpus, "price": dict(price) if price else None,
                              "token_cost": _round(token_cost(tokens, price))}
    measured: dict[str, Any]
    if fresh:
        whole_s = generation_s * tokens["requests"] / fresh
        measured = {
            "generation_s": round(whole_s, 3),
            "measured_s": round(generation_s, 3),
            "fresh_requests": fresh,
            "extrapolated": fresh < tokens["requests"],
            "tokens_per_s": round(fresh_completion / generation_s, 3) if generation_s > 0 else None,
        }
    elif previous and previous.get("requests") == tokens["requests"] and previous.get("generation_s") is not None:
        measured = {k: previous.get(k) for k in ("generation_s", "measured_s", "fresh_requests", "extrapolated", "tokens_per_s")}
        measured["carried_over"] = True
    else:
        measured = {"generation_s": None, "measured_s": None, "fresh_requests": 0, "extrapolated": False, "tokens_per_s": None}
    seconds = measured["generation_s"]
    gpu_s = None if seconds is None else round(gpus * seconds, 3)
    gpu_cost = None
    if price and "gpu_hour" in price and gpu_s is not None:
        gpu_cost = gpu_s / 3600.0 * price["gpu_hour"]
    parts = [x for x in (stable["token_cost"], gpu_cost) if x is not None]
    full = {**stable, **measured, "gpu_seconds": gpu_s, "gpu_hours": None if gpu_s is None else round(gpu_s / 3600.0, 6),
            "gpu_cost": _round(gpu_cost), "total_cost": _round(sum(parts)) if parts else None}
    return stable, full


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)

"""Bias probes reported with every judged score (docs/judges.md, "Bias probes").

- verbosity: how the judged value depends on the answer's length: the least-squares
  slope per 100 words, Spearman's rho, and a matched comparison: items binned by the
  task's reference overlap (ROUGE-L, a quality proxy that does not read length as merit),
  and in each bin the mean judged value of the answers longer than the bin's median
  length minus that of the shorter ones, averaged over bins;
- self-preference: a judge from the judged model's family is flagged, and the jury's
  score without the flagged judges shown beside it;
- spread: the mean, over items, of the range of the jury's scores (1..5).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

SCALE = (1, 5)  # the rubrics' scale


def combine(scores: list[tuple[int, float]], how: str) -> float:
    """The jury's 1..5 score from (score, weight) pairs."""
    if how == "median":
        return float(statistics.median([s for s, _ in scores]))
    if how == "majority":
        votes: dict[int, float] = {}
        for s, w in scores:
            votes[s] = votes.get(s, 0.0) + w
        best = max(votes.values())
        return float(statistics.median([s for s, v in votes.items() if v == best]))
    total = sum(w for _, w in scores)
    return sum(s * w for s, w in scores) / total


FAMILIES = ("llama", "qwen", "mistral", "mixtral", "gemma", "phi", "gpt", "claude", "smollm", "deepseek", "olmo",
            "biomistral", "meditron", "openbiollm", "falcon", "yi")


def family(spec: str) -> str | None:
    """The model family a spec names (``openai:meta-llama/Llama-3.1-8B`` -> llama), or None when unknown."""
    name = spec.split(":", 1)[-1].rsplit("/", 1)[-1].lower()
    name = re.sub(r"[^a-z0-9]+", "", name)
    for known in sorted(FAMILIES, key=len, reverse=True):
        if name.startswith(known) or known in name:
            return known
    return None


def _ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def _pearson(x: Sequence[float], y: Sequence[float]) -> float | None:
    if len(x) < 3:
        return None
    mx, my = statistics.fmean(x), statistics.fmean(y)
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    if sxx == 0 or syy == 0:
        return None
    return sum((a - mx) * (b - my) for a, b in zip(x, y)) / (sxx * syy) ** 0.5


def verbosity(lengths: Sequence[int], values: Sequence[float], quality: Sequence[float] | None, bins: int = 4) -> dict[str, Any]:
    """The judged value's dependence on answer length (words), over the items with a judged value."""
    n = len(values)
    out: dict[str, Any] = {"n": n, "slope_per_100_words": None, "spearman": None, "matched_long_minus_short": None}
    if n < 3:
        return out
    mx, my = statistics.fmean(lengths), statistics.fmean(values)
    sxx = sum((x - mx) ** 2 for x in lengths)
    if sxx > 0:
        out["slope_per_100_words"] = 100 * sum((x - mx) * (y - my) for x, y in zip(lengths, values)) / sxx
    out["spearman"] = _pearson(_ranks([float(v) for v in lengths]), _ranks(values))
    order = sorted(range(n), key=lambda i: quality[i]) if quality is not None else list(range(n))
    size = max(2, n // bins)
    diffs = []
    for start in range(0, n, size):
        members = order[start:start + size]
        if len(members) < 2:
            continue
        median = statistics.median(lengths[i] for i in members)
        long = [values[i] for i in members if lengths[i] > median]
        short = [values[i] for i in members if lengths[i] <= median]
        if long and short:
            diffs.append(statistics.fmean(long) - statistics.fmean(short))
    out["matched_long_minus_short"] = statistics.fmean(diffs) if diffs else None
    out["matched_on"] = "rougeL" if quality is not None else "nothing (no ROUGE-L)"
    return out


def probes(judged_model: str, judges: Sequence[Any], how: str, per_item: Mapping[str, Mapping[str, Any]],
           answers: Mapping[str, str], quality: Mapping[str, float], criteria: Sequence[str]) -> dict[str, Any]:
    """The three probes for one task; ``per_item``: request id -> the rows' judge records."""
    model_family = family(judged_model)
    flagged = [j.label for j in judges if model_family is not None and family(j.spec) == model_family]
    out: dict[str, Any] = {"verbosity": {}, "spread": {},
                           "self_preference": {"judged_family": model_family, "flagged_judges": flagged,
                                               "score_without_flagged": None}}
    without: list[float] = []
    for criterion in criteria:
        key = f"judge_{criterion}"
        ids = [rid for rid, rec in per_item.items() if rec.get(key, {}).get("value") is not None]
        lengths = [len(answers[rid].split()) for rid in ids]
        values = [float(per_item[rid][key]["value"]) for rid in ids]
        have_quality = bool(ids) and all(rid in quality for rid in ids)
        out["verbosity"][key] = verbosity(lengths, values, [quality[rid] for rid in ids] if have_quality else None)
        spreads = [per_item[rid][key]["spread"] for rid in ids]
        out["spread"][key] = statistics.fmean(spreads) if spreads else None
        if flagged:
            kept = [j for j in judges if j.label not in flagged]
            scores = []
            for rid in ids:
                votes = [(per_item[rid][key]["judges"][j.label]["score"], j.weight) for j in kept]
                if kept and all(s is not None for s, _ in votes):
                    scores.append((combine(votes, how) - SCALE[0]) / (SCALE[1] - SCALE[0]))
            if scores:
                without.append(statistics.fmean(scores))
    if flagged and without and len(without) == len(criteria):
        out["self_preference"]["score_without_flagged"] = statistics.fmean(without)
    return out

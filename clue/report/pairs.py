"""Biomedical models against their bases: the comparison the study is about.

A pairs file (TOML or YAML) names each biomedical model and its base::

    [aliases]                      # optional: other names a model goes by
    "llama2-7b" = ["Llama-2-7b"]

    [[pair]]
    biomedical = "meditron-7b"
    base = "llama2-7b"
    note = "continued pre-training"   # optional, shown in the table

``--pairs clue`` is the study's 12 pairs (``presets/clue_pairs.toml``).

For every pair whose two models are among the runs, ``clue.report.compare``
compares them on the same items (delta = biomedical - base, paired bootstrap
95% interval, p-value, McNemar for accuracy tasks). Pairs found among the
published rows get their deltas too, without intervals: the study published
single runs and no item-level outputs. The headline counts how many
biomedical models score below their base, and how many of those
significantly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from clue.core.errors import UsageError
from clue.core.files import write_json
from clue.core.seeding import DEFAULT_SEED
from clue.formats.config import parse_mapping, read_mapping
from clue.report.compare import Comparison, compare_runs, variant_words
from clue.report.leaderboard import Entry, differences, name_key, tasks_present
from clue.report.tables import csv_text, md_text, write_text
from clue.report.taskinfo import level_order, level_title, task_title
from clue.stats.exact import degenerate
from clue.stats.meta import adjust

PRESETS = {"clue": "clue_pairs.toml"}
MINUS = "\u2212"


@dataclass(frozen=True)
class Pair:
    biomedical: str
    base: str
    note: str | None = None


@dataclass
class PairSet:
    pairs: list[Pair]
    aliases: dict[str, list[str]] = field(default_factory=dict)
    source: str = ""

    def names_of(self, name: str) -> set[str]:
        """``name`` and its aliases, normalised."""
        names = {name_key(name)}
        for canonical, others in self.aliases.items():
            group = {name_key(canonical), *(name_key(o) for o in others)}
            if names & group:
                names |= group
        return names


def load_pairs(spec: str | Path) -> PairSet:
    """A pairs file, or the name of a shipped preset (``clue``)."""
    if str(spec) in PRESETS:
        text = (resources.files("clue.report") / "presets" / PRESETS[str(spec)]).read_text(encoding="utf-8")
        data, where = parse_mapping(text, "toml", f"preset {spec!r}"), f"preset {spec!r}"
    else:
        path = Path(spec)
        if not path.is_file():
            raise UsageError(f"--pairs: no file {path} (and no preset of that name; presets: {', '.join(PRESETS)})")
        data, where = read_mapping(path, "pairs file"), str(path)
    return parse_pairs(data, where)


def parse_pairs(data: Mapping[str, Any], where: str) -> PairSet:
    unknown = sorted(set(data) - {"pair", "aliases"})
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {', '.join(unknown)}; a pairs file has [[pair]] and [aliases]")
    raw_pairs = data.get("pair") or []
    if not isinstance(raw_pairs, list) or not raw_pairs:
        raise UsageError(f"{where}: no pairs; add [[pair]] tables with biomedical = ... and base = ...")
    pairs = []
    for i, raw in enumerate(raw_pairs, start=1):
        if not isinstance(raw, Mapping) or not raw.get("biomedical") or not raw.get("base"):
            raise UsageError(f"{where}: pair {i} needs both 'biomedical' and 'base'")
        extra = sorted(set(raw) - {"biomedical", "base", "note"})
        if extra:
            raise UsageError(f"{where}: pair {i}: unknown key(s) {', '.join(extra)}")
        pairs.append(Pair(str(raw["biomedical"]), str(raw["base"]), raw.get("note")))
    aliases_raw = data.get("aliases") or {}
    if not isinstance(aliases_raw, Mapping):
        raise UsageError(f"{where}: [aliases] maps a name to a list of other names")
    aliases = {str(k): [str(v) for v in (vals if isinstance(vals, list) else [vals])] for k, vals in aliases_raw.items()}
    return PairSet(pairs, aliases, where)


# -- matching pairs to entries ----------------------------------------------------------------
def find_entry(pairset: PairSet, name: str, entries: Sequence[Entry]) -> Entry | None:
    wanted = pairset.names_of(name)
    found = [e for e in entries if e.aliases() & wanted]
    if len(found) > 1:
        where = ", ".join(str(e.path or e.name) for e in found)
        raise UsageError(f"pairs: {name!r} matches {len(found)} entries ({where}); report one run per model")
    return found[0] if found else None


@dataclass
class PairResult:
    pair: Pair
    source: str  # "runs" | "published"
    biomedical: Entry
    base: Entry
    comparison: Comparison | None = None  # compare_runs(base, biomedical), runs only
    apart: str = ""  # why the two were not scored alike (then nothing is compared)

    def cell(self, what: str) -> dict[str, Any]:
        """delta (biomedical - base), interval and p-value for a task or level."""
        if self.apart:
            return {}
        is_level = what in level_order()
        if self.comparison is not None:
            part = (self.comparison.levels if is_level else self.comparison.tasks).get(what)
            if not part or part.get("available") is False or part.get("delta") is None:
                return {}
            mcnemar = {m: t["p_value"] for m, t in (part.get("mcnemar") or {}).items()}
            return {
                "score_base": part["score_a"], "score_biomedical": part["score_b"], "delta": part["delta"],
                "ci": part.get("ci"), "p_value": part.get("p_value"), "significant": bool(part.get("significant")),
                "mcnemar_p": mcnemar or None, "n_paired": part.get("n_paired"),
                "complete": part.get("complete"), "variants": part.get("variants"),
                "se": part.get("se"), "test": part.get("test"), "withheld": part.get("withheld"),
                "ci_degenerate": bool(part.get("ci_degenerate")),
            }
        a = self.base.level(what) if is_level else task_score(self.base, what)
        b = self.biomedical.level(what) if is_level else task_score(self.biomedical, what)
        if a is None or b is None:
            return {}
        return {"score_base": a, "score_biomedical": b, "delta": b - a, "ci": None, "p_value": None,
                "significant": None, "mcnemar_p": None, "n_paired": None, "complete": True,
                "se": None, "test": None, "withheld": None, "ci_degenerate": False}


def task_score(entry: Entry, task: str) -> float | None:
    summary = entry.task(task)
    return summary.score if summary else None


def match_pairs(pairset: PairSet, entries: Sequence[Entry]) -> list[PairResult]:
    """Pairs with both models present: among the runs, and among the published rows."""
    out = []
    for source, pool in (("runs", [e for e in entries if not e.published]),
                         ("published", [e for e in entries if e.published])):
        for pair in pairset.pairs:
            bio, base = find_entry(pairset, pair.biomedical, pool), find_entry(pairset, pair.base, pool)
            if bio is not None and base is not None:
                apart = "; ".join(differences(bio, base))
                out.append(PairResult(pair, source, bio, base, apart=apart))
    return out


def compare_pairs(
    pairset: PairSet, entries: Sequence[Entry], *, seed: int = DEFAULT_SEED, n_resamples: int = 10000
) -> list[PairResult]:
    results = match_pairs(pairset, entries)
    for r in results:
        if r.source == "runs" and not r.apart:
            assert r.base.path is not None and r.biomedical.path is not None
            r.comparison = compare_runs(r.base.path, r.biomedical.path, seed=seed, n_resamples=n_resamples)
    return results


# -- adjusting for the number of tests -----------------------------------------------------------
ALPHA = 0.05
FAMILIES = ("task", "level")  # each adjusted on its own: a level's test repeats its tasks' items


def adjusted_p(results: Sequence[PairResult]) -> dict[tuple[int, str], dict[str, Any]]:
    """Holm and Benjamini-Hochberg adjusted p-values of every test made on your runs' pairs.

    Two families, each over every pair: the task tests (6 tasks x 12 pairs = 72
    for the study) and the level tests (level 1, level 2, overall). A cell with
    no test (too few items, not compared) is not counted. Keyed by
    (index of the pair result, task or level).
    """
    levels = set(level_order())
    out: dict[tuple[int, str], dict[str, Any]] = {}
    for family in FAMILIES:
        keys, ps = [], []
        for i, r in enumerate(results):
            if r.source != "runs" or r.comparison is None:
                continue
            part = r.comparison.levels if family == "level" else r.comparison.tasks
            for what, cell in part.items():
                if (what in levels) != (family == "level"):
                    continue
                p = cell.get("p_value")
                if p is not None and p == p and not cell.get("withheld"):
                    keys.append((i, what))
                    ps.append(float(p))
        holm, bh = adjust(ps, ALPHA) if ps else ([], [])
        for key, h, b in zip(keys, holm, bh):
            ci = results[key[0]].cell(key[1]).get("ci")
            out[key] = {"p_holm": h, "p_bh": b, "n_tests": len(ps), "family": family,
                        # a verdict needs the adjusted p and an interval of non-zero width on the same side
                        "significant_holm": h is not None and h < ALPHA and not degenerate(ci),
                        "significant_bh": b is not None and b < ALPHA and not degenerate(ci)}
    return out


# -- tables ----------------------------------------------------------------------------------
def pair_rows(results: Sequence[PairResult]) -> list[dict[str, Any]]:
    entries = [e for r in results for e in (r.base, r.biomedical)]
    columns = [*tasks_present(entries), *level_order()]
    adjusted = adjusted_p(results)
    rows = []
    for index, r in enumerate(results):
        for what in columns:
            cell = r.cell(what)
            if not cell:
                continue
            adj = adjusted.get((index, what), {})
            ci = cell.get("ci")
            rows.append({
                "biomedical": r.biomedical.name, "base": r.base.name, "source": r.source, "note": r.pair.note,
                "what": what, "kind": "level" if what in level_order() else "task",
                "score_base": cell["score_base"], "score_biomedical": cell["score_biomedical"],
                "delta": cell["delta"], "ci_low": ci[0] if ci else None, "ci_high": ci[1] if ci else None,
                "p_value": cell["p_value"], "significant": cell["significant"],
                "mcnemar_p": cell["mcnemar_p"], "n_paired": cell["n_paired"], "complete": cell["complete"],
                "test": cell.get("test"), "withheld": cell.get("withheld"), "se": cell.get("se"),
                "ci_degenerate": cell.get("ci_degenerate"),
                "p_holm": adj.get("p_holm"), "p_bh": adj.get("p_bh"), "n_tests": adj.get("n_tests"),
                "significant_holm": adj.get("significant_holm") if r.source == "runs" else None,
                "significant_bh": adj.get("significant_bh") if r.source == "runs" else None,
                **variant_columns(cell.get("variants")),
            })
    return rows


def variant_columns(v: Mapping[str, Any] | None) -> dict[str, Any]:
    """The pair's difference across prompt variants (both runs made with ``clue run --variants``)."""
    if not v:
        return dict.fromkeys(VARIANT_FIELDS)
    ci = v.get("ci")
    return {
        "n_variants": v["n_variants"], "variant_delta": v["delta"],
        "variant_ci_low": ci[0] if ci else None, "variant_ci_high": ci[1] if ci else None,
        "variant_p_value": v["p_value"], "variant_significant": v["significant"],
        "sign_share": v["sign_share"], "variant_pattern": v["pattern"],
        "variant_verdict": variant_words(v["pattern"], v.get("varies") or [], "its base"),
    }


VARIANT_FIELDS = ("n_variants", "variant_delta", "variant_ci_low", "variant_ci_high", "variant_p_value",
                  "variant_significant", "sign_share", "variant_pattern", "variant_verdict")


def headline(results: Sequence[PairResult], source: str = "runs") -> list[dict[str, Any]]:
    """Per level: k of n biomedical models below their base, m of them significantly."""
    lines = []
    adjusted = adjusted_p(results)
    chosen = [(i, r) for i, r in enumerate(results) if r.source == source]
    for level in ("overall", "level1", "level2"):
        cells = [(i, r.cell(level)) for i, r in chosen]
        cells = [(i, c) for i, c in cells if c]
        if not cells:
            continue
        below = [(i, c) for i, c in cells if c["delta"] < 0]
        sig = [c for i, c in below if adjusted.get((i, level), {}).get("significant_holm")] if source == "runs" else None
        withheld = sum(1 for _, c in cells if c.get("withheld"))
        text = f"{level_title(level)}: {len(below)} of {len(cells)} biomedical models score below their base"
        if sig is not None:
            n_tests = next((a["n_tests"] for (i, w), a in adjusted.items() if w == level), 0)
            text += ((f", {len(sig)} of them significantly (Holm-adjusted p < {ALPHA} over the {n_tests} level "
                      "test(s) made)") if n_tests else ", none tested") + (
                f"; {withheld} too small for a verdict." if withheld else ".")
        else:
            text += " (published single runs: no intervals)."
        line: dict[str, Any] = {"level": level, "source": source, "n": len(cells), "below": len(below),
                                "significant": None if sig is None else len(sig), "withheld": withheld,
                                "adjustment": "holm" if source == "runs" else None}
        across = [c["variants"] for _, c in cells if c.get("variants")]
        if across:
            every = sum(v["pattern"] == "below" for v in across)
            mixed = sum(v["pattern"] == "mixed" for v in across)
            line["variants"] = {"n": len(across), "below_in_every": every, "depends": mixed}
            text += (f" Across prompt variants: {every} of {len(across)} below their base in every variant, "
                     f"{mixed} depending on the variant.")
        line["text"] = text
        lines.append(line)
    return lines


def fmt_delta(delta: float | None, ci: Sequence[float] | None = None) -> str:
    if delta is None:
        return "–"
    text = f"{delta:+.2f}".replace("-", MINUS)
    if ci:
        text += f" [{ci[0]:+.1f}, {ci[1]:+.1f}]".replace("-", MINUS)
    return text


def fmt_p(p: float | None) -> str:
    if p is None or p != p:
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def pairs_markdown(results: Sequence[PairResult], pooled: Mapping[str, Any] | None = None) -> str:
    lines = ["# Biomedical models against their bases", ""]
    for source in ("runs", "published"):
        for h in headline(results, source):
            lines.append(f"- **{'Your runs' if source == 'runs' else 'Published'}**: {h['text']}")
    for key, who in (("verdict", "Your runs, pooled"), ("published_verdict", "Published, pooled")):
        if pooled and pooled.get(key):
            lines += ["", f"**{who}.** {md_text(pooled[key])}"]
    if not results:
        lines.append("No pair has both of its models among the runs or published rows.")
    rows = pair_rows(results)
    with_variants = any(row["n_variants"] for row in rows)
    lines += ["", "delta = biomedical − base in points; [95% paired bootstrap interval]; p two-sided."
              + (" Across variants: the mean delta over prompt variants [95% interval resampling items and variants],"
                 " the variants in which its sign holds, and the verdict." if with_variants else ""), "",
              "| biomedical | base | source | task / level | base | biomedical | delta [95% CI] | p | p Holm | p BH "
              "| McNemar p |" + (" across variants |" if with_variants else ""),
              "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|" + ("---|" if with_variants else "")]
    for row in rows:
        ci = None if row["ci_low"] is None else (row["ci_low"], row["ci_high"])
        what = md_text(level_title(row["what"]) if row["kind"] == "level" else task_title(row["what"]))
        mcn = ", ".join(f"{k} {fmt_p(v)}" for k, v in (row["mcnemar_p"] or {}).items()) or "–"
        delta = fmt_delta(row["delta"], ci) + (" ✱" if row["significant_holm"] else "")
        if row["withheld"]:
            delta = fmt_delta(row["delta"]) + " (too few)"
        elif row["ci_degenerate"]:
            delta += " (zero width)"
        line = (f"| {md_text(row['biomedical'])} | {md_text(row['base'])} | {row['source']} | {what} | {row['score_base']:.2f} | "
                f"{row['score_biomedical']:.2f} | {delta} | {fmt_p(row['p_value'])}{' e' if exact(row) else ''} | "
                f"{fmt_p(row['p_holm'])} | {fmt_p(row['p_bh'])} | {mcn} |")
        if with_variants:
            line += f" {fmt_variants(row)} |"
        lines.append(line)
    lines += ["", f"✱ significant after adjusting for the number of tests: Holm-adjusted p < {ALPHA} (p BH: "
              "Benjamini-Hochberg, false discovery rate; task and level tests adjusted as two families). "
              "e: exact sign-flip test (20 units or fewer). (too few): fewer than 10 paired items "
              "(5 patients): no interval, no test."]
    apart = [r for r in results if r.apart]
    if apart:
        lines += ["", "Not compared (the two were not scored on the same data under the same protocol):", ""]
        lines += [f"- {md_text(r.biomedical.name)} vs {md_text(r.base.name)} ({r.source}): {md_text(r.apart)}" for r in apart]
    return "\n".join(lines) + "\n"


def exact(row: Mapping[str, Any]) -> bool:
    return str(row.get("test") or "").startswith("exact")


def fmt_variants(row: Mapping[str, Any]) -> str:
    """"−2.10 [−4.0, −0.3] ✱, 4/4: below its base in every wording" (– without variants)."""
    if not row.get("n_variants"):
        return "–"
    ci = None if row["variant_ci_low"] is None else (row["variant_ci_low"], row["variant_ci_high"])
    text = fmt_delta(row["variant_delta"], ci) + (" ✱" if row["variant_significant"] else "")
    share = row["sign_share"]
    held = "" if share is None else f", {round(share * row['n_variants'])}/{row['n_variants']}"
    return f"{text}{held}: {row['variant_verdict']}"


def pairs_csv(results: Sequence[PairResult]) -> str:
    header = ["biomedical", "base", "source", "what", "kind", "score_base", "score_biomedical", "delta",
              "ci_low", "ci_high", "p_value", "significant", "n_paired", "complete", "note", *VARIANT_FIELDS,
              "test", "withheld", "se", "p_holm", "p_bh", "significant_holm", "significant_bh"]
    return csv_text(header, pair_rows(results))


def pairs_json(results: Sequence[PairResult], pooled: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """pairs.json; ``pooled``: the section ``clue.report.pooled.pooled_section`` computes from the same results."""
    return {
        "schema": "clue.pairs/1",
        "headline": [*headline(results, "runs"), *headline(results, "published")],
        "rows": pair_rows(results),
        "not_compared": [{"biomedical": r.biomedical.name, "base": r.base.name, "source": r.source, "reason": r.apart}
                         for r in results if r.apart],
        "comparisons": [
            {"biomedical": r.biomedical.name, "base": r.base.name, "verdicts": r.comparison.verdicts,
             "variant_verdicts": r.comparison.variant_verdicts, "warnings": r.comparison.warnings}
            for r in results if r.comparison is not None
        ],
        **({"pooled": dict(pooled)} if pooled is not None else {}),
    }


def write_pairs(results: Sequence[PairResult], out: Path, pooled: Mapping[str, Any] | None = None) -> dict[str, Path]:
    out = Path(out)
    write_json(out / "pairs.json", pairs_json(results, pooled))
    return {
        "pairs.md": write_text(out / "pairs.md", pairs_markdown(results, pooled)),
        "pairs.csv": write_text(out / "pairs.csv", pairs_csv(results)),
        "pairs.json": out / "pairs.json",
    }

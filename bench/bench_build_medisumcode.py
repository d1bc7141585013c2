"""Benchmark: build MeDiSumCode from synthetic tables of MIMIC-IV size.

    python bench/bench_build_medisumcode.py [--notes 330000] [--rows 5000000] [--cache /tmp/clue-bench-mimic]

Generates (once, cached) a gzipped ``discharge.csv.gz`` of 330k invented
notes of ~10k characters each (MIMIC-IV-Note has ~330k, ~1.3 GB compressed)
and a ``diagnoses_icd.csv.gz`` of 5M rows (ICD-9 and ICD-10, codes with
leading zeros), then runs ``clue data build medisumcode`` on them in a child
process and prints its wall time and peak resident memory. Target on a
2-core machine: under 2 minutes and under 2 GB. No MIMIC text is involved.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

WORDS = (
    "patient admitted with fever cough dyspnea chest pain abdominal renal hepatic cardiac pulmonary "
    "treated antibiotics diuretics insulin heparin aspirin metoprolol lisinopril furosemide normal saline "
    "improved stable discharged follow up clinic labs creatinine sodium potassium hemoglobin platelets "
    "imaging ct chest x-ray ultrasound echocardiogram ejection fraction history hypertension diabetes "
    "hyperlipidemia atrial fibrillation heart failure copd pneumonia sepsis acute kidney injury"
).split()


def vocabulary(rnd: random.Random, size: int = 20000) -> list[str]:
    # Invented words as well as clinical ones, so the text compresses about as well as real notes (~2.5x).
    letters = "abcdefghijklmnopqrstuvwxyz"
    return WORDS + ["".join(rnd.choices(letters, k=rnd.randint(3, 10))) for _ in range(size)]


ZIPF: list[float] = []


def zipf_weights(size: int) -> list[float]:
    """Cumulative weights 1/rank: a few words are common, most are rare, as in real text."""
    total, cumulative = 0.0, []
    for rank in range(1, size + 1):
        total += 1.0 / rank
        cumulative.append(total)
    return cumulative


def paragraph(rnd: random.Random, vocab: list[str]) -> str:
    lines = []
    for _ in range(rnd.randint(4, 9)):
        words = rnd.choices(vocab, cum_weights=ZIPF, k=rnd.randint(8, 16))
        if rnd.random() < 0.2:
            words.insert(rnd.randrange(len(words)), "___")
        lines.append(" ".join(words).capitalize() + ".")
    return "\n".join(lines)


def generate(folder: Path, notes: int, rows: int, seed: int = 0) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    notes_path, dx_path = folder / "discharge.csv.gz", folder / "diagnoses_icd.csv.gz"
    done = folder / f"done-{notes}-{rows}"
    if done.exists():
        return notes_path, dx_path
    rnd = random.Random(seed)
    vocab = vocabulary(rnd)
    ZIPF[:] = zipf_weights(len(vocab))
    pool = [paragraph(rnd, vocab) for _ in range(3000)]
    started = time.perf_counter()
    with gzip.open(notes_path, "wt", encoding="utf-8", newline="", compresslevel=6) as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["note_id", "subject_id", "hadm_id", "note_type", "note_seq", "charttime", "storetime", "text"])
        for i in range(notes):
            body = "\n \n".join(rnd.choices(pool, k=20))
            text = (
                f" \nName:  ___   Unit No:   ___\n \nService: MEDICINE\n \n{body}\n \n \n"
                "Discharge Instructions:\nDear Mr. ___,\nYou were admitted to the hospital for a synthetic reason.\n"
                f"{rnd.choice(pool)}\nIt was a pleasure caring for you.\n \n \nFollowup Instructions:\n___\n"
            )
            writer.writerow([f"{10000000 + i}-DS-1", 10000000 + i, 20000000 + i, "DS", 1, "2180-01-01", "2180-01-02", text])
    print(f"generated {notes} notes in {time.perf_counter() - started:.0f} s ({notes_path.stat().st_size / 1e9:.2f} GB)")

    started = time.perf_counter()
    icd9 = ["0389", "4019", "25000", "V1582", "E8718", "42731", "5849", "2724", "0088", "99999"]
    icd10 = ["I10", "E119", "N179", "A419", "J189", "Z87891", "I4891", "E785", "Q999999"]
    admissions = int(notes * 1.3)  # diagnoses cover more admissions than have discharge notes
    with gzip.open(dx_path, "wt", encoding="utf-8", newline="", compresslevel=6) as fh:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["subject_id", "hadm_id", "seq_num", "icd_code", "icd_version"])
        for r in range(rows):
            hadm = 20000000 + rnd.randrange(admissions)
            if rnd.random() < 0.5:
                writer.writerow([hadm - 10000000, hadm, r % 20 + 1, rnd.choice(icd9), 9])
            else:
                writer.writerow([hadm - 10000000, hadm, r % 20 + 1, rnd.choice(icd10), 10])
            if r % 100000 == 0:
                fh.write(buffer.getvalue())
                buffer.seek(0), buffer.truncate()
        fh.write(buffer.getvalue())
    print(f"generated {rows} diagnosis rows in {time.perf_counter() - started:.0f} s ({dx_path.stat().st_size / 1e6:.0f} MB)")
    done.touch()
    return notes_path, dx_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=330_000)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("-n", type=int, default=500)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/clue-bench-mimic"))
    args = parser.parse_args()
    notes, dx = generate(args.cache, args.notes, args.rows)
    out = args.cache / "medisumcode.json"
    command = [sys.executable, "-m", "clue.cli", "data", "build", "medisumcode", "--notes", str(notes),
               "--diagnoses", str(dx), "-n", str(args.n), "--out", str(out)]
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"build failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_kib = usage.ru_maxrss  # KiB on Linux: the largest child (the build; gzip -dc is small)
    print(proc.stdout.strip())
    print(f"inputs: {notes.stat().st_size / 1e9:.2f} GB notes ({args.notes} notes), "
          f"{dx.stat().st_size / 1e6:.0f} MB diagnoses ({args.rows} rows)")
    print(f"build: {wall:.1f} s wall, peak RSS {peak_kib / 1024:.0f} MiB (target: < 120 s, < 2048 MiB)")
    # CPU seconds (the build and its gzip -dc child) stay meaningful when other work shares the cores.
    print(f"cpu: {usage.ru_utime + usage.ru_stime:.1f} s user+sys; load average {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after (2 cores: above ~2 means the wall time includes waiting)")


if __name__ == "__main__":
    main()

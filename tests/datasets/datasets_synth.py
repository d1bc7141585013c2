"""Synthetic MIMIC-IV-format tables for the dataset tests (no MIMIC text: all invented here).

Notes follow the real layout: de-identification marks ``___``, sections
separated by blank lines, a "Discharge Instructions" paragraph after two blank
lines, "It was a pleasure" and "Followup Instructions" at the end.
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass, field
from pathlib import Path

NOTE_HEADER = ["note_id", "subject_id", "hadm_id", "note_type", "note_seq", "charttime", "storetime", "text"]
DX_HEADER = ["subject_id", "hadm_id", "seq_num", "icd_code", "icd_version"]


@dataclass
class Admission:
    hadm_id: str
    subject_id: str
    complaint: str
    facts: list[str]  # statements in the patient letter, one per line
    diagnoses: list[tuple[int, str, int]] = field(default_factory=list)  # (seq_num, icd_code, version)
    patient_letter: bool = True


def note_text(adm: Admission) -> str:
    lines = [
        " ",
        "Name:  ___                     Unit No:   ___",
        " ",
        "Admission Date:  ___              Discharge Date:   ___",
        " ",
        "Service: MEDICINE",
        " ",
        "Chief Complaint:",
        adm.complaint,
        " ",
        "History of Present Illness:",
        f"Ms. ___ is a ___ year old woman who presented with {adm.complaint}.",
        " ",
        "Discharge Diagnosis:",
        adm.complaint,
        " ",
        " ",
        "Discharge Instructions:",
        "Dear Ms. ___,",
        "",
    ]
    if adm.patient_letter:
        lines.append("You were admitted to the hospital because of " + adm.complaint + ".")
    else:
        lines.append("Please follow the medication list below.")
    lines += [*adm.facts, "Please call Dr. ___ at ___ with questions.", "",
              "It was a pleasure taking care of you.", "Your ___ Care Team", " ", " ",
              "Followup Instructions:", "___", ""]
    return "\n".join(lines)


def admissions(count: int = 12) -> list[Admission]:
    complaints = ["fever", "chest pain", "shortness of breath", "abdominal pain", "confusion", "a fall"]
    out = []
    for i in range(count):
        hadm = str(20000000 + i)
        facts = [
            f"You were treated with antibiotics number {i} for an infection.",
            f"Your kidney function improved during stay {i}.",
            f"We started a new blood pressure medicine called drug{i}.",
        ]
        dx = [
            (2, "4019", 9),      # hypertension -> I10
            (1, "0389", 9),      # septicemia, leading zero -> A419
            (3, "E119", 10),     # ICD-10 as is
            (4, "V1582", 9),     # history of tobacco -> Z87891
        ] if i % 2 == 0 else [
            (1, "I10", 10),
            (2, "N179", 10),
            (3, "E8718", 9),     # GEM says no mapping (NoDx)
            (4, "99999", 9),     # not an ICD-9 code in the GEM: unknown
        ]
        out.append(Admission(hadm, str(10000000 + i), complaints[i % len(complaints)], facts, dx, patient_letter=i % 4 != 3))
    return out


def write_csv(path: Path, header: list[str], rows: list[list[str]], gz: bool) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    data = buffer.getvalue().encode("utf-8")
    if gz:
        path.write_bytes(gzip.compress(data, mtime=0))
    else:
        path.write_bytes(data)
    return path


def write_tables(folder: Path, adms: list[Admission], gz: bool = True) -> tuple[Path, Path]:
    suffix = ".csv.gz" if gz else ".csv"
    notes = [
        [f"{a.subject_id}-DS-1", a.subject_id, a.hadm_id, "DS", "1", "2180-01-01 00:00:00", "2180-01-01 10:00:00", note_text(a)]
        for a in adms
    ]
    dx = [[a.subject_id, a.hadm_id, str(seq), code, str(ver)] for a in adms for seq, code, ver in a.diagnoses]
    return (
        write_csv(folder / f"discharge{suffix}", NOTE_HEADER, notes, gz),
        write_csv(folder / f"diagnoses_icd{suffix}", DX_HEADER, dx, gz),
    )

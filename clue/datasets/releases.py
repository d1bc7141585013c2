"""Where each task's data file comes from, and the checksums we actually know.

A sha256 is listed only where it was verified against the real file. Where it
is not known here, fetched files are checked by the task's own loader instead
(structure, fields, record count) and the hash seen is reported, never
invented.
"""

from __future__ import annotations

from dataclasses import dataclass

# Raw file hosts (not the HTML pages the public download script fetched).
# MeQSum is pinned to the commit its hash was taken from; LongHealth follows
# the default branch (HEAD), so its file is checked by the loader.
GITHUB_RAW = "https://raw.githubusercontent.com"
PHYSIONET_FILES = "https://physionet.org/files"


@dataclass(frozen=True)
class Release:
    task: str
    file: str  # the name the file is saved under (the task's expected file)
    access: str  # "public", "physionet" (credentialed download) or "build" (made locally from MIMIC-IV)
    source: str  # human-readable origin
    url_path: str | None = None  # path below the host base (GITHUB_RAW or PHYSIONET_FILES)
    sha256: str | None = None  # None: not verified here
    records: int | None = None  # expected record count, where known
    license: str = ""
    page: str = ""  # where a person reads about and signs for the data
    physionet_project: str | None = None  # slug/version, for PhysioNet downloads
    remote_names: tuple[str, ...] = ()  # names the file may have in the release, if it differs


RELEASES: dict[str, Release] = {
    "meqsum": Release(
        task="meqsum",
        file="MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx",
        access="public",
        source="GitHub abachaa/MeQSum",
        url_path="abachaa/MeQSum/51e36cf65c12602333b6fdc3ae8ecf10430529f7/MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx",
        sha256="abedd939d5014306ca576522416bf69103e85dc8fcf1668a4099e8b84a39eeea",
        records=1000,
        license="CC BY 4.0",
        page="https://github.com/abachaa/MeQSum",
    ),
    "longhealth": Release(
        task="longhealth",
        file="benchmark_v5.json",
        access="public",
        source="GitHub kbressem/LongHealth",
        url_path="kbressem/LongHealth/HEAD/data/benchmark_v5.json",
        sha256=None,  # could not be obtained on the machine this was written on
        records=400,  # questions (20 patients x 20)
        license="Apache-2.0",
        page="https://github.com/kbressem/LongHealth",
    ),
    "mednli": Release(
        task="mednli",
        file="mli_test_v1.jsonl",
        access="physionet",
        source="PhysioNet MedNLI 1.0.0 (credentialed)",
        url_path="mednli/1.0.0/mli_test_v1.jsonl",
        records=1422,
        license="PhysioNet Credentialed Health Data License 1.5.0",
        page="https://physionet.org/content/mednli/1.0.0/",
        physionet_project="mednli/1.0.0",
    ),
    "problem_summary": Release(
        task="problem_summary",
        file="BioNLP2023-1A-Test.csv",
        access="physionet",
        source="PhysioNet BioNLP Workshop 2023 Shared Task 1A 2.0.0 (credentialed)",
        url_path="bionlp-workshop-2023-task-1a/2.0.0/BioNLP2023-1A-Test.csv",
        records=237,
        license="PhysioNet Credentialed Health Data License 1.5.0",
        page="https://physionet.org/content/bionlp-workshop-2023-task-1a/2.0.0/",
        physionet_project="bionlp-workshop-2023-task-1a/2.0.0",
    ),
    "medisumqa": Release(
        task="medisumqa",
        file="medisumqa.json",
        access="physionet",
        source="PhysioNet MeDiSumQA 1.0.0 (credentialed, 2025), or `clue data build medisumqa`",
        # The file's name inside the release is not known here: the download
        # reads the project's SHA256SUMS.txt and takes its JSON/JSONL file.
        url_path=None,
        records=416,
        license="PhysioNet Credentialed Health Data License 1.5.0",
        page="https://physionet.org/content/medisumqa/1.0.0/",
        physionet_project="medisumqa/1.0.0",
    ),
    "medisumcode": Release(
        task="medisumcode",
        file="medisumcode.json",
        access="build",
        source="built locally from MIMIC-IV v2.2 (hosp diagnoses_icd) and MIMIC-IV-Note (discharge)",
        records=500,
        license="PhysioNet Credentialed Health Data License 1.5.0 (inputs)",
        page="https://physionet.org/content/mimic-iv-note/2.2/",
    ),
}

PUBLIC_FETCHABLE = tuple(name for name, r in RELEASES.items() if r.access == "public")
PHYSIONET_FETCHABLE = tuple(name for name, r in RELEASES.items() if r.access == "physionet")


def known_hash(task: str, sha256: str) -> bool | None:
    """True/False against a verified release hash; None where no hash is known."""
    release = RELEASES.get(task)
    if release is None or release.sha256 is None:
        return None
    return release.sha256 == sha256

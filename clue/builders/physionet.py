"""Credentialed downloads from PhysioNet (MedNLI, Problem Summary, MeDiSumQA), or the steps to do it by hand.

PhysioNet serves a project's files at ``https://physionet.org/files/<slug>/<version>/<file>``
to credentialed users who signed the project's data use agreement, with HTTP
basic authentication. Each project also lists ``SHA256SUMS.txt``; when it is
there, the file is checked against it, and always by the task's loader.

The password is read from ``PHYSIONET_PASSWORD`` or asked for (not echoed);
it is held in memory for the download only: never written, logged or put in
a manifest.
"""

from __future__ import annotations

import getpass
import os
import sys
import tempfile
from pathlib import Path

from clue.builders.fetch import Fetched, FetchError, check_present, download, fetch_url
from clue.builders.releases import PHYSIONET_FILES, TaskRelease, fetchable, release_of
from clue.core.errors import UsageError

USERNAME_ENV = "PHYSIONET_USERNAME"
PASSWORD_ENV = "PHYSIONET_PASSWORD"
DATA_SUFFIXES = (".json", ".jsonl")


def physionet_base(override: str | None = None) -> str:
    return (override or os.environ.get("CLUE_PHYSIONET_BASE") or PHYSIONET_FILES).rstrip("/")


def credentials(username: str | None) -> tuple[str, str]:
    user = username or os.environ.get(USERNAME_ENV)
    if not user:
        raise UsageError(f"give your PhysioNet username with --username or {USERNAME_ENV}, or use --print-steps")
    password = os.environ.get(PASSWORD_ENV)
    if not password:
        if not sys.stdin.isatty():
            raise UsageError(f"no terminal to ask for the PhysioNet password: set {PASSWORD_ENV} or use --print-steps")
        password = getpass.getpass(f"PhysioNet password for {user}: ")
    if not password:
        raise UsageError("empty PhysioNet password")
    return user, password


def _release(task: str) -> TaskRelease:
    physionet = fetchable("physionet")
    if task not in physionet:
        raise UsageError(f"{task!r} is not a PhysioNet dataset; PhysioNet ones: {', '.join(physionet)}")
    return release_of(task)


def read_checksums(text: str) -> dict[str, str]:
    """``SHA256SUMS.txt`` lines (``<hash> <path>``) into {path: hash}."""
    sums: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.strip().split(maxsplit=1)
        if len(parts) == 2 and len(parts[0]) == 64:
            sums[parts[1].lstrip("*").strip()] = parts[0].lower()
    return sums


def fetch_checksums(project_url: str, auth: tuple[str, str]) -> dict[str, str] | None:
    with tempfile.TemporaryDirectory(prefix="clue-physionet-") as tmp:
        part = Path(tmp) / "SHA256SUMS.txt"
        try:
            download(f"{project_url}/SHA256SUMS.txt", part, auth=auth)
        except FetchError as exc:
            if "HTTP 404" in str(exc):
                return None
            raise
        return read_checksums(part.read_text(encoding="utf-8", errors="replace"))


def remote_file(release: TaskRelease, sums: dict[str, str] | None) -> str:
    """The file's path inside the project."""
    if release.url_path is not None:
        return release.url_path.split("/", 2)[2]
    candidates = sorted(p for p in (sums or {}) if p.lower().endswith(DATA_SUFFIXES))
    if len(candidates) != 1:
        found = ", ".join(candidates) or "none"
        raise FetchError(
            f"{release.task}: cannot tell which file of {release.physionet_project} is the dataset "
            f"(JSON/JSONL files listed: {found}); download it by hand (--print-steps) and put it in the data folder"
        )
    return candidates[0]


def fetch_physionet(
    task: str,
    data_dir: Path,
    username: str | None = None,
    base_url: str | None = None,
    force: bool = False,
) -> Fetched:
    release = _release(task)
    existing = [data_dir / name for name in _local_names(release)]
    present = next((p for p in existing if p.exists()), None)
    if present is not None and not force:
        return check_present(release, present)
    auth = credentials(username)
    project_url = f"{physionet_base(base_url)}/{release.physionet_project}"
    sums = fetch_checksums(project_url, auth)
    name = remote_file(release, sums)
    dest = data_dir / (release.file if release.url_path else Path(release.file).stem + Path(name).suffix)
    expected = (sums or {}).get(name)
    result = fetch_url(task, f"{project_url}/{name}", dest, expected, "the project's SHA256SUMS.txt", auth=auth)
    if sums is None:
        result.notes.append("the project lists no SHA256SUMS.txt; the file was checked by the task's loader only")
    return result


def _local_names(release: TaskRelease) -> list[str]:
    stem = Path(release.file).stem
    return [release.file] if release.url_path else [f"{stem}{s}" for s in DATA_SUFFIXES]


def manual_steps(task: str, data_dir: Path, base_url: str | None = None) -> list[str]:
    """Exact steps to fetch a PhysioNet dataset by hand."""
    release = _release(task)
    project_url = f"{physionet_base(base_url)}/{release.physionet_project}"
    steps = [
        "Become a credentialed PhysioNet user (https://physionet.org/settings/credentialing/) "
        "and complete the required CITI training.",
        f"Open {release.page} and sign the data use agreement (bottom of the page, 'Files' section).",
    ]
    if release.url_path:
        name = release.url_path.split("/", 2)[2]
        steps.append(
            f"Download: wget --user YOUR_USERNAME --ask-password -O {data_dir / release.file} {project_url}/{name}"
        )
    else:
        steps.append(
            f"List the files: wget --user YOUR_USERNAME --ask-password -O - {project_url}/SHA256SUMS.txt ; "
            f"then download the JSON/JSONL file listed there to {data_dir / release.file} "
            f"(or {Path(release.file).stem}.jsonl for a JSONL file)."
        )
    steps.append(
        f"Check it: clue data status --data-dir {data_dir} (compare the sha256 with the project's SHA256SUMS.txt)."
    )
    return steps

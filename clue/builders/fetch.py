"""Downloading data files: resumable, verified, and moved into place atomically.

A download goes to ``<file>.part`` and resumes from it with an HTTP Range
request when it was interrupted. A finished download is checked, by its
sha256 where one is known and always by the task's loader, under a temporary
name; only a file that passes is renamed to its final name. A file that fails
is deleted with its ``.part``, so nothing half-right is ever left in place.

The hosts can be overridden (``--base-url``, or the environment variables
``CLUE_GITHUB_RAW_BASE`` and ``CLUE_PHYSIONET_BASE``), which is how the tests
point this at a local server.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clue.builders.releases import GITHUB_RAW, TaskRelease, fetchable, release_of
from clue.core.errors import ClueError, DataError, UsageError
from clue.core.files import sha256_file
from clue.tasks.registry import get_task

CHUNK = 1 << 16
USER_AGENT = "clue-eval (dataset fetch)"


class FetchError(ClueError):
    """A download failed; the message says whether running again resumes it.

    Exit status 1, as for failed requests (run again to retry): 4 is the egress guard's refusal only.
    """

    exit_code = 1


@dataclass
class Fetched:
    task: str
    path: Path
    sha256: str
    status: str  # "downloaded", "resumed", "present"
    hash_check: str  # "matches the known release", "no known hash (checked by the loader)"
    records: int | None = None
    notes: list[str] = field(default_factory=list)


def github_base(override: str | None = None) -> str:
    return (override or os.environ.get("CLUE_GITHUB_RAW_BASE") or GITHUB_RAW).rstrip("/")


def download(
    url: str,
    part: Path,
    auth: tuple[str, str] | None = None,
    timeout: float = 60.0,
    on_bytes: Callable[[int, int | None], None] | None = None,
) -> bool:
    """Fetch ``url`` into ``part``, continuing an earlier partial download. Returns True if it resumed.

    Raises FetchError when the transfer stops early; the ``.part`` file is
    kept so that the next call resumes from it.
    """
    part.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if auth is not None:
        # Unredirected: urllib copies headers added by hand to every redirect, wherever it leads;
        # CredentialsStayHome puts it back only for a redirect to the same origin.
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
        request.add_unredirected_header("Authorization", f"Basic {token}")
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = _OPENER.open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            return True  # the .part already holds the whole file; verification decides
        raise FetchError(_http_problem(url, exc.code, auth is not None)) from None
    except (urllib.error.URLError, OSError) as exc:
        raise FetchError(f"cannot reach {url} ({getattr(exc, 'reason', exc)}); check the network and run again") from None
    with response:
        resumed = have > 0 and response.status == 206
        if have and not resumed:
            have = 0  # the server ignored the Range header: start again
        length = response.headers.get("Content-Length")
        expected = have + int(length) if length is not None else None
        got = have
        with open(part, "ab" if resumed else "wb") as fh:
            try:
                while block := response.read(CHUNK):
                    fh.write(block)
                    got += len(block)
                    if on_bytes:
                        on_bytes(got, expected)
            except (OSError, http.client.HTTPException) as exc:  # reset connection, IncompleteRead
                raise FetchError(
                    f"download of {url} interrupted after {got} bytes ({type(exc).__name__}); run again to resume"
                ) from None
    if expected is not None and got < expected:
        raise FetchError(f"download of {url} stopped at {got} of {expected} bytes; run again to resume")
    return resumed


def origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port (the default filled in) of a URL: where credentials for it may go."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or {"http": 80, "https": 443}.get(scheme)


class CredentialsStayHome(urllib.request.HTTPRedirectHandler):
    """Follow redirects, carrying the Authorization header only to the origin it was given for."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        auth = req.unredirected_hdrs.get("Authorization")
        if new is not None and auth is not None and origin(new.full_url) == origin(req.full_url):
            new.add_unredirected_header("Authorization", auth)
        return new


_OPENER = urllib.request.build_opener(CredentialsStayHome)


def _http_problem(url: str, code: int, with_auth: bool) -> str:
    if code in (401, 403) and with_auth:
        return (
            f"{url}: HTTP {code}: PhysioNet refused the request. Check the username and password, and that "
            "you are credentialed and have signed this project's data use agreement"
        )
    if code == 404:
        return f"{url}: HTTP 404: no such file (the release may have moved; see `clue data status`)"
    return f"{url}: HTTP {code}"


def install(
    task: str,
    part: Path,
    dest: Path,
    expected_sha256: str | None,
    hash_source: str,
) -> tuple[str, str, int]:
    """Verify a complete ``.part`` and move it to ``dest``; on failure delete it and raise.

    Returns (sha256, description of the hash check, record count).
    """
    seen = sha256_file(part)
    if expected_sha256 is not None and seen != expected_sha256:
        part.unlink(missing_ok=True)
        raise DataError(
            dest,
            f"checksum mismatch: expected sha256 {expected_sha256} ({hash_source}), got {seen}; "
            "the download was deleted and nothing was put in place",
        )
    # The loader picks the reader by the file's suffix, so check under a
    # temporary name that keeps it.
    staging = dest.with_name(f".{dest.stem}.unverified{dest.suffix}")
    os.replace(part, staging)
    try:
        records = validate(task, staging)
        os.replace(staging, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            staging.unlink()
        raise
    check = f"matches {hash_source}" if expected_sha256 else "no known hash: checked by the task's loader"
    return seen, check, records


def validate(task: str, path: Path) -> int:
    """Load the file with the task's own loader; returns the item count."""
    try:
        items = get_task(task).load(path)
    except DataError as exc:
        raise DataError(path, f"downloaded file is not a valid {task} file: {exc.problem}", exc.record, exc.field) from None
    return len(items)


def fetch_public(task: str, data_dir: Path, base_url: str | None = None, force: bool = False) -> Fetched:
    """Fetch one public dataset (MeQSum, LongHealth) into ``data_dir``."""
    public = fetchable("public")
    if task not in public:
        raise UsageError(f"{task!r} is not a public dataset; public ones: {', '.join(public)}")
    release = release_of(task)
    dest = data_dir / release.file
    if dest.exists() and not force:
        return check_present(release, dest)
    url = f"{github_base(base_url)}/{release.url_path}"
    return fetch_url(task, url, dest, release.sha256, "the known release hash")


def fetch_url(
    task: str,
    url: str,
    dest: Path,
    sha256: str | None,
    hash_source: str,
    auth: tuple[str, str] | None = None,
) -> Fetched:
    part = dest.with_name(dest.name + ".part")
    resumed = download(url, part, auth=auth)
    seen, check, records = install(task, part, dest, sha256, hash_source)
    return Fetched(task, dest, seen, "resumed" if resumed else "downloaded", check, records)


def check_present(release: TaskRelease, dest: Path) -> Fetched:
    seen = sha256_file(dest)
    if release.sha256 is not None and seen != release.sha256:
        raise DataError(
            dest,
            f"already present but its sha256 {seen} differs from the known release {release.sha256}; "
            "move it away or pass --force to download it again",
        )
    records = validate(release.task, dest)
    check = "matches the known release hash" if release.sha256 else "no known hash: checked by the task's loader"
    return Fetched(release.task, dest, seen, "present", check, records)

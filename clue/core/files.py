"""File writing and hashing: the one place where output files are written."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from clue.core.errors import DataError


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no extra spaces: stable input for hashes."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[Any]:
    """Write to a temporary file beside ``path`` and rename it into place.

    A reader sees either the old file or the complete new one, never half of
    it; if the writer fails, the temporary file is removed.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    # mkstemp creates the file 0600; give it the mode a plain open() would
    # (0666 less the umask), so reports and results can be shared as usual.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        with os.fdopen(fd, mode, encoding=encoding if "b" not in mode else None) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: str | os.PathLike, obj: Any) -> None:
    with atomic_writer(path) as fh:
        json.dump(obj, fh, indent=2, ensure_ascii=False, sort_keys=False)
        fh.write("\n")


def write_jsonl(path: str | os.PathLike, rows: Iterable[Any]) -> None:
    with atomic_writer(path) as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False))
            fh.write("\n")


def read_jsonl(path: str | os.PathLike) -> list[tuple[int, Any]]:
    """Read a JSONL file; returns (line number, object) pairs, skipping blank lines.

    Raises ``DataError`` naming the line on malformed JSON.
    """
    rows: list[tuple[int, Any]] = []
    try:
        fh = open(path, encoding="utf-8")
    except OSError as exc:
        raise DataError(path, f"cannot read file ({exc.strerror or exc})") from exc
    with fh:
        try:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    rows.append((lineno, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise DataError(path, f"not valid JSON ({exc.msg})", record=f"line {lineno}") from exc
        except UnicodeDecodeError as exc:
            raise DataError(path, "not UTF-8 text (is this the right file?)") from exc
    return rows


def read_json_dict(path: str | os.PathLike, what: str) -> dict[str, Any]:
    """Read a JSON file clue wrote (results, manifest, markers) that must hold an object.

    Raises ``DataError`` saying which file and what it was expected to be.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(path, f"cannot read {what} ({exc.strerror or exc}); is this a run directory?") from exc
    except ValueError as exc:
        raise DataError(path, f"not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise DataError(path, f"{what} is not a JSON object")
    return data

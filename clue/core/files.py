"""File writing and hashing: the one place where output files are written."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from clue.core.errors import ClueError, DataError

# What atomic_writer's temporary files look like: "." + target name + "." + mkstemp's
# random part (8 characters of [a-z0-9_]) + ".tmp". Only these are ever removed as leftovers.
TEMP_PATTERN = re.compile(r"^\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp$")


# Errors that mean "this place cannot take the file" (not a bug): full disk or quota,
# read-only file system, no permission, file too large, I/O error.
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG, errno.EIO})


class OutputError(ClueError):
    """An output file or folder cannot be written (disk full, read-only, no permission)."""

    exit_code = 2


def output_error(path: str | os.PathLike, exc: OSError) -> OutputError:
    """One line naming what could not be written and why."""
    reason = exc.strerror or str(exc)
    hint = {errno.ENOSPC: "; free some space and run the same command again",
            errno.EDQUOT: "; free some space and run the same command again",
            errno.EROFS: "; choose an output folder on a writable disk",
            errno.EACCES: "; choose an output folder you can write to"}.get(exc.errno or 0, "")
    return OutputError(f"cannot write {path}: {reason}{hint}")


def make_dirs(path: str | os.PathLike) -> Path:
    """``mkdir -p``, failing with an ``OutputError`` (not a traceback) when the folder cannot be made."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(folder, exc) from None
    return folder


def remove_temp_leftovers(folder: str | os.PathLike) -> list[Path]:
    """Remove ``atomic_writer`` temporary files a killed process left in ``folder``; returns them.

    Only files matching clue's own temporary names (``TEMP_PATTERN``) are
    touched, never anything else. The caller must know that no other process
    is writing there (``clue.pipeline.lock.hold_run_dir``).
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(os.fspath(folder)))
    except OSError:
        return removed
    for entry in entries:
        if TEMP_PATTERN.match(entry.name) and entry.is_file(follow_symlinks=False):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


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
    make_dirs(target.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise output_error(target, exc) from None
    # mkstemp creates the file 0600; give it the mode a plain open() would
    # (0666 less the umask), so reports and results can be shared as usual.
    umask = os.umask(0)
    os.umask(umask)
    try:
        with os.fdopen(fd, mode, encoding=encoding if "b" not in mode else None) as fh:
            os.chmod(tmp, 0o666 & ~umask)
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.errno in WRITE_ERRNOS:  # full disk, read-only file system: one clear line, the old file kept
            raise output_error(target, exc) from None
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


def json_loads(text: str) -> Any:
    """``json.loads``, with what it cannot read always a ``json.JSONDecodeError``.

    Python's reader raises ``RecursionError`` on deep nesting (100,000 ``[``) and ``ValueError``
    on an integer longer than the interpreter converts (4,300 digits): data errors, not bugs.
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply to read", text, 0) from None
    except ValueError as exc:  # "Exceeds the limit (4300 digits) for integer string conversion"
        limit = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else "the limit"
        raise json.JSONDecodeError(f"a number with more digits than can be read ({limit}): {exc.__class__.__name__}",
                                   text, 0) from None


def read_jsonl(path: str | os.PathLike) -> list[tuple[int, Any]]:
    """Read a JSONL file; returns (line number, object) pairs, skipping blank lines.

    A UTF-8 byte order mark is accepted. Raises ``DataError`` naming the line
    on malformed JSON or bytes that are not UTF-8.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(path, f"cannot read file ({exc.strerror or exc})") from exc
    rows: list[tuple[int, Any]] = []
    for lineno, raw in enumerate(data.split(b"\n"), start=1):
        line = decode_utf8(path, raw[3:] if lineno == 1 and raw.startswith(BOM) else raw, f"line {lineno}")
        if not line.strip():
            continue
        try:
            rows.append((lineno, json_loads(line)))
        except json.JSONDecodeError as exc:
            raise DataError(path, f"not valid JSON ({exc.msg})", record=f"line {lineno}") from exc
    return rows


BOM = b"\xef\xbb\xbf"


def decode_utf8(path: str | os.PathLike, data: bytes, record: str | None = None) -> str:
    """UTF-8 text of ``data``; a ``DataError`` naming the line and column of the first bad byte otherwise.

    ``record`` names where ``data`` starts ("line 7"); without it, the line is counted within ``data``.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if record is None:
            line = data.count(b"\n", 0, exc.start) + 1
            column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
            record = f"line {line}"
        else:
            column = exc.start + 1
        bad = data[exc.start:exc.start + 1].hex()
        raise DataError(path, f"not UTF-8 text (byte 0x{bad} at column {column}); is this the right file?",
                        record=record) from None


def read_utf8(path: Any) -> str:
    """A text file (a Path or a package resource) as UTF-8; bytes that are not UTF-8 are a ``DataError`` naming
    the line and column (a task file, template or sweep file saved in another encoding is no bug of clue's)."""
    return decode_utf8(str(path), path.read_bytes())


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

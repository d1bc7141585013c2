"""One clue process per run directory: an exclusive lock held for the whole run.

Two ``clue run`` (or ``clue sweep``, ``clue score RUN_DIR``) on one output
folder at once would both send every missing request and overwrite each
other's results. So a process that writes a run directory first takes an
exclusive ``flock`` on ``<dir>/.clue.lock`` and keeps it until it exits; a
second one finds it taken and stops at once (``RunDirBusy``, exit 2) naming
the holder's process id and command. The lock belongs to the open file: it
goes away when the holder exits, however it exits (a SIGKILL included), so a
stale lock never blocks a resume. The file itself stays; its content (pid,
command, start time) is only there to name the holder.

While the lock is held nobody else writes the folder, so it is also the one
safe moment to remove what a killed clue left behind: the temporary files of
``clue.core.files.atomic_writer`` (``.<name>.<random>.tmp``) in the run
directory and its ``predictions/`` folder.

A process may take the same directory's lock again (a sweep holds a model's
run directory while ``run_model`` takes it too): nested holds are counted.
Where ``fcntl`` is missing (Windows) no lock is taken.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from clue.core.errors import UsageError
from clue.core.files import make_dirs, remove_temp_leftovers

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_FILENAME = ".clue.lock"
LEFTOVER_FOLDERS = (".", "predictions")  # where clue's own atomic writes land in a run directory

_held: dict[str, tuple[int, int]] = {}  # resolved directory -> (file descriptor, nesting depth)


class RunDirBusy(UsageError):
    """Another process holds the run directory."""


def holder_of(directory: str | Path) -> str:
    """What the lock file says about its holder ("pid 123: clue run ..., since ..."), or "" if unreadable."""
    try:
        return (Path(directory) / LOCK_FILENAME).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def _acquire(directory: Path, what: str) -> int:
    make_dirs(directory)
    path = directory / LOCK_FILENAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise UsageError(f"cannot lock {directory} ({exc.strerror or exc}): {path}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        holder = holder_of(directory) or "another process"
        raise RunDirBusy(
            f"{directory} is in use by another clue process ({holder}). "
            f"Two processes on one {what} would send every request twice; wait for it to finish, "
            "or give this one another output folder."
        ) from None
    except OSError as exc:  # a file system without locks (some network mounts)
        os.close(fd)
        raise UsageError(f"cannot lock {path} ({exc.strerror or exc}); use an output folder on a local disk") from None
    stamp = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    # Only the command's name: the rest of a command line can hold secrets (a key in a URL).
    command = f"clue {sys.argv[1]}" if len(sys.argv) > 1 else "clue"
    with contextlib.suppress(OSError):  # naming the holder is a courtesy; a full disk must not stop the lock
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}: {command[:40]}, since {stamp}\n".encode(), 0)
    return fd


@contextlib.contextmanager
def hold_run_dir(directory: str | Path, what: str = "run directory") -> Iterator[Path]:
    """Hold ``directory`` exclusively (creating it) until the block ends; clean clue's own leftovers in it."""
    directory = Path(directory)
    if fcntl is None:  # pragma: no cover - Windows
        yield directory
        return
    key = str(directory.resolve())
    if key in _held:
        fd, depth = _held[key]
        _held[key] = (fd, depth + 1)
    else:
        fd = _acquire(directory, what)
        _held[key] = (fd, 1)
        for folder in LEFTOVER_FOLDERS:
            remove_temp_leftovers(directory / folder)
    try:
        yield directory
    finally:
        fd, depth = _held[key]
        if depth > 1:
            _held[key] = (fd, depth - 1)
        else:
            del _held[key]
            os.close(fd)  # closing the descriptor releases the lock

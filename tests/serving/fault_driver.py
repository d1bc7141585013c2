"""Run the clue command line with one fault injected at the layer where the machine would cause it.

    python fault_driver.py FAULT ARG -- clue-arguments...

FAULT is one of:

- ``store-full PAGES``: the run store can grow to PAGES pages, then SQLite
  answers SQLITE_FULL ("database or disk is full"), exactly what it answers
  on a full disk (``PRAGMA max_page_count``).
- ``write-enospc NAME``: writing the output file NAME (e.g. results.json)
  fails with ENOSPC at its fsync, as a full disk makes it fail.
- ``kill-writing NAME``: the process SIGKILLs itself while writing NAME, after
  the temporary file is written and before it is renamed into place.
- ``readonly-mkdir FOLDER``: making any folder under FOLDER fails with EROFS,
  as on a read-only mount.
"""

from __future__ import annotations

import errno
import os
import signal
import sqlite3
import sys


def main() -> None:
    fault, arg = sys.argv[1], sys.argv[2]
    assert sys.argv[3] == "--"
    args = sys.argv[4:]
    if fault == "store-full":
        real_connect = sqlite3.connect

        def connect(path, *a, **kw):  # type: ignore[no-untyped-def]
            db = real_connect(path, *a, **kw)
            if str(path).endswith("store.sqlite"):
                db.execute(f"PRAGMA max_page_count = {int(arg)}")
            return db

        sqlite3.connect = connect  # type: ignore[assignment]
    elif fault in ("write-enospc", "kill-writing"):
        real_fsync = os.fsync

        def fsync(fd: int) -> None:
            name = os.readlink(f"/proc/self/fd/{fd}") if os.path.exists(f"/proc/self/fd/{fd}") else ""
            if os.path.basename(name).startswith(f".{arg}."):
                if fault == "kill-writing":
                    os.kill(os.getpid(), signal.SIGKILL)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real_fsync(fd)

        os.fsync = fsync
    elif fault == "readonly-mkdir":
        real_mkdir = os.mkdir
        root = os.path.abspath(arg)

        def mkdir(path, *a, **kw):  # type: ignore[no-untyped-def]
            if os.path.abspath(path).startswith(root + os.sep):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
            real_mkdir(path, *a, **kw)

        os.mkdir = mkdir
    else:
        raise SystemExit(f"unknown fault {fault!r}")
    sys.argv = ["clue", *args]
    from clue.cli import main as clue_main

    clue_main()


if __name__ == "__main__":
    main()

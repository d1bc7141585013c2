"""The ``clue`` command line: thin, every command calls the library.

One module per command group (``run``: tasks, run, score, prompts; ``data``;
``metrics``: compare and metrics; ``report``: sweep and report), all on one
Typer app and one console (``clue.cli.console``). Commands import the library
inside their bodies, so ``clue --help`` starts without loading numpy, httpx
or a model. Errors are printed as plain text with their exit status: 2 for bad input,
usage and the machine's faults (full disk, read-only folder, damaged store,
a run directory in use), 3 for a missing extra, 4 for an egress refusal,
130 for Ctrl-C (after saying what was kept and how to resume).
"""

from __future__ import annotations

import sqlite3
import sys

try:  # Ctrl-C while the command line loads (typer, rich, the commands) ends like any Ctrl-C: 130, no traceback
    from clue.cli import agreement, data, metrics, protocol, report, run, suites  # noqa: F401, I001  (each registers its commands on app)
    from clue.cli.app import app
    from clue.cli.console import fail
    from clue.core.errors import ClueError
except KeyboardInterrupt:
    sys.stderr.write("interrupted while starting; nothing was done\n")
    sys.exit(130)

__all__ = ["app", "entry", "main"]


def main() -> None:
    try:
        app()
    except ClueError as exc:
        fail(f"error: {exc}")
        sys.exit(exc.exit_code)
    except OSError as exc:  # the machine, not clue: a full disk, a read-only folder, a missing permission
        where = f": {exc.filename}" if exc.filename else ""
        fail(f"error: {exc.strerror or exc}{where}")
        sys.exit(2)
    except sqlite3.Error as exc:  # a SQLite file other than the run store (e.g. the metric cache)
        fail(f"error: SQLite: {exc}")
        sys.exit(2)


def entry() -> None:
    """The ``clue`` command and ``python -m clue.cli``: ``main``, then the process ends without tearing the
    interpreter down module by module.

    With numpy, typer, rich and clue loaded that teardown is ~50 ms of every command
    (bench/bench_startup.py), spent freeing memory the system frees anyway. What must
    happen at exit still does: the atexit handlers run and the output is flushed first
    (as mypy's fast exit does, plus the handlers). The ordinary exit is kept while a
    non-daemon thread still runs, under a tracer or profiler, and with CLUE_FULL_EXIT=1.
    """
    try:
        main()
        code: str | int | None = 0
    except SystemExit as exc:
        code = exc.code
    if not _may_exit_at_once():
        sys.exit(code)
    import atexit
    import os

    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message"): the message, and status 1, as the interpreter does
        sys.stderr.write(f"{code}\n")
        status = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (clue ... | head): as the interpreter, status 120
            status = status or 120
    os._exit(status)


def _may_exit_at_once() -> bool:
    import os
    import threading

    if os.environ.get("CLUE_FULL_EXIT") or sys.gettrace() is not None or sys.getprofile() is not None:
        return False
    main_thread = threading.main_thread()
    return all(t is main_thread or t.daemon or not t.is_alive() for t in threading.enumerate())

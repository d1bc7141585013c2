"""The ``clue`` command line for tests: in this process (``clue``) or as the real entry point (``clue_process``).

``clue(*args)`` runs ``clue ARGS`` the way ``clue.cli.main`` runs it (the same
Typer app, the same error handling and exit statuses), in this process: no
interpreter start-up and no second import of numpy, the metrics and the
tasks, which cost seconds per call. It returns what ``subprocess.run`` would
(``returncode``, ``stdout``, ``stderr``), so a test reads the same either way.

Use ``clue_process`` where the process is the point: the installed entry
point's start-up, a kill or a signal, two processes on one run directory,
an environment that must be the child's alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]

# Variables clue reads from the user's shell: unset unless a test gives them, as in the
# clean environment the tests used to hand their ``clue`` subprocesses.
USER_ENV = (
    "OPENAI_BASE_URL", "OPENAI_API_KEY", "CLUE_PROGRESS_INTERVAL",
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy", "no_proxy",
)


@dataclass
class Ran:
    """What a ``clue`` call gave: the fields of ``subprocess.CompletedProcess`` that the tests read."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str


def _status(code: object) -> int:
    """The exit status ``sys.exit(code)`` gives a process."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    return 1


def clue(*args: str | os.PathLike[str], cwd: str | os.PathLike[str] | None = None,
         env: dict[str, str | None] | None = None, columns: int = 160) -> Ran:
    """``clue ARGS`` in this process, as ``clue.cli.main`` runs it.

    ``sys.argv`` is ``["clue", *ARGS]`` while it runs (the command recorded in the
    manifest and shown in resume hints), the working folder is ``cwd``, the
    consoles are ``columns`` wide and plain (output off a terminal), and
    ``env`` is set on top of the environment (``None`` unsets a variable;
    ``USER_ENV`` is unset unless given).
    """
    from clue.cli import console as consoles
    from clue.cli import main

    argv = ["clue", *map(str, args)]
    environment: dict[str, str | None] = {name: None for name in USER_ENV}
    environment["COLUMNS"] = str(columns)
    environment.update(env or {})
    shown = (consoles.console, consoles.err_console)
    # The consoles were made once, at import, for the terminal pytest started on:
    # make them what a piped subprocess with COLUMNS=columns would have made.
    saved = [(c._width, c._color_system) for c in shown]
    saved_argv, saved_cwd = sys.argv, os.getcwd()
    code: object = 0
    with CliRunner().isolation(env=environment) as (out, err, _):
        sys.argv = argv
        for c in shown:
            c._width, c._color_system = columns, None
        try:
            if cwd is not None:
                os.chdir(cwd)
            main()
        except SystemExit as exc:
            code = exc.code
        finally:
            os.chdir(saved_cwd)
            sys.argv = saved_argv
            for c, (width, colors) in zip(shown, saved):
                c._width, c._color_system = width, colors
            sys.stdout.flush()
            sys.stderr.flush()
        stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
    if isinstance(code, str):
        stderr += code + "\n"
    return Ran(argv, _status(code), stdout, stderr)


def clue_process(*args: str | os.PathLike[str], cwd: str | os.PathLike[str] | None = None,
                 env: dict[str, str] | None = None, columns: int = 160, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m clue.cli ARGS`` in a child process with a clean environment (PATH, COLUMNS and ``env`` only)."""
    return subprocess.run(
        [sys.executable, "-m", "clue.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout,
        env={"COLUMNS": str(columns), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), **(env or {})},
    )

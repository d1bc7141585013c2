"""The ``clue`` command line: thin, every command calls the library.

One module per command group (``run``: tasks, run, score, prompts; ``data``;
``metrics``: compare and metrics; ``report``: sweep and report), all on one
Typer app and one console (``clue.cli.console``). Commands import the library
inside their bodies, so ``clue --help`` starts without loading numpy, httpx
or a model. Errors are printed as plain text with their exit status.
"""

from __future__ import annotations

import sys

from clue.cli import data, metrics, protocol, report, run  # noqa: F401, I001  (each registers its commands on app)
from clue.cli.app import app
from clue.cli.console import fail
from clue.core.errors import ClueError

__all__ = ["app", "main"]


def main() -> None:
    try:
        app()
    except ClueError as exc:
        fail(f"error: {exc}")
        sys.exit(exc.exit_code)

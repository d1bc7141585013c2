"""The ``clue`` Typer application; the command modules register their commands on it."""

from __future__ import annotations

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Evaluate language models on clinical work: the CLUE benchmark, re-implemented.",
)

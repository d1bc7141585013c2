"""The ``clue`` Typer application; the command modules register their commands on it."""

from __future__ import annotations

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Evaluate language models on clinical work: the CLUE benchmark, re-implemented.",
)


def _version(value: bool) -> None:
    if value:
        from clue import __version__

        typer.echo(f"clue-eval {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version of clue-eval and exit."),
) -> None:
    """Evaluate language models on clinical work: the CLUE benchmark, re-implemented."""

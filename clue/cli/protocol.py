"""``clue protocol``: the protocol profiles, and fetching the reference's prompts for them."""

from __future__ import annotations

import typer

from clue.cli.app import app
from clue.cli.console import console, say
from clue.cli.tables import wrap

protocol_app = typer.Typer(no_args_is_help=True, help="Protocol profiles: list them, fetch the reference's prompts.")
app.add_typer(protocol_app, name="protocol")


@protocol_app.command("list")
def list_cmd() -> None:
    """The protocol profiles and whether their prompts are on this machine."""
    from clue.tasks.protocols import PROTOCOLS, protocol_dir

    for p in PROTOCOLS.values():
        where = ""
        if p.is_reference:
            folder = protocol_dir(p.name)
            where = f"; prompts: {folder}" if (folder / "SOURCES.json").is_file() else f"; prompts: not fetched (clue protocol fetch {p.name})"
        # wrapped to the terminal, continuation lines under the description
        say(wrap(f"{p.name:14} {p.description}{where}", console.width, indent=" " * 15))


@protocol_app.command("fetch")
def fetch_cmd(
    name: str = typer.Argument(..., help="clue-2024-06 or clue-2025-01."),
    base_url: str | None = typer.Option(None, "--base-url", help="A mirror of raw.githubusercontent.com (same paths: OWNER/REPO/COMMIT/PATH)."),
) -> None:
    """Download the reference's evaluation scripts at the pinned commit and write their prompts as templates."""
    from clue.builders.protocols import fetch_protocol

    fetched = fetch_protocol(name, base_url=base_url)
    say(f"Wrote {len(fetched.templates)} templates for {fetched.name} to {fetched.folder}")

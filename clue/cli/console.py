"""The command line's one console, its progress display and its option parsing.

Everything clue prints goes through ``console`` (results) or ``err_console``
(progress, warnings, errors). Text that comes from data, files or errors is
printed as plain text, never read as markup: a ``[`` in a path, an install
hint (``clue-eval[openai]``) or a data value must print as written.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from rich.console import Console

from clue.core.errors import UsageError

# Piped output (CI logs, files) gets a fixed width that fits the results table,
# instead of rich's 80-column default; an explicit COLUMNS is always honoured.
_fixed = None if "COLUMNS" in os.environ else 132
console = Console(width=None if sys.stdout.isatty() else _fixed)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else _fixed)


def say(text: str, *, err: bool = False, style: str | None = None) -> None:
    """Print ``text`` exactly as written (no markup, no highlighting), optionally in a style."""
    (err_console if err else console).print(text, style=style, markup=False, highlight=False, soft_wrap=True)


def warn(text: str) -> None:
    say(text, err=True, style="yellow")


def fail(text: str) -> None:
    say(text, err=True, style="red")


def parse_options(values: list[str] | None) -> dict[str, Any]:
    """``-O KEY=VALUE`` pairs; values are parsed as JSON when they can be (numbers, booleans)."""
    options: dict[str, Any] = {}
    for value in values or []:
        key, sep, raw = value.partition("=")
        if not sep or not key:
            raise UsageError(f"--option takes KEY=VALUE, got {value!r}")
        try:
            options[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            options[key.strip()] = raw
    return options


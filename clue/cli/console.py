"""The command line's one console, its progress display and its option parsing.

Everything clue prints goes through ``console`` (results) or ``err_console``
(progress, warnings, errors). Text that comes from data, files or errors is
printed as plain text, never read as markup: a ``[`` in a path, an install
hint (``clue-eval[openai]``) or a data value must print as written.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

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


def plain(value: Any, style: str = "") -> Text:
    """A table cell or title from data: shown exactly as written, never read as markup or emoji codes.

    Numbers keep the console's usual highlighting, so the tables look as before.
    """
    return console.render_str(str(value), style=style, markup=False, emoji=False)


# What a command line may carry that must not be echoed: a password in a URL, a key in a query.
_SECRETS = (
    (re.compile(r"(://)[^/@\s]*@"), r"\1***@"),
    (re.compile(r"((?:api[_-]?key|key|token|secret|password)=)[^&\s]+", re.IGNORECASE), r"\1***"),
)


def this_command() -> str:
    """The command being run, as a user would type it again, with secrets masked."""
    args = []
    for arg in sys.argv[1:]:
        for pattern, replacement in _SECRETS:
            arg = pattern.sub(replacement, arg)
        args.append(arg)
    return shlex.join(["clue", *args])


def stored_answers(run_dirs: Iterable[Path]) -> int:
    """Answers committed in the run stores of ``run_dirs`` (0 where there is none yet)."""
    from clue.core.errors import ClueError
    from clue.store.runs import STORE_FILENAME, RunStore

    total = 0
    for run_dir in run_dirs:
        path = Path(run_dir) / STORE_FILENAME
        if path.is_file():
            with contextlib.suppress(ClueError):
                with RunStore(path) as store:
                    total += store.counts()["ok"]
    return total


@contextlib.contextmanager
def resumable(run_dirs: Callable[[], Iterable[Path]]) -> Iterator[None]:
    """On Ctrl-C: say how many answers the run stores keep and how to resume, then exit 130."""
    try:
        yield
    except KeyboardInterrupt:
        from clue.store.runs import STORE_FILENAME

        dirs = list(run_dirs())
        stores = [Path(d) / STORE_FILENAME for d in dirs if (Path(d) / STORE_FILENAME).is_file()]
        if not stores:  # stopped before a store was created: claim none
            fail(f"interrupted before any answer was stored: nothing was kept. Run the same command again to start:\n  {this_command()}")
            raise typer.Exit(130) from None
        kept = stored_answers(dirs)
        where = ", ".join(str(s) for s in stores)
        fail(f"interrupted: {kept} answer(s) are kept in {where}. "
             f"Run the same command again to resume (only the missing requests are sent):\n  {this_command()}")
        raise typer.Exit(130) from None


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


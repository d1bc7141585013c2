"""``python -m clue.cli``: the same as the ``clue`` command."""

from clue.cli import entry

entry()

"""clue: evaluate language models on clinical work (the CLUE benchmark, re-implemented).

``clue.evaluate``, ``clue.score``, ``clue.read_run`` and ``clue.compare`` are the Python API
(``clue.api``; docs/api.md). They load on first use: importing any part of clue runs this
file, and the command line must start without the whole pipeline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

API = ("evaluate", "score", "read_run", "compare", "run", "RunResults", "RunSpec", "Run", "Comparison")
__all__ = ["__version__", *API]

if TYPE_CHECKING:
    from clue.api import Comparison, Run, RunResults, RunSpec, compare, evaluate, read_run, run, score  # noqa: F401


def __getattr__(name: str) -> Any:
    if name in API:
        from clue import api  # the one import hidden in a function on purpose (see the docstring)

        return getattr(api, name)
    raise AttributeError(f"module 'clue' has no attribute {name!r}")

"""Errors a user can act on. The CLI turns them into a message and an exit status."""

from __future__ import annotations


class ClueError(Exception):
    """Base class for errors the CLI reports without a traceback."""

    exit_code = 1


class DataError(ClueError):
    """A dataset file is unreadable or malformed.

    The message always names the file, and where known the record (line, row,
    key) and the field, so a user can find the problem without reading code.
    """

    exit_code = 2

    def __init__(self, path: object, problem: str, record: str | None = None, field: str | None = None):
        self.path = str(path)
        self.problem = problem
        self.record = record
        self.field = field
        where = [self.path]
        if record is not None:
            where.append(record)
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{': '.join(where)}: {problem}")


class UsageError(ClueError):
    """The command line or a configuration asks for something impossible."""

    exit_code = 2


DISTRIBUTION = "clue-eval"  # the name clue is installed by (pip install clue-eval); "clue" on the index is another project

# Extras whose packages need torch. No extra installs torch: pip would pull the multi-GB CUDA build.
TORCH_EXTRAS = frozenset({"hf", "bertscore"})
TORCH_HINT = (
    "torch is in no extra: install the build for this machine first "
    "(CPU only: pip install torch --index-url https://download.pytorch.org/whl/cpu; "
    "a GPU: the command from https://pytorch.org/get-started/locally/)"
)


class MissingExtra(ClueError):
    """An optional dependency is not installed."""

    exit_code = 3

    def __init__(self, module: str, extra: str, purpose: str):
        advice = f"Install it with: pip install '{DISTRIBUTION}[{extra}]'"
        if extra in TORCH_EXTRAS or module == "torch":
            advice = f"{TORCH_HINT}, then: pip install '{DISTRIBUTION}[{extra}]'"
        super().__init__(f"{purpose} needs the Python package {module!r}, which is not installed. {advice}")


def require(module: str, extra: str, purpose: str):
    """Import an optional module lazily, or fail with the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised where the extra is absent
        raise MissingExtra(module, extra, purpose) from exc


def installed(module: str, extra: str, purpose: str) -> None:
    """Fail with the extra to install when ``module`` is absent, without importing it (a start costs nothing)."""
    import importlib.util

    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise MissingExtra(module, extra, purpose)

"""Reading the configuration files users write: sweeps, pairs, approvals, task files (TOML or YAML).

Errors name the file (or what was read) and say what to fix; they never
leave a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from clue.core.errors import DataError, UsageError
from clue.core.files import read_utf8

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10: the core dependency tomli
    import tomli as tomllib


def parse_mapping(text: str, kind: str, where: str) -> dict[str, Any]:
    """Parse YAML or TOML text into a dict; errors name ``where``."""
    try:
        if kind == "toml":
            data = tomllib.loads(text)
        else:
            import yaml  # a core dependency, imported when a YAML file is read

            data = yaml.safe_load(text)
    except Exception as exc:  # the parsers' own error types differ; all mean "fix the file"
        raise UsageError(f"{where}: not valid {kind.upper()} ({exc})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{where}: expected a mapping at the top level")
    return data


def kind_of(path: Path) -> str:
    return "toml" if path.suffix.lower() == ".toml" else "yaml"


def read_mapping(path: Path, what: str = "file", kind: str | None = None) -> dict[str, Any]:
    """A file that must hold a mapping: TOML or YAML by ``kind``, else by its suffix (``.toml`` or YAML)."""
    try:
        text = read_utf8(path)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    except DataError as exc:  # bytes that are not UTF-8: a binary file, another encoding
        raise UsageError(f"{path}: the {what}: {exc.record}: {exc.problem}") from None
    return parse_mapping(text, kind or kind_of(path), str(path))

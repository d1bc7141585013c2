"""What the model-based metrics (BERTScore, UMLS-F1) share: the "cannot run here" signal and option parsing."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

from clue.core.errors import UsageError


class MetricUnavailable(Exception):
    """The metric cannot run here; the message is one line saying what to install or configure."""


def missing_modules(modules: Mapping[str, str]) -> list[str]:
    """The distributions (keys) whose import module (values) is not installed; imports nothing."""
    return [package for package, module in modules.items() if importlib.util.find_spec(module) is None]


def as_bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise UsageError(f"--metric {key} takes true or false, got {value!r}")


def as_int(value: Any, key: str) -> int:
    if isinstance(value, bool):
        raise UsageError(f"--metric {key} takes a whole number, got {value!r}")
    try:
        number = value if isinstance(value, int) else int(str(value).strip())
    except ValueError:
        raise UsageError(f"--metric {key} takes a whole number, got {value!r}") from None
    if number < 0:
        raise UsageError(f"--metric {key} takes a whole number >= 0, got {value!r}")
    return number

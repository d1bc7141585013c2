"""Installed package versions, for the record: every result says what computed it."""

from __future__ import annotations

from collections.abc import Iterable


def installed_versions(distributions: Iterable[str]) -> dict[str, str]:
    """Versions of the named distributions; ones not installed are left out."""
    import importlib.metadata as md  # ~25 ms: only when a result is written, not at start

    found: dict[str, str] = {}
    for name in distributions:
        try:
            found[name] = md.version(name)
        except md.PackageNotFoundError:
            continue
    return found


def version_of(distribution: str) -> str | None:
    """One distribution's version, or None when it is not installed."""
    return installed_versions([distribution]).get(distribution)

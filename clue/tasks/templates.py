"""Prompt templates: a task's own ``prompts/`` folder or a user's override folder, and the hashes of those used."""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

from clue.core.errors import UsageError
from clue.core.files import read_utf8, sha256_text


@cache
def package_folder(package: str) -> Traversable:
    """A package's folder, found once: a task's templates are looked up for every prompt it builds."""
    return resources.files(package)


@dataclass(frozen=True)
class Template:
    name: str
    text: str
    source: str  # "builtin" or the override file's path

    @property
    def sha256(self) -> str:
        return sha256_text(self.text)

    def fill(self, **values: Any) -> str:
        # string.Template with $name placeholders: clinical text is full of
        # braces and percent signs, which str.format would trip over.
        return string.Template(self.text).substitute(values).strip()

    def fill_exact(self, values: Mapping[str, Any]) -> str:
        """Filled without stripping: reference templates keep their leading and trailing newlines."""
        return string.Template(self.text).substitute(values)

    def placeholders(self) -> list[str]:
        found: dict[str, None] = {}
        for match in string.Template.pattern.finditer(self.text):
            name = match.group("named") or match.group("braced")
            if name:
                found.setdefault(name, None)
        return list(found)


class Templates:
    """Prompt templates: a task's own (its ``prompts/`` folder) or a user's override folder.

    A file ``<task>.<part>.txt`` in the override folder replaces the task's
    file of the same name; the hashes of the templates actually used go into
    the manifest. A wording variant n (``for_wording``) reads
    ``variants/w<n>/<task>.<part>.txt`` in both places instead; each
    variant folder is a complete set, so a missing file is an error, never
    a silent fall back to the default wording.
    """

    def __init__(self, override_dir: str | Path | None = None):
        self.override_dir = Path(override_dir) if override_dir else None
        self.used: dict[str, Template] = {}
        self.wording = 0

    def for_wording(self, wording: int) -> Templates:
        """The same templates in another wording; what either uses goes into one manifest."""
        if wording == self.wording:
            return self
        other = Templates(self.override_dir)
        other.used = self.used
        other.wording = wording
        return other

    def get(self, name: str, builtin: Traversable | Path | Callable[[], Traversable | Path | None] | None) -> Template:
        """The template ``name``: the override folder's, else the one in ``builtin`` (a folder, or a function
        giving it, asked only when the template is read the first time: a prompt per item asks again)."""
        folder = ("variants", f"w{self.wording}") if self.wording else ()
        key = "/".join([*folder, name])
        if key in self.used:
            return self.used[key]
        if callable(builtin):
            builtin = builtin()
        filename = f"{name}.txt"
        relative = "/".join([*folder, filename])
        override = self.override_dir / relative if self.override_dir else None
        if override is not None and override.is_file():
            tpl = Template(name, read_utf8(override), str(override))
        else:
            found = builtin.joinpath(relative) if builtin is not None else None
            if found is None or not found.is_file():
                raise UsageError(f"no prompt template named {relative!r}")
            tpl = Template(name, read_utf8(found), "builtin")
        self.used[key] = tpl
        return tpl

    def manifest(self) -> dict[str, dict[str, str]]:
        return {name: {"sha256": t.sha256, "source": t.source} for name, t in sorted(self.used.items())}

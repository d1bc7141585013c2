"""Access is the user's to lower: whose word makes a task public, and which data is credentialed whatever is declared.

A task's ``access`` decides whether the egress guard checks where its text
goes (``clue.pipeline.egress``). Declaring ``access = "public"`` lowers that
protection, so the declaration counts only where it comes from the user:

- clue's own tasks (MeQSum and LongHealth are public) and tasks the user's own
  Python registers (``clue.tasks.registry.register``) count as declared;
- a **task file** or a task from an installed **package** that declares
  ``public`` counts as public only when the user confirms it: on the command
  line (``--public-task PATH`` for a task file, ``--public-task NAME`` for
  either), or in the user's approvals file (the same one as for endpoints)::

      [[public_task]]
      sha256 = "<the task file's sha256: sha256sum tasks/nli_public.toml>"
      note = "our own synthetic set"

      [[public_task]]
      name = "pkg_task"        # a task from an installed package, by name
      note = "the package's data is public (https://...)"

  A task file is confirmed by its hash, so an edited file must be confirmed
  again. Unconfirmed, it is credentialed: a cloned project's task file is
  data, and whoever wrote it is not the user whose agreement binds.
- a data file that is a **known credentialed release** (by file name: the
  names clue's credentialed tasks read, MedNLI's other splits, MIMIC-IV-Note
  tables; or by the sha256 of a verified release) is credentialed whatever a
  task declares and whoever confirmed it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clue.core.access import CREDENTIALED, PUBLIC, is_credentialed
from clue.core.errors import UsageError
from clue.core.files import sha256_file
from clue.tasks.registry import all_builtin_tasks, origin_of
from clue.tasks.userfile import FileTask, is_task_file

#: file names of credentialed data that no task declares as its own: MedNLI's other splits, MIMIC-IV-Note's tables
OTHER_CREDENTIALED_FILES = (
    "mli_train_v1.jsonl", "mli_dev_v1.jsonl",
    "discharge.csv", "discharge.csv.gz", "radiology.csv", "radiology.csv.gz",
    "discharge_detail.csv", "discharge_detail.csv.gz", "radiology_detail.csv", "radiology_detail.csv.gz",
)
#: where a declared access is the user's own word: clue's tasks and the user's own Python
TRUSTED_ORIGINS = ("builtin", "registered")


@dataclass(frozen=True)
class Confirmations:
    """What the user confirmed as public: task files and names from the command line, hashes and names from their file."""

    paths: frozenset[Path] = frozenset()
    names: frozenset[str] = frozenset()
    sha256s: frozenset[str] = frozenset()
    package_names: frozenset[str] = frozenset()

    @classmethod
    def of(cls, public_tasks: Sequence[str], entries: Sequence[Mapping[str, str]] = ()) -> Confirmations:
        paths = {Path(p).expanduser().resolve() for p in public_tasks if is_task_file(p)}
        names = {p for p in public_tasks if not is_task_file(p)}
        return cls(frozenset(paths), frozenset(names),
                   frozenset(e["sha256"].lower() for e in entries if "sha256" in e),
                   frozenset(e["name"] for e in entries if "name" in e))

    def covers(self, task: Any) -> str:
        """How the user confirmed ``task`` as public ("" when they did not)."""
        if task.name in self.names:
            return f"--public-task {task.name}"
        if isinstance(task, FileTask):
            if task.spec.path in self.paths:
                return f"--public-task {task.spec.path}"
            if task.spec.sha256 in self.sha256s:
                return "public_task sha256 in the approvals file"
        elif task.name in self.package_names:
            return "public_task name in the approvals file"
        return ""


@dataclass(frozen=True)
class Decision:
    name: str
    access: str
    why: str = ""  # for a declared public access that did not count: what happened and what to do
    confirmed_by: str = ""  # how the user confirmed a public task file or package task

    @property
    def credentialed(self) -> bool:
        return is_credentialed(self.access)


@dataclass
class KnownReleases:
    """File names and hashes of the credentialed data clue knows (read from its own tasks' declarations)."""

    names: dict[str, str] = field(default_factory=dict)  # file name -> which release
    sha256s: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_clue(cls) -> KnownReleases:
        known = cls()
        for task in all_builtin_tasks():
            if not is_credentialed(task.access):
                continue
            files = task.declaration.files
            for name in (files.expected, *files.alternatives):
                known.names[name.lower()] = f"{task.name}'s credentialed release"
            release = task.declaration.release
            if release is not None and release.sha256:
                known.sha256s[release.sha256] = f"{task.name}'s credentialed release"
        for name in OTHER_CREDENTIALED_FILES:
            known.names.setdefault(name, "a credentialed PhysioNet release (MedNLI or MIMIC-IV-Note)")
        return known

    def which(self, path: Path | None) -> str:
        """The release ``path`` is ("" when it is none clue knows)."""
        if path is None:
            return ""
        found = self.names.get(path.name.lower())
        if found or not self.sha256s or not path.is_file():
            return found or ""
        return self.sha256s.get(sha256_file(path), "")


def needs_confirmation(task: Any) -> bool:
    """Whether ``task`` declares ``public`` where only the user's confirmation makes it count."""
    return not is_credentialed(getattr(task, "access", None)) and origin_of(task.name) not in TRUSTED_ORIGINS


def decide(task: Any, data: Path | None, confirmed: Confirmations, known: KnownReleases | None = None) -> Decision:
    """The access that counts for ``task`` reading ``data`` (see the module's docstring)."""
    declared = getattr(task, "access", None)
    if is_credentialed(declared):
        return Decision(task.name, CREDENTIALED)
    release = (known or KnownReleases.of_clue()).which(data)
    if release:
        return Decision(task.name, CREDENTIALED, f"{task.name} declares access = \"public\", but its data file "
                        f"{data} is {release}: it counts as credentialed whatever a task declares")
    origin = origin_of(task.name)
    if origin in TRUSTED_ORIGINS:
        return Decision(task.name, PUBLIC)
    how = confirmed.covers(task)
    if how:
        return Decision(task.name, PUBLIC, confirmed_by=how)
    if isinstance(task, FileTask):
        path, digest = task.spec.path, task.spec.sha256
        return Decision(task.name, CREDENTIALED, (
            f"{task.name} declares access = \"public\" in {path}, a task file you have not confirmed (a cloned "
            f"project's file cannot make data public). If its data is public, confirm it with --public-task {path}, "
            f"or add to your approvals file:\n  [[public_task]]\n  sha256 = \"{digest}\"\n  note = \"why it is public\""))
    return Decision(task.name, CREDENTIALED, (
        f"{task.name} ({origin}) declares access = \"public\", which you have not confirmed. If its data is public, "
        f"confirm it with --public-task {task.name}, or add to your approvals file:\n  [[public_task]]\n"
        f"  name = \"{task.name}\"\n  note = \"why it is public\""))


def decide_all(tasks: Sequence[Any], data: Mapping[str, Path | None], confirmed: Confirmations) -> list[Decision]:
    known = KnownReleases.of_clue()
    return [decide(t, data.get(t.name), confirmed, known) for t in tasks]


def read_public_tasks(raw: Mapping[str, Any], path: Path) -> list[dict[str, str]]:
    """The ``[[public_task]]`` entries of the user's approvals file (each a sha256 or a name)."""
    entries = raw.get("public_task", [])
    if not isinstance(entries, list):
        raise UsageError(f"{path}: 'public_task' must be a list of tables ([[public_task]] with sha256 = \"...\")")
    found: list[dict[str, str]] = []
    for n, entry in enumerate(entries, start=1):
        keys: Collection[str] = entry.keys() if isinstance(entry, dict) else ()
        if not isinstance(entry, dict) or not (set(keys) & {"sha256", "name"}) or not all(
            isinstance(entry.get(k), str) for k in ("sha256", "name") if k in entry
        ):
            raise UsageError(f"{path}: public_task entry {n} needs sha256 = \"<task file's sha256>\" or name = \"TASK\"")
        digest = entry.get("sha256")
        if digest is not None and (len(digest) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digest)):
            raise UsageError(f"{path}: public_task entry {n}: sha256 must be 64 hex digits")
        found.append({k: entry[k] for k in ("sha256", "name") if k in entry})
    return found

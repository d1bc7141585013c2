"""Suites: which tasks are run together, and which aggregate scores (levels) they make.

A level score exists only because a suite names it. ``CLUE`` is the built-in
suite of the six CLUE tasks: level 1 (MedNLI, MeQSum, Problem Summary),
level 2 (MeDiSumQA, MeDiSumCode, LongHealth) and the overall score over all
six. A task added to clue (built in, from a package, from a task file) is in
no CLUE level: what it declares as its ``level`` is a description, not a
place in CLUE's scores. To score it in a level, write a suite file that
names it (docs/tasks.md, "Suites"):

    name = "my-suite"
    title = "My suite"
    tasks = ["mednli", "meqsum", "tasks/smoking.toml"]   # task names or task files
    protocols = ["clue"]                                 # optional
    [levels.core]                                        # optional; default: "overall" over every task
    tasks = ["mednli", "meqsum"]
    title = "core"

``resolve_tasks`` turns ``--tasks`` into task names: ``all`` is the CLUE
suite's tasks, ``level1``/``level2``/``overall`` its levels (or, given a
suite, that suite's), a suite name or a suite file (TOML/YAML with a
``tasks`` list and no ``data``, which every task file has) all its tasks.

A run's suite is ``RunSpec.suite`` (a built-in name or a suite file's
path); ``suite_levels(config.suite)`` are the levels that score it, and a run
that is not CLUE's records ``suite_record`` in results.json (read back by
``run_suite``) and ``manifest_record`` in manifest.json.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clue.core.errors import UsageError
from clue.core.files import sha256_file
from clue.core.results import RunResults
from clue.core.suggest import did_you_mean
from clue.formats.config import read_mapping
from clue.tasks.protocols import PROTOCOLS
from clue.tasks.registry import all_tasks, find_task, get_task, is_task_file, load_task_file
from clue.tasks.userfile import TASK_FILE_SUFFIXES

AGGREGATES = ("mean",)  # how a level combines its member task scores
SUITE_KEYS = ("name", "title", "description", "tasks", "protocols", "levels")
LEVEL_KEYS = ("tasks", "title", "aggregate")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Level:
    """One aggregate score of a suite: the mean (``aggregate``) of its member tasks' scores."""

    name: str  # "level1", "level2", "overall", or a user's name
    tasks: tuple[str, ...]
    title: str  # "level 1", "the overall score", ...
    aggregate: str = "mean"


@dataclass(frozen=True)
class Suite:
    """Tasks run together, the levels they are scored in and the protocols they support."""

    name: str
    title: str
    tasks: tuple[str, ...]  # in the suite's order
    levels: tuple[Level, ...]
    protocols: tuple[str, ...]  # protocol profiles every task of the suite has settings for
    source: str = "builtin"  # "builtin" or the suite file's path

    def level_members(self) -> dict[str, tuple[str, ...]]:
        """Level name -> its tasks, in the suite's order of levels."""
        return {level.name: level.tasks for level in self.levels}

    def level(self, name: str) -> Level | None:
        return next((lv for lv in self.levels if lv.name == name), None)

    @property
    def is_builtin(self) -> bool:
        return self.source == "builtin"


CLUE = Suite(
    name="clue",
    title="CLUE",
    tasks=("mednli", "meqsum", "problem_summary", "medisumqa", "medisumcode", "longhealth"),
    levels=(
        Level("level1", ("mednli", "meqsum", "problem_summary"), "level 1"),
        Level("level2", ("medisumqa", "medisumcode", "longhealth"), "level 2"),
        Level("overall", ("mednli", "meqsum", "problem_summary", "medisumqa", "medisumcode", "longhealth"),
              "the overall score"),
    ),
    protocols=("clue", "clue-2024-06", "clue-2025-01"),
)
DEFAULT_SUITE = CLUE.name

_BUILTIN: dict[str, Suite] = {CLUE.name: CLUE}


def builtin_suites() -> dict[str, Suite]:
    return dict(_BUILTIN)


def is_suite_file(spec: str | Path) -> bool:
    """A path with a suite file's suffix (TOML/YAML) that is not a task file: it has ``tasks`` and no ``data``."""
    path = Path(str(spec)).expanduser()
    if path.suffix.lower() not in TASK_FILE_SUFFIXES or not path.is_file():
        return False
    try:
        data = read_mapping(path, "suite file")
    except UsageError:
        return False
    return "tasks" in data and "data" not in data


def get_suite(name_or_path: str | Path, base: Path | None = None) -> Suite:
    """A built-in suite by name, or the suite a suite file declares (its task files are registered).

    A relative path is read relative to ``base`` (default: the working directory).
    """
    text = str(name_or_path)
    if text in _BUILTIN:
        return _BUILTIN[text]
    path = Path(text).expanduser()
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    if path.suffix.lower() in TASK_FILE_SUFFIXES or path.is_file():
        return read_suite_file(path)
    hint = did_you_mean(text, _BUILTIN)
    raise UsageError(f"unknown suite {text!r}{hint} Built-in suites: {', '.join(_BUILTIN)}; "
                     f"or give a suite file ({', '.join(TASK_FILE_SUFFIXES)})")


def _strings(value: Any, where: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, list) or not value \
            or not all(isinstance(v, str) and v.strip() for v in value):
        raise UsageError(f"{where}: expected a non-empty list of names, e.g. [\"mednli\", \"meqsum\"]")
    return [v.strip() for v in value]


def _text(data: Mapping[str, Any], key: str, where: str, default: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{where}: {key}: expected text")
    return value.strip()


def read_suite_file(path: str | Path) -> Suite:
    """Read and check a suite file (TOML or YAML); every error names the file and the field."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UsageError(f"{path}: no such suite file")
    path = path.resolve()
    where = str(path)
    data = read_mapping(path, "suite file")
    for key in data:
        if key not in SUITE_KEYS:
            raise UsageError(f"{where}: {key}: unknown key; known keys: {', '.join(SUITE_KEYS)}")
    if "name" not in data:
        raise UsageError(f"{where}: name: missing: the suite's name (letters, digits, _ . -)")
    name = _text(data, "name", where, "")
    if not NAME_RE.match(name):
        raise UsageError(f"{where}: name: {name!r} is not a suite name (letters, digits, _ . -)")
    if name in _BUILTIN:
        raise UsageError(f"{where}: name: {name!r} is the built-in suite's name; give the suite its own")
    title = _text(data, "title", where, name)
    if "tasks" not in data:
        raise UsageError(f"{where}: tasks: missing: the suite's tasks (task names or task files)")
    tasks: list[str] = []
    for piece in _strings(data["tasks"], f"{where}: tasks"):
        if is_task_file(piece):
            file = Path(piece).expanduser()
            file = file if file.is_absolute() else path.parent / file
            if not file.is_file():
                raise UsageError(f"{where}: tasks: no such task file {piece!r} (read relative to the suite file)")
            tasks.append(load_task_file(file).name)
        elif find_task(piece) is not None:
            tasks.append(piece)
        else:
            hint = did_you_mean(piece, all_tasks())
            raise UsageError(f"{where}: tasks: unknown task {piece!r}{hint}")
    if len(set(tasks)) != len(tasks):
        twice = sorted({t for t in tasks if tasks.count(t) > 1})
        raise UsageError(f"{where}: tasks: {', '.join(twice)} named twice")
    supported = [p for p in PROTOCOLS if all(p in get_task(t).declaration.protocols for t in tasks)]
    if "protocols" in data:
        protocols = _strings(data["protocols"], f"{where}: protocols")
        for p in protocols:
            if p not in PROTOCOLS:
                raise UsageError(f"{where}: protocols: unknown protocol {p!r}{did_you_mean(p, PROTOCOLS)} Known: {', '.join(PROTOCOLS)}")
            lacking = [t for t in tasks if p not in get_task(t).declaration.protocols]
            if lacking:
                raise UsageError(f"{where}: protocols: {', '.join(lacking)} has no settings for protocol {p!r}")
    else:
        protocols = supported
    if not protocols:
        raise UsageError(f"{where}: protocols: no protocol profile has settings for every task of the suite")
    levels = _levels(data.get("levels"), tasks, where)
    return Suite(name=name, title=title, tasks=tuple(tasks), levels=tuple(levels), protocols=tuple(protocols),
                 source=where)


def _levels(value: Any, tasks: list[str], where: str) -> list[Level]:
    if value is None:
        return [Level("overall", tuple(tasks), "the overall score")]
    if not isinstance(value, Mapping) or not value:
        raise UsageError(f"{where}: levels: expected a table of levels, e.g. [levels.core] tasks = [...]")
    out = []
    for name, spec in value.items():
        at = f"{where}: levels.{name}"
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise UsageError(f"{at}: not a level name (letters, digits, _ . -)")
        if name in tasks:
            raise UsageError(f"{at}: a level cannot have a task's name")
        if not isinstance(spec, Mapping):
            raise UsageError(f"{at}: expected a table with tasks (and title, aggregate)")
        for key in spec:
            if key not in LEVEL_KEYS:
                raise UsageError(f"{at}: {key}: unknown key; known keys: {', '.join(LEVEL_KEYS)}")
        if "tasks" not in spec:
            raise UsageError(f"{at}: tasks: missing: the level's tasks")
        members = _strings(spec["tasks"], f"{at}: tasks")
        names = [_member(m, tasks, where, at) for m in members]
        aggregate = _text(spec, "aggregate", at, "mean")
        if aggregate not in AGGREGATES:
            raise UsageError(f"{at}: aggregate: unknown aggregate {aggregate!r}; known: {', '.join(AGGREGATES)}")
        out.append(Level(name, tuple(dict.fromkeys(names)), _text(spec, "title", at, name), aggregate))
    return out


def _member(piece: str, tasks: list[str], suite_file: str, at: str) -> str:
    """A level's member: one of the suite's tasks, by name or by the task file the suite names."""
    name = piece
    if is_task_file(piece):
        file = Path(piece).expanduser()
        file = file if file.is_absolute() else Path(suite_file).parent / file
        name = load_task_file(file).name if file.is_file() else piece
    if name not in tasks:
        raise UsageError(f"{at}: tasks: {piece!r} is not one of the suite's tasks ({', '.join(tasks)})")
    return name


# -- the run's suite, as results.json and manifest.json record it --------------------------------------
def suite_levels(suite: Suite | str | None = None) -> dict[str, tuple[str, ...]]:
    """Level name -> member tasks of a suite (a Suite, a name or a suite file; default: CLUE).

    What scores a run's levels: ``suite_levels(config.suite)``; for a results dict, ``suite_levels(run_suite(results))``.
    """
    if suite is None:
        return CLUE.level_members()
    return (suite if isinstance(suite, Suite) else get_suite(suite)).level_members()


def suite_record(suite: Suite) -> dict[str, Any]:
    """results.json's ``"suite"``: the suite's name, title, tasks and levels (the report needs no file)."""
    return {
        "name": suite.name,
        "title": suite.title,
        "tasks": list(suite.tasks),
        "levels": {lv.name: {"tasks": list(lv.tasks), "title": lv.title, "aggregate": lv.aggregate} for lv in suite.levels},
        "protocols": list(suite.protocols),
        "source": suite.source,
    }


def manifest_record(suite: Suite) -> dict[str, Any]:
    """manifest.json's ``"suite"``: the name, and a suite file's path and sha256."""
    record: dict[str, Any] = {"name": suite.name}
    if not suite.is_builtin:
        record["file"] = suite.source
        record["sha256"] = sha256_file(Path(suite.source))
    return record


def suite_from_record(record: Any) -> Suite:
    """The suite a results.json records (absent: CLUE); a record it cannot read is an error."""
    if record is None:
        return CLUE
    if isinstance(record, str):
        if record in _BUILTIN:
            return _BUILTIN[record]
        raise UsageError(f"results name the suite {record!r}, which is not built in")
    if not isinstance(record, Mapping) or not isinstance(record.get("name"), str):
        raise UsageError("results.json: suite: expected the suite's record (name, tasks, levels)")
    if record["name"] in _BUILTIN and record.get("source", "builtin") == "builtin":
        return _BUILTIN[record["name"]]
    levels = tuple(
        Level(str(name), tuple(lv.get("tasks") or ()), str(lv.get("title") or name), str(lv.get("aggregate") or "mean"))
        for name, lv in (record.get("levels") or {}).items()
    )
    return Suite(name=record["name"], title=str(record.get("title") or record["name"]),
                 tasks=tuple(record.get("tasks") or ()), levels=levels,
                 protocols=tuple(record.get("protocols") or ()), source=str(record.get("source") or "builtin"))


def run_suite(results: RunResults) -> Suite:
    """The suite a run's results were scored in (no ``"suite"`` key: CLUE)."""
    return suite_from_record(results.suite)


def check_protocol(suite: Suite, protocol: str) -> None:
    if protocol in PROTOCOLS and protocol not in suite.protocols:
        raise UsageError(f"the suite {suite.name!r} does not support the protocol {protocol!r}; "
                         f"it supports: {', '.join(suite.protocols)}")


# -- --tasks --------------------------------------------------------------------------------------------
def resolve_tasks(spec: str | Iterable[str], base: str | Path | None = None, suite: Suite | str | None = None) -> list[str]:
    """'all', level names, task names, task files and suites (comma-separated or a list) -> task names.

    ``all`` is the suite's tasks and a level name its level's members (the
    suite: ``suite``, default CLUE: ``--tasks level1`` is CLUE's level 1). A
    task file (``.toml``, ``.yaml``, ``.yml``) is read and registered; a
    suite name or a suite file stands for all its tasks. A relative path is
    read relative to ``base`` (default: the working directory).
    """
    the_suite = CLUE if suite is None else suite if isinstance(suite, Suite) else get_suite(suite, _base(base))
    parts = [spec] if isinstance(spec, str) else list(spec)
    pieces = [p.strip() for part in parts for p in str(part).split(",") if p.strip()]
    members = the_suite.level_members()
    names: list[str] = []
    for piece in pieces:
        path = Path(piece).expanduser()
        located = path if path.is_absolute() or base is None else Path(base) / path
        if piece == "all":
            names += the_suite.tasks
        elif piece in members:
            names += members[piece]
        elif piece in _BUILTIN and find_task(piece) is None:
            names += _BUILTIN[piece].tasks
        elif is_task_file(piece) and is_suite_file(located):
            names += read_suite_file(located).tasks
        elif is_task_file(piece):
            names.append(load_task_file(located).name)
        else:
            task = find_task(piece)
            if task is None:
                hint = did_you_mean(piece, [*all_tasks(), *members, "all", *_BUILTIN])
                raise UsageError(f"unknown task {piece!r}{hint} Known tasks: {', '.join(all_tasks())}")
            names.append(task.name)
    if not names:
        raise UsageError("no tasks given")
    return list(dict.fromkeys(names))


def _base(base: str | Path | None) -> Path | None:
    return None if base is None else Path(base)


def tasks_in_suite(names: Iterable[str], suite: Suite) -> list[str]:
    """The names, checked to be the suite's tasks (``--tasks`` with ``--suite``), in the order given."""
    names = list(names)
    outside = [n for n in names if n not in suite.tasks]
    if outside:
        raise UsageError(f"{', '.join(outside)}: not in the suite {suite.name!r} (its tasks: {', '.join(suite.tasks)}); "
                         "run them without --suite, or name them in the suite file")
    return names

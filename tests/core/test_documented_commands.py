"""Every ``clue ...`` command written in README.md and docs/*.md parses: its subcommand exists and takes its options."""

from __future__ import annotations

import re
import shlex
from typing import Any

import pytest
import typer

from clue.cli import app
from tests.helpers.cli import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _code_lines(text: str):
    """Command lines of fenced and indented blocks (continuations joined) and of inline code spans."""
    lines = text.splitlines()
    fenced = False
    block: list[str] = []
    for line in lines:
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced or line.startswith("    "):
            block.append(line.strip())
        else:
            yield from re.findall(r"`([^`]+)`", line)
    joined = "\n".join(block).replace("\\\n", " ")
    yield from joined.splitlines()


def _commands(text: str):
    for line in _code_lines(text):
        line = re.sub(r"(^|\s)#.*$", "", line)  # a shell comment
        for part in re.split(r"&&|\|\||;|\|", line):
            part = part.strip()
            if part.startswith("$ "):
                part = part[2:]
            if re.match(r"clue\s+[a-z]", part):
                yield part


def documented():
    found = []
    for path in DOCS:
        for command in _commands(path.read_text(encoding="utf-8")):
            found.append(pytest.param(command, id=f"{path.name}: {command[:60]}"))
    return found


ROOT = typer.main.get_command(app)


def _check(command: str) -> None:
    try:
        words = shlex.split(command.replace("[", " ").replace("]", " "))
    except ValueError:
        words = command.replace("[", " ").replace("]", " ").split()
    words = words[1:]
    cmd: Any = ROOT
    path = ["clue"]
    while getattr(cmd, "commands", None) is not None and words and not words[0].startswith("-"):
        name = words.pop(0)
        if "/" in name:  # prose: `clue data review export/import` names two commands
            for each in name.split("/"):
                _check(shlex.join(["clue", *path[1:], each, *words]))
            return
        sub = cmd.commands.get(name)
        if sub is None:
            if name in ("...", "…"):
                return
            raise AssertionError(f"{' '.join(path)} has no command {name!r} (in: {command})")
        cmd, path = sub, [*path, name]
    options = {opt for param in cmd.params for opt in (*param.opts, *param.secondary_opts)}
    options |= {"--help"}
    for word in words:
        if not word.startswith("-") or word in ("-", "--") or re.match(r"-\d", word):
            continue
        name = word.split("=", 1)[0]
        if name.startswith("-") and not name.startswith("--") and len(name) > 2:
            name = name[:2]  # -n416 or -oDIR
        assert name in options, f"{' '.join(path)} takes no option {name!r} (in: {command})"


@pytest.mark.parametrize("command", documented())
def test_documented_command_parses(command):
    _check(command)


def test_the_docs_hold_commands_to_check():
    assert len(documented()) > 50


@pytest.mark.parametrize("command", ["clue run --no-such-option 1", "clue nosuchcommand", "clue metrics nosuch"])
def test_a_wrong_command_or_option_is_caught(command):
    with pytest.raises(AssertionError):
        _check(command)


def test_nothing_refers_to_a_file_outside_the_repository():
    import subprocess

    listed = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True)
    if listed.returncode == 0:
        tracked = listed.stdout.split()
    else:  # a copy without git (the installed wheel's test run)
        skip = (".venv", ".git", "dist", "build")
        tracked = [str(p.relative_to(REPO)) for p in REPO.rglob("*") if p.is_file() and p.relative_to(REPO).parts[0] not in skip]
    for name in tracked:
        path = REPO / name
        if path.suffix in (".py", ".md", ".toml", ".txt", ".j2", ".sh", ".yaml", ".cfg") or name == ".ci/run":
            assert "SPEC" + ".md" not in path.read_text(encoding="utf-8", errors="replace"), name

"""``clue protocol fetch``: the reference's prompt texts, fetched at a pinned commit, never shipped.

The reference profiles (``clue-2024-06``, ``clue-2025-01``) build prompts
from the public reference implementation's own texts. clue does not carry
them: this module downloads the reference's evaluation scripts at the pinned
commit (raw file URLs, each checked against a pinned sha256, resumable, put
in place atomically), reads the prompt texts out of them without running
them (the module-level string assignments, parsed with ``ast``) and writes a
template folder, one ``<task>.<part>.txt`` per text as clue's own tasks
have, into the user's cache (``clue.tasks.protocols.protocol_dir``):

    <task>.system.txt   the system prompt, verbatim
    <task>.user.txt     the user turn's template
    <task>.answer.txt   a demonstration's answer (the pre-fill: it with an empty answer)

The reference's ``str.format`` fields become ``$field`` placeholders (a ``$``
in its text becomes ``$$``), so the texts fill exactly as the reference's
did. A ``SOURCES.json`` records the commit, the files and their hashes.
"""

from __future__ import annotations

import ast
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from clue.builders.fetch import FetchError, download
from clue.core.errors import DataError, UsageError
from clue.core.files import atomic_writer, sha256_file, write_json
from clue.tasks.protocols import REFERENCE_REPO, get_protocol, protocol_dir

RAW_BASE = "https://raw.githubusercontent.com"

# The evaluation script of each task, per reference profile, with the sha256 of
# the file at that commit (computed from the repository at the pinned commit).
SCRIPTS: dict[str, dict[str, tuple[str, str]]] = {
    "clue-2024-06": {
        "mednli": ("eval/eval_mednli.py", "3df0b73b6feef4e062d820dba7c98a4f05fb68d98be6840d13b7bf33ea3506c2"),
        "meqsum": ("eval/eval_meqsum.py", "8a14df20c449bd24a27ec12893d148165aac46009f71494512b98c2a7ac87460"),
        "problem_summary": (
            "eval/eval_ProblemSummary.py", "7ef184f04e547032b58f0a3f1823ad14cdd07ae62d5b833228aeae4dc474e563"
        ),
        "medisumqa": ("eval/eval_MeDiSumQA.py", "145605d43b17b8673dc8bf43a5d4c5d1792313a83d291fc528d7596da9efe540"),
        "medisumcode": ("eval/eval_MeDiSumCode.py", "7198de4f6eb44fed23268d535b61379b96c1dd79422dfbac66117032935a0702"),
        "longhealth": ("eval/eval_LongHealth.py", "fcf5ded930997711218c16ec143e93ace6f35e08406c7f336eb81c552f7f4b77"),
    },
    "clue-2025-01": {
        "mednli": ("eval/eval_mednli.py", "35e9b552976e220d843d4baeb850a916a92eefdcbbd4ae66f39d046230a562e2"),
        "meqsum": ("eval/eval_meqsum.py", "548af78a7891b608bc0c9134bb6191ba2a5bdeccb8d0dd3b93739696c2a70073"),
        "problem_summary": (
            "eval/eval_ProblemSummary.py", "9326e038cc4879efa160d17dbb5e0d795efbaf02044819b26a67b78197bec7bf"
        ),
        "medisumqa": ("eval/eval_MeDiSumQA.py", "080dc25c526f58b158cec5f002a4948e38c4d7bacb3479e9f1139f2bb8601471"),
        "medisumcode": ("eval/eval_MeDiSumCode.py", "bfbe0dd9f14660d6c91be9af63e7bdd84f37792b6f56ce73768a82ad81da83a8"),
        "longhealth": ("eval/eval_LongHealth.py", "dacb51c83a2e56a50b4772581c78cd1b89e89d63bee48a68f59204cb09d5405b"),
    },
}

# template part -> the script's module-level variable
PARTS = {"system": "sys_prompt", "user": "user_prompt_template", "answer": "assistant_response_template"}
# LongHealth's script differs: one prompt template, documents joined by a separator (the default of
# its prompt builder's ``separator`` argument, between blank lines), and the text of the added option F.
LONGHEALTH_PARTS = {"system": "sys_prompt", "user": "prompt_template"}
LONGHEALTH_BUILDER = "create_prompt"
LONGHEALTH_OPTION_F = "answer_f"


@dataclass
class FetchedProtocol:
    name: str
    folder: Path
    templates: list[str]


def script_url(base_url: str, commit: str, path: str) -> str:
    return f"{base_url.rstrip('/')}/{REFERENCE_REPO}/{commit}/{path}"


def fetch_protocol(
    name: str,
    base_url: str | None = None,
    dest: Path | None = None,
    scripts: Mapping[str, tuple[str, str]] | None = None,
) -> FetchedProtocol:
    """Download the reference scripts of profile ``name``, extract their prompts, write the template folder."""
    protocol = get_protocol(name)
    if not protocol.is_reference or protocol.commit is None:
        raise UsageError(f"protocol {name!r} uses clue's own prompts; nothing to fetch")
    folder = Path(dest) if dest is not None else protocol_dir(name)
    pinned = scripts if scripts is not None else SCRIPTS[protocol.name]
    downloads = folder / ".downloads"
    written: list[str] = []
    sources = {}
    for task, (path, sha256) in pinned.items():
        local = downloads / protocol.commit / path
        if not (local.is_file() and sha256_file(local) == sha256):
            part = local.with_name(local.name + ".part")
            download(script_url(base_url or RAW_BASE, protocol.commit, path), part)
            seen = sha256_file(part)
            if seen != sha256:
                part.unlink(missing_ok=True)
                raise FetchError(
                    f"{path} at {protocol.commit[:7]}: sha256 {seen} is not the pinned {sha256}; "
                    "the download was deleted (a wrong mirror, or the file was changed)"
                )
            part.replace(local)
        source = local.read_text(encoding="utf-8")
        texts = extract_longhealth(source, local) if task == "longhealth" else extract_prompts(source, local)
        for part_name, text in texts.items():
            with atomic_writer(folder / f"{task}.{part_name}.txt") as fh:
                fh.write(text)
            written.append(f"{task}.{part_name}.txt")
        sources[task] = {"path": path, "sha256": sha256}
    write_json(folder / "SOURCES.json", {"protocol": protocol.name, "repository": REFERENCE_REPO,
                                         "commit": protocol.commit, "scripts": sources})
    return FetchedProtocol(protocol.name, folder, written)


def extract_prompts(source: str, where: Path) -> dict[str, str]:
    """The script's prompt texts as clue templates: {part: text}, read with ``ast`` (nothing is run)."""
    values = _module_strings(_parse(source, where))
    out = {}
    for part, variable in PARTS.items():
        if variable not in values:
            raise DataError(where, f"no module-level string {variable!r} (the {part} prompt) in the script")
        out[part] = format_to_template(values[variable], where)
    return out


def extract_longhealth(source: str, where: Path) -> dict[str, str]:
    """LongHealth's texts: system, user (its prompt template), separator (the join) and unanswerable (option F)."""
    tree = _parse(source, where)
    values = _module_strings(tree)
    out = {}
    for part, variable in LONGHEALTH_PARTS.items():
        if variable not in values:
            raise DataError(where, f"no module-level string {variable!r} (the {part} prompt) in the script")
        out[part] = format_to_template(values[variable], where)
    separator = option_f = None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == LONGHEALTH_BUILDER:
            args = node.args.args[len(node.args.args) - len(node.args.defaults):]
            for arg, default in zip(args, node.args.defaults):
                if arg.arg == "separator" and isinstance(default, ast.Constant) and isinstance(default.value, str):
                    separator = default.value
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Subscript)
                and isinstance(node.targets[0].slice, ast.Constant) and node.targets[0].slice.value == LONGHEALTH_OPTION_F
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            option_f = node.value.value
    if separator is None or option_f is None:
        raise DataError(where, f"no {LONGHEALTH_BUILDER}(separator=...) default or {LONGHEALTH_OPTION_F!r} text in the script")
    out["separator"] = format_to_template(f"\n\n{separator}\n\n", where)
    out["unanswerable"] = format_to_template(option_f, where)
    return out


def _parse(source: str, where: Path) -> ast.Module:
    try:
        return ast.parse(source)
    except SyntaxError as exc:
        raise DataError(where, f"not a Python script ({exc.msg}, line {exc.lineno})") from None


def _module_strings(tree: ast.Module) -> dict[str, str]:
    values: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            text = _string_value(node.value, values)
            if text is not None:
                values[node.targets[0].id] = text
    return values


def _string_value(node: ast.expr, known: Mapping[str, str]) -> str | None:
    """A string constant, a name bound to one, or a ``+`` of those; else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return known.get(node.id)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _string_value(node.left, known), _string_value(node.right, known)
        return None if left is None or right is None else left + right
    return None


def format_to_template(text: str, where: Path) -> str:
    """A ``str.format`` text as a ``string.Template`` text that fills to the same string."""
    out = []
    for literal, field, spec, conversion in string.Formatter().parse(text):
        out.append(literal.replace("$", "$$"))
        if field is None:
            continue
        if spec or conversion or not field.isidentifier():
            raise DataError(where, f"the template field {{{field}}} is not a plain name")
        out.append("${" + field + "}")
    return "".join(out)

"""``clue suites``: the built-in suites (CLUE), or the suite a suite file declares."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from clue.cli.app import app
from clue.cli.console import console, say
from clue.cli.tables import print_table


@app.command("suites")
def suites_cmd(
    file: list[Path] | None = typer.Option(None, "--file", "-f", help="A suite file (TOML/YAML): show its suite instead (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """List the suites: their tasks, their levels (the tasks each level averages) and the protocols they support."""
    from clue.tasks.suite import builtin_suites, read_suite_file

    suites = [read_suite_file(path) for path in file] if file else list(builtin_suites().values())
    records: list[dict[str, Any]] = [
        {"suite": s.name, "title": s.title, "source": s.source, "tasks": list(s.tasks),
         "levels": {lv.name: {"title": lv.title, "tasks": list(lv.tasks), "aggregate": lv.aggregate} for lv in s.levels},
         "protocols": list(s.protocols)}
        for s in suites
    ]
    if as_json:
        console.print_json(json.dumps(records))
        return
    for r in records:
        rows = [(name, lv["title"], f"{lv['aggregate']} of {', '.join(lv['tasks'])}") for name, lv in r["levels"].items()]
        print_table(console, f"suite {r['suite']}: {r['title']}", ("level", "title", "score"), rows, whole=("level",))
        say(f"tasks: {', '.join(r['tasks'])}")
        say(f"protocols: {', '.join(r['protocols'])}")
        say(f"source: {r['source']}" + ("" if r["source"] == "builtin" else f"  (clue run --suite {r['source']})"))

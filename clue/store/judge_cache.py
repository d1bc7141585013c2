"""The judge store: every judge answer kept per (judge identity, rubric hash, prompt, attempt).

A judging run killed half-way resumes from here; ``clue score RUN_DIR --judge``
asks the judge only what it was never asked; a second judge (another identity)
or a changed rubric (another hash) re-uses nothing. One SQLite file
(``<run dir>/judge_store.sqlite``), one transaction per answer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clue.core.files import canonical_json, make_dirs, sha256_text

FILENAME = "judge_store.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS judge_answers (
    key TEXT PRIMARY KEY,
    judge TEXT NOT NULL,
    rubric TEXT NOT NULL,
    text TEXT,
    error TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    seconds REAL
) WITHOUT ROWID;
"""


def answer_key(judge: Mapping[str, Any], rubric_hash: str, prompt: str, attempt: int) -> str:
    return sha256_text(canonical_json({"judge": dict(judge), "rubric": rubric_hash, "prompt": prompt, "attempt": attempt}))


class JudgeStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        make_dirs(self.path.parent)
        self._db = sqlite3.connect(self.path)
        self._db.executescript(_SCHEMA)

    def get(self, key: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT text, error, prompt_tokens, completion_tokens, seconds FROM judge_answers WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        return dict(zip(("text", "error", "prompt_tokens", "completion_tokens", "seconds"), row))

    def put(self, key: str, judge: str, rubric: str, answer: Mapping[str, Any]) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO judge_answers VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (key, judge, rubric, answer.get("text"), answer.get("error"), answer.get("prompt_tokens"),
                 answer.get("completion_tokens"), answer.get("seconds")),
            )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> JudgeStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

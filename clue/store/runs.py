"""The run store: every completion committed as it arrives, in groups of what arrived together (one SQLite file per run directory).

Rows are keyed by the model's answer-deciding identity and the request as the model sees it, so a
killed run resumes where it stopped; SQLite errors become ``StoreError`` (exit 2). docs/serving.md
("The run store") and docs/faults.md say what is kept and how each fault reads.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clue.core.chat import ChatLayout
from clue.core.errors import ClueError, UsageError
from clue.core.files import canonical_json, make_dirs, sha256_text
from clue.core.records import Completion, Request

STORE_SCHEMA = 1
STORE_FILENAME = "store.sqlite"
# One completion into the store: a new row, or the same request's row replaced unless that would trade a
# success for a failure (a retried failure counts its tries).
_PUT = """INSERT INTO completions (model_key, request_key, request_id, ok, text, error, meta, tries, updated)
          VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)
          ON CONFLICT (model_key, request_key) DO UPDATE SET
              request_id = excluded.request_id, ok = excluded.ok, text = excluded.text,
              error = excluded.error, meta = excluded.meta, tries = completions.tries + 1,
              updated = excluded.updated
          WHERE excluded.ok = 1 OR completions.ok = 0"""

class StoreError(ClueError):
    """The run store cannot be read or written: disk full, read-only, damaged."""

    exit_code = 2


def _kind(exc: sqlite3.Error) -> str:
    name = getattr(exc, "sqlite_errorname", "") or ""  # Python 3.11+
    text = str(exc).lower()
    if name == "SQLITE_FULL" or "disk is full" in text:
        return "full"
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in text or "not a database" in text:
        return "damaged"
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM")) or "readonly" in text or "unable to open" in text:
        return "readonly"
    if name == "SQLITE_BUSY" or "locked" in text:
        return "busy"
    return "other"


def _disk_full(path: Path, exc: sqlite3.Error) -> bool:
    """An I/O error (SQLite says "disk I/O error" when it cannot grow its WAL files) on a disk with no room left."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    if not (name.startswith("SQLITE_IOERR") or "disk i/o error" in str(exc).lower()):
        return False
    try:
        return shutil.disk_usage(Path(path).parent).free < FULL_BELOW
    except OSError:
        return False


#: bytes free below which an I/O error counts as a full disk (SQLite's pages and WAL frames are a few KiB)
FULL_BELOW = 1 << 20


def store_error(path: Path, exc: sqlite3.Error, kept: int | None = None, what: str = "run store") -> StoreError:
    """One line for a SQLite error on the file at ``path``; ``kept`` answers are known to be committed."""
    kept_text = f" The {kept} answer(s) committed before are kept." if kept is not None else ""
    kind = _kind(exc)
    if kind == "other" and _disk_full(path, exc):
        kind = "full"
    if kind == "full":
        return StoreError(f"{path}: cannot write the {what}: the disk is full.{kept_text} "
                          "Free some space and run the same command again: it resumes from them.")
    if kind == "damaged":
        return StoreError(f"{path}: not a usable clue {what}: it is damaged ({exc}). Move it aside to start afresh, or recover "
                          f"what it holds with: sqlite3 {path} .recover | sqlite3 recovered.sqlite")
    if kind == "readonly":
        return StoreError(f"{path}: cannot write the {what} ({exc}); "
                          "choose an output folder on a writable disk.")
    if kind == "busy":
        return StoreError(f"{path}: the {what} is locked by another process ({exc}).")
    return StoreError(f"{path}: {what} error ({exc}).{kept_text}")


@contextlib.contextmanager
def sqlite_errors(
    path: Path, kept: Callable[[], int | None] = lambda: None, what: str = "run store"
) -> Iterator[None]:
    """Turn a SQLite error on the file at ``path`` into a ``StoreError`` line (``kept``: answers known safe)."""
    try:
        yield
    except sqlite3.Error as exc:
        raise store_error(path, exc, kept(), what) from None


def model_key(identity: Mapping[str, Any]) -> str:
    return sha256_text(canonical_json(dict(identity)))


def request_key(request: Request, layout: ChatLayout | str | None) -> str:
    layout_name = layout.value if isinstance(layout, ChatLayout) else layout
    material: dict[str, Any] = {"prompt": request.prompt_hash(), "layout": layout_name}
    d = request.decoding
    if d.temperature > 0 and d.seed is None:
        material["request_id"] = request.id
    return sha256_text(canonical_json(material))


@dataclass(frozen=True)
class StoredRow:
    request_id: str
    ok: bool
    text: str | None
    error: str | None
    meta: dict[str, Any]
    tries: int

    def completion(self, request_id: str | None = None) -> Completion:
        return Completion(request_id or self.request_id, self.text, self.error, {**self.meta, "stored": True})


class RunStore:
    """An SQLite file of completions; safe to read while another process writes it."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        make_dirs(self.path.parent)
        with self._guard():
            # isolation_level=None: every statement commits on its own, which
            # is exactly the "one completion, one commit" rule.
            self._db = sqlite3.connect(str(self.path), isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._create()

    @contextlib.contextmanager
    def _guard(self, writing: bool = False) -> Iterator[None]:
        """Turn a SQLite error into a ``StoreError`` line; a failed write says how many answers are kept."""
        with sqlite_errors(self.path, self._count_kept if writing else lambda: None):
            yield

    def _count_kept(self) -> int | None:
        try:
            return int(self._db.execute("SELECT COUNT(*) FROM completions WHERE ok = 1").fetchone()[0])
        except sqlite3.Error:
            return None

    def _create(self) -> None:
        db = self._db
        db.execute("CREATE TABLE IF NOT EXISTS store_info (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        row = db.execute("SELECT value FROM store_info WHERE key = 'schema'").fetchone()
        if row is None:
            db.execute("INSERT INTO store_info VALUES ('schema', ?)", (str(STORE_SCHEMA),))
        elif row[0] != str(STORE_SCHEMA):
            raise UsageError(f"{self.path}: run store schema {row[0]}, this clue reads schema {STORE_SCHEMA}")
        else:  # a store made before: a table gone is damage, not a fresh start (every request would be asked again)
            tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            gone = sorted({"models", "completions"} - tables)
            if gone:
                raise StoreError(
                    f"{self.path}: not a usable clue run store: it is damaged (its {' and '.join(gone)} table is gone). "
                    "Move it aside to start afresh, or recover what it holds with: "
                    f"sqlite3 {self.path} .recover | sqlite3 recovered.sqlite")
        db.execute(
            """CREATE TABLE IF NOT EXISTS models (
                model_key TEXT PRIMARY KEY,
                identity TEXT NOT NULL,   -- JSON: what decides the answers
                described TEXT NOT NULL,  -- JSON: what a re-score needs (context, tokenizer, layout)
                first_seen REAL NOT NULL,
                last_seen REAL NOT NULL)"""
        )
        db.execute(
            """CREATE TABLE IF NOT EXISTS completions (
                model_key TEXT NOT NULL,
                request_key TEXT NOT NULL,
                request_id TEXT NOT NULL,
                ok INTEGER NOT NULL,
                text TEXT,
                error TEXT,
                meta TEXT NOT NULL,
                tries INTEGER NOT NULL DEFAULT 1,
                updated REAL NOT NULL,
                PRIMARY KEY (model_key, request_key))"""
        )
        db.execute("CREATE INDEX IF NOT EXISTS completions_by_id ON completions (model_key, request_id)")

    # -- models ---------------------------------------------------------------------
    def register_model(self, key: str, identity: Mapping[str, Any], described: Mapping[str, Any]) -> None:
        now = time.time()
        with self._guard(writing=True):
            self._db.execute(
                """INSERT INTO models VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (model_key) DO UPDATE SET described = excluded.described, last_seen = excluded.last_seen""",
                (key, canonical_json(dict(identity)), canonical_json(dict(described)), now, now),
            )

    def models(self) -> list[dict[str, Any]]:
        with self._guard():
            rows = self._db.execute(
                """SELECT m.model_key, m.identity, m.described,
                          (SELECT COUNT(*) FROM completions c WHERE c.model_key = m.model_key AND c.ok = 1),
                          (SELECT COUNT(*) FROM completions c WHERE c.model_key = m.model_key AND c.ok = 0)
                   FROM models m ORDER BY m.first_seen"""
            ).fetchall()
        return [
            {"model_key": k, "identity": self._json(i, "models.identity"), "described": self._json(d, "models.described"),
             "ok": ok, "failed": failed}
            for k, i, d, ok, failed in rows
        ]

    def only_model(self) -> str:
        """The key of the store's one model; a store with several needs the caller to choose."""
        models = self.models()
        if len(models) != 1:
            names = ", ".join(f"{m['model_key'][:12]} ({m['identity'].get('model')})" for m in models) or "none"
            raise UsageError(f"{self.path}: holds {len(models)} models ({names}); name one by its key")
        return models[0]["model_key"]

    # -- completions ----------------------------------------------------------------
    def put(self, model: str, key: str, request_id: str, completion: Completion) -> None:
        """Commit one completion."""
        self.put_many(model, [(key, request_id, completion)])

    def put_many(self, model: str, rows: Sequence[tuple[str, str, Completion]]) -> None:
        """Commit ``(request key, request id, completion)`` rows in one transaction: all of them, or none.

        The generation commits what arrived together as one group (clue.pipeline.generate): one
        commit per group instead of one per answer, and still every answer committed before it is
        passed on, so a killed run loses at most the answers not yet committed.
        """
        if not rows:
            return
        now = time.time()
        values = [
            (model, key, request_id, 1 if c.ok else 0, c.text if c.ok else None, c.error,
             json.dumps(c.meta, default=str, ensure_ascii=False), now)
            for key, request_id, c in rows
        ]
        with self._guard(writing=True):
            db = self._db
            if len(values) == 1:
                db.execute(_PUT, values[0])  # autocommit: one statement, one commit
                return
            db.execute("BEGIN")
            try:
                db.executemany(_PUT, values)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    def answers(self, model: str) -> dict[str, StoredRow]:
        """Successful rows of a model, by request key."""
        return self._rows(model, "AND ok = 1")

    def rows(self, model: str) -> dict[str, StoredRow]:
        """All rows of a model (successes and failures), by request key."""
        return self._rows(model, "")

    def _rows(self, model: str, where: str) -> dict[str, StoredRow]:
        out: dict[str, StoredRow] = {}
        with self._guard():
            cursor = self._db.execute(
                f"SELECT request_key, request_id, ok, text, error, meta, tries FROM completions WHERE model_key = ? {where}",
                (model,),
            )
            for key, rid, ok, text, error, meta, tries in cursor:
                out[key] = StoredRow(rid, bool(ok), text, error, self._json(meta, "completions.meta"), tries)
        return out

    def _json(self, text: Any, column: str) -> Any:
        """A JSON cell clue wrote; one that is not JSON (an edited or damaged store) is a one-line ``StoreError``."""
        try:
            return json.loads(text)
        except (TypeError, ValueError, RecursionError):
            raise StoreError(
                f"{self.path}: not a usable clue run store: it is damaged ({column} holds something that is not JSON). "
                "Move it aside to start afresh, or recover what it holds with: "
                f"sqlite3 {self.path} .recover | sqlite3 recovered.sqlite") from None

    def counts(self, model: str | None = None) -> dict[str, int]:
        where, args = ("WHERE model_key = ?", (model,)) if model else ("", ())
        with self._guard():
            ok, failed = self._db.execute(
                f"SELECT COALESCE(SUM(ok), 0), COALESCE(SUM(1 - ok), 0) FROM completions {where}", args
            ).fetchone()
        return {"ok": int(ok), "failed": int(failed)}

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_completions(path: str | Path, model: str | None = None) -> dict[str, Completion]:
    """Every stored completion of one model by request id (a success wins over a failure)."""
    with RunStore(path) as store:
        mkey = model or store.only_model()
        out: dict[str, Completion] = {}
        for row in store.rows(mkey).values():
            if row.ok or row.request_id not in out:
                out[row.request_id] = row.completion()
        return out

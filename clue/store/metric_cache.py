"""A per-item cache of model-metric values, kept beside a run's completions.

BERTScore and UMLS-F1 cost seconds to minutes per task; re-scoring a run,
adding a metric or changing one metric's settings should recompute only the
values that are actually new. Each value is stored under

    (metric name, settings hash, sha256 of the prediction, sha256 of the reference)

so a changed setting (another model, layer, threshold, package version)
misses the cache by construction, and an unchanged pair never recomputes.
The store is one SQLite file (``<run dir>/metric_cache.sqlite``); it is
written in transactions, so a run killed mid-write leaves it consistent.

The same file memoises file digests (model weights, linker indexes): hashing
a 440 MB checkpoint for the record once per run directory, not once per task.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from clue.core.files import canonical_json, make_dirs, sha256_file, sha256_text
from clue.store.runs import sqlite_errors

_SCHEMA = """
CREATE TABLE IF NOT EXISTS metric_values (
    metric TEXT NOT NULL,
    settings TEXT NOT NULL,
    prediction TEXT NOT NULL,
    reference TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (metric, settings, prediction, reference)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS metric_settings (
    hash TEXT PRIMARY KEY,
    metric TEXT NOT NULL,
    settings TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS file_digests (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL
);
"""

# SQLite limits the number of host parameters per statement; lookups go in chunks.
_CHUNK = 400

# Digests computed in this process, keyed by (real path, size, mtime): a second
# task in the same run, or a second run in the same process, hashes nothing.
_DIGESTS: dict[tuple[str, int, int], str] = {}
_DIGEST_LOCK = threading.Lock()


def settings_hash(settings: Mapping[str, Any]) -> str:
    """A stable hash of the settings that decide a metric's values."""
    return sha256_text(canonical_json(dict(settings)))


class MetricCache:
    """SQLite-backed store of per-item metric values; ``path=None`` keeps nothing."""

    def __init__(self, path: str | os.PathLike | None):
        self.path = Path(path) if path is not None else None
        self._conn: sqlite3.Connection | None = None
        if self.path is not None:
            make_dirs(self.path.parent)
            with self._errors():
                self._conn = sqlite3.connect(self.path, timeout=30)
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.executescript(_SCHEMA)
                self._conn.commit()

    def _errors(self) -> Any:
        """A full disk or a damaged file is one line naming this file (``clue.store.runs.StoreError``)."""
        assert self.path is not None
        return sqlite_errors(self.path, what="metric cache")

    # -- values -----------------------------------------------------------
    def lookup(
        self, metric: str, settings_key: str, pairs: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], float]:
        """Cached values for (prediction, reference) text pairs, keyed by the text pair."""
        if self._conn is None or not pairs:
            return {}
        by_hash = {(sha256_text(p), sha256_text(r)): (p, r) for p, r in pairs}
        found: dict[tuple[str, str], float] = {}
        predictions = sorted({h[0] for h in by_hash})
        with self._errors():
            self._lookup(metric, settings_key, predictions, by_hash, found)
        return found

    def _lookup(self, metric: str, settings_key: str, predictions: list[str],
                by_hash: dict[tuple[str, str], tuple[str, str]], found: dict[tuple[str, str], float]) -> None:
        assert self._conn is not None
        for start in range(0, len(predictions), _CHUNK):
            chunk = predictions[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                f"SELECT prediction, reference, value FROM metric_values "
                f"WHERE metric = ? AND settings = ? AND prediction IN ({marks})",
                [metric, settings_key, *chunk],
            )
            for pred_hash, ref_hash, value in rows:
                pair = by_hash.get((pred_hash, ref_hash))
                if pair is not None:
                    found[pair] = float(value)

    def store(
        self,
        metric: str,
        settings_key: str,
        settings: Mapping[str, Any],
        values: Iterable[tuple[str, str, float]],
    ) -> None:
        """Store (prediction, reference, value) triples under one settings hash."""
        if self._conn is None:
            return
        rows = [(metric, settings_key, sha256_text(p), sha256_text(r), float(v)) for p, r, v in values]
        with self._errors(), self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO metric_settings (hash, metric, settings) VALUES (?, ?, ?)",
                (settings_key, metric, canonical_json(dict(settings))),
            )
            self._conn.executemany("INSERT OR REPLACE INTO metric_values VALUES (?, ?, ?, ?, ?)", rows)

    def count(self, metric: str | None = None) -> int:
        if self._conn is None:
            return 0
        if metric is None:
            return self._conn.execute("SELECT COUNT(*) FROM metric_values").fetchone()[0]
        return self._conn.execute("SELECT COUNT(*) FROM metric_values WHERE metric = ?", (metric,)).fetchone()[0]

    # -- file digests -------------------------------------------------------
    def file_digest(self, path: str | os.PathLike) -> str:
        """sha256 of a file, memoised by (path, size, mtime) here and in this process."""
        real = os.path.realpath(path)
        st = os.stat(real)
        key = (real, st.st_size, st.st_mtime_ns)
        with _DIGEST_LOCK:
            if key in _DIGESTS:
                return _DIGESTS[key]
        digest = None
        if self._conn is not None:
            row = self._conn.execute(
                "SELECT sha256 FROM file_digests WHERE path = ? AND size = ? AND mtime_ns = ?", key
            ).fetchone()
            digest = row[0] if row else None
        if digest is None:
            digest = sha256_file(real)
            if self._conn is not None:
                with self._conn:
                    self._conn.execute("INSERT OR REPLACE INTO file_digests VALUES (?, ?, ?, ?)", (*key, digest))
        with _DIGEST_LOCK:
            _DIGESTS[key] = digest
        return digest

    def files_digest(self, paths: Sequence[str | os.PathLike]) -> str:
        """One digest over several files (e.g. sharded weights), in the order given."""
        combined = hashlib.sha256()
        for path in paths:
            combined.update(os.path.basename(path).encode("utf-8"))
            combined.update(self.file_digest(path).encode("ascii"))
        return combined.hexdigest()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> MetricCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def cached_values(
    cache: MetricCache,
    metric: str,
    settings: Mapping[str, Any],
    predictions: Sequence[str],
    references: Sequence[str],
    compute: Callable[[list[str], list[str]], Sequence[float]],
) -> tuple[list[float], int]:
    """Values for every (prediction, reference) pair, computing only what the cache lacks.

    Each distinct pair is computed once even when it repeats. Returns the
    values in input order and how many distinct pairs were computed.
    """
    key = settings_hash(settings)
    pairs = list(zip(predictions, references))
    distinct = list(dict.fromkeys(pairs))
    known = cache.lookup(metric, key, distinct)
    todo = [pair for pair in distinct if pair not in known]
    if todo:
        fresh = compute([p for p, _ in todo], [r for _, r in todo])
        if len(fresh) != len(todo):
            raise RuntimeError(f"{metric}: computed {len(fresh)} values for {len(todo)} pairs")
        new = {pair: float(v) for pair, v in zip(todo, fresh)}
        cache.store(metric, key, settings, ((p, r, v) for (p, r), v in new.items()))
        known.update(new)
    return [known[pair] for pair in pairs], len(todo)

"""Answers handed over and committed in groups: the bridge hands over what finished together, the run store
commits each group in one transaction before any of it is passed on."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator, Sequence

import pytest

from clue.core.records import Completion, Decoding, Message, Request
from clue.models.base import Backend
from clue.models.openai import bridge
from clue.pipeline.generate import stored_generate
from clue.store.runs import RunStore


def test_what_finishes_in_one_turn_of_the_loop_is_one_hand_off():
    async def run(emit):
        for i in range(5):
            emit(i)  # five in one turn
        await asyncio.sleep(0.05)
        emit(5)

    assert list(bridge.iterate_groups(run, "t")) == [[0, 1, 2, 3, 4], [5]]
    assert list(bridge.iterate(run, "t")) == [0, 1, 2, 3, 4, 5]


def test_a_busy_consumer_takes_every_waiting_hand_off_at_once():
    async def run(emit):
        for i in range(6):
            emit(i)
            await asyncio.sleep(0.01)  # one per turn

    groups = []
    for group in bridge.iterate_groups(run, "t"):
        groups.append(group)
        time.sleep(0.2)  # busy (committing) while the rest arrive
    assert [x for g in groups for x in g] == list(range(6))
    assert len(groups) <= 3 and max(len(g) for g in groups) >= 3  # not one wake-up per item


def test_the_last_turns_items_and_those_before_a_crash_are_handed_over():
    async def ends_at_once(emit):
        emit("a")
        emit("b")  # the task ends in this turn: the loop stops before a scheduled flush would run

    assert list(bridge.iterate(ends_at_once, "t")) == ["a", "b"]

    async def crashes(emit):
        emit("kept")
        raise ValueError("boom")

    got = []
    with pytest.raises(ValueError, match="boom"):
        for item in bridge.iterate(crashes, "t"):
            got.append(item)
    assert got == ["kept"]


class Grouped(Backend):
    """Answers in the groups given, noting what the store held when each group was handed over."""

    kind = "grouped"

    def __init__(self, groups: list[list[str]], store_path):
        super().__init__("grouped", {})
        self.groups = groups
        self.store_path = store_path
        self.seen_before: list[int] = []

    def generate(self, requests: Sequence[Request]) -> Iterator[Completion]:  # pragma: no cover - groups are read
        raise AssertionError("the run store reads generate_groups")

    def generate_groups(self, requests: Sequence[Request]) -> Iterator[list[Completion]]:
        for ids in self.groups:
            self.seen_before.append(committed(self.store_path))
            yield [Completion(i, f"answer {i}") for i in ids]


def committed(path) -> int:
    """What another process reading the file sees (only committed rows)."""
    if not path.exists():
        return 0
    with sqlite3.connect(path, timeout=5) as db:
        try:
            return int(db.execute("SELECT COUNT(*) FROM completions").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def requests(n: int) -> list[Request]:
    return [Request(id=f"r{i}", messages=[Message("user", f"q {i}")], decoding=Decoding(max_new_tokens=4))
            for i in range(n)]


def test_each_group_is_committed_before_any_of_it_is_passed_on(tmp_path):
    path = tmp_path / "store.sqlite"
    backend = Grouped([["r0"], ["r1", "r2", "r3"], ["r4", "r5"]], path)
    passed: list[tuple[str, int]] = []
    with RunStore(path) as store:
        for completion in stored_generate(backend, requests(6), store):
            passed.append((completion.request_id, committed(path)))
    # each answer was on disk (for any reader) when it was passed on; a group is committed as a whole
    assert passed == [("r0", 1), ("r1", 4), ("r2", 4), ("r3", 4), ("r4", 6), ("r5", 6)]
    assert backend.seen_before == [0, 1, 4]
    with RunStore(path) as store:  # and a second run answers every request from the store
        again = list(stored_generate(Grouped([], path), requests(6), store))
    assert [c.text for c in again] == [f"answer r{i}" for i in range(6)] and all(c.meta.get("stored") for c in again)


def test_a_group_is_one_transaction(tmp_path):
    path = tmp_path / "store.sqlite"
    statements: list[str] = []
    with RunStore(path) as store:
        store._db.set_trace_callback(statements.append)
        store.put_many("m", [(f"k{i}", f"r{i}", Completion(f"r{i}", "x")) for i in range(50)])
        store.put_many("m", [("k50", "r50", Completion("r50", "x"))])
        store._db.set_trace_callback(None)
        assert store.counts("m")["ok"] == 51
    assert statements.count("BEGIN") == 1 and statements.count("COMMIT") == 1
    assert sum(s.lstrip().startswith("INSERT") for s in statements) == 51


def test_a_group_that_cannot_be_written_leaves_nothing_half_written(tmp_path):
    path = tmp_path / "store.sqlite"
    with RunStore(path) as store:
        store.put("m", "k0", "r0", Completion("r0", "kept"))
        # a reader holding a write lock makes the group's commit fail; none of its rows may stay
        blocker = sqlite3.connect(path, timeout=0, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        store._db.execute("PRAGMA busy_timeout = 50")
        try:
            with pytest.raises(Exception):  # noqa: B017 - the store's own error for a locked file
                store.put_many("m", [(f"k{i}", f"r{i}", Completion(f"r{i}", "x")) for i in range(1, 5)])
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert not store._db.in_transaction
        assert store.counts("m")["ok"] == 1
        store.put_many("m", [(f"k{i}", f"r{i}", Completion(f"r{i}", "x")) for i in range(1, 5)])
        assert store.counts("m")["ok"] == 5

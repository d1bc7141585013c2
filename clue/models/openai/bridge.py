"""The sync-over-async bridge: an asyncio run in a background thread, read as an ordinary iterator.

Items the coroutine emits are handed over as soon as the consumer asks, in
groups: everything emitted in one turn of the loop goes over as one hand-off,
and the consumer takes every hand-off waiting when it comes back, so a busy
consumer (the run store, committing) wakes once per group, not once per item.
A consumer that stops early cancels what is still in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass
class _Crash:
    exc: BaseException


def iterate(run: Callable[[Callable[[Any], None]], Coroutine[Any, Any, None]], name: str) -> Iterator[Any]:
    """Run ``run(emit)`` on a new event loop in a thread named ``name``; yield what it emits, re-raise what it raises."""
    for group in iterate_groups(run, name):
        yield from group


def iterate_groups(run: Callable[[Callable[[Any], None]], Coroutine[Any, Any, None]], name: str) -> Iterator[list[Any]]:
    """As :func:`iterate`, but each step yields every item that was emitted and not yet taken (at least one)."""
    results: queue.SimpleQueue = queue.SimpleQueue()
    done = object()
    state: dict[str, Any] = {}
    started = threading.Event()
    gathered: list[Any] = []  # emitted in this turn of the loop, handed over together when the turn ends

    def flush() -> None:
        group = gathered[:]
        gathered.clear()
        results.put(group)

    def emit(item: Any) -> None:
        if not gathered:
            state["loop"].call_soon(flush)
        gathered.append(item)

    def run_loop() -> None:
        loop = asyncio.new_event_loop()
        try:
            state["loop"] = loop
            state["task"] = loop.create_task(run(emit))
            started.set()
            loop.run_until_complete(state["task"])
        except BaseException as exc:  # handed to the consumer, which re-raises it
            if gathered:
                flush()  # what was emitted before the crash is handed over first
            results.put(_Crash(exc))
        finally:
            started.set()
            # What the run left behind (a connection attempt racing another address) is cancelled and
            # unwound before the loop closes, as asyncio.run does, instead of being destroyed pending.
            leftover = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in leftover:
                task.cancel()
            if leftover:
                with contextlib.suppress(BaseException):
                    loop.run_until_complete(asyncio.gather(*leftover, return_exceptions=True))
            loop.close()
            if gathered:
                flush()  # emitted in the loop's last turn: its scheduled flush did not run
            results.put(done)

    thread = threading.Thread(target=run_loop, name=name, daemon=True)
    thread.start()
    finished = False
    try:
        while True:
            taken = [results.get()]
            while True:  # and every hand-off already waiting: one wake-up for all of them
                try:
                    taken.append(results.get_nowait())
                except queue.Empty:
                    break
            group: list[Any] = []
            crash: BaseException | None = None
            for item in taken:
                if item is done:
                    finished = True
                    break
                if isinstance(item, _Crash):
                    if isinstance(item.exc, asyncio.CancelledError):
                        continue  # the run was cancelled: what it handed over before still counts
                    crash = item.exc
                    break
                group.extend(item)
            if group:
                yield group
            if crash is not None:
                raise crash
            if finished:
                return
    finally:
        if not finished:
            # The consumer stopped early (an error, Ctrl-C, a closed generator): cancel what is in flight.
            started.wait()
            loop, task = state.get("loop"), state.get("task")
            if loop is not None and task is not None and not loop.is_closed():
                try:
                    loop.call_soon_threadsafe(task.cancel)
                except RuntimeError:
                    pass  # the loop closed in between
        thread.join(timeout=30)

"""The sync-over-async bridge: an asyncio run in a background thread, read as an ordinary iterator.

Each item the coroutine emits is handed over the moment it is ready, so the
run store can commit it at once; a consumer that stops early cancels what is
still in flight.
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
    results: queue.SimpleQueue = queue.SimpleQueue()
    done = object()
    state: dict[str, Any] = {}
    started = threading.Event()

    def run_loop() -> None:
        loop = asyncio.new_event_loop()
        try:
            state["loop"] = loop
            state["task"] = loop.create_task(run(results.put))
            started.set()
            loop.run_until_complete(state["task"])
        except BaseException as exc:  # handed to the consumer, which re-raises it
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
            results.put(done)

    thread = threading.Thread(target=run_loop, name=name, daemon=True)
    thread.start()
    finished = False
    try:
        while True:
            item = results.get()
            if item is done:
                finished = True
                return
            if isinstance(item, _Crash):
                if isinstance(item.exc, asyncio.CancelledError):
                    continue
                raise item.exc
            yield item
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

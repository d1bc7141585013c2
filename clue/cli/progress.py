"""Progress while a run works: bars with an ETA on a terminal, plain lines elsewhere.

On a terminal each task gets a rich progress bar (done/total, elapsed, ETA).
Off a terminal (a log file, CI, ``nohup``) a bar cannot redraw, so a plain
line is printed per task every ``CLUE_PROGRESS_INTERVAL`` seconds (default
15) while it runs, even while no answer arrives, and once when it finishes::

    mednli: 12/15 (80%), 2.4/s, ETA 0:00:01
    mednli: 15/15 done in 6.2 s
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rich.console import Console

from clue.cli.console import err_console

T = TypeVar("T")
Progress = Callable[[str, int, int], None]

DEFAULT_INTERVAL_S = 15.0


def clock(seconds: float) -> str:
    """``H:MM:SS`` for an ETA or elapsed time."""
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


@dataclass
class _Task:
    total: int
    started: float
    done: int = 0
    last_line: float = field(default=0.0)
    last_done: float = field(default=0.0)  # when the latest answer arrived: rates and ETAs use completed work only


class PlainProgress:
    """Periodic plain progress lines (count, rate, ETA) for output that is not a terminal."""

    def __init__(self, console: Console, interval_s: float | None = None, now: Callable[[], float] = time.monotonic):
        self.console = console
        env = os.environ.get("CLUE_PROGRESS_INTERVAL")
        self.interval_s = interval_s if interval_s is not None else float(env) if env else DEFAULT_INTERVAL_S
        self.now = now
        self.tasks: dict[str, _Task] = {}
        self._lock = threading.Lock()
        self._last_event = self.now()

    def line(self, name: str) -> str:
        t = self.tasks[name]
        elapsed = self.now() - t.started
        if t.done >= t.total:
            return f"{name}: {t.done}/{t.total} done in {elapsed:.1f} s"
        pct = 100.0 * t.done / t.total if t.total else 100.0
        # The rate of the answers so far, up to the latest one: the time since then (a slow prompt
        # still running) is not work done, so the ETA does not grow while the run waits.
        worked = t.last_done - t.started
        rate = t.done / worked if t.done and worked > 0 else 0.0
        if rate <= 0:
            return f"{name}: {t.done}/{t.total} ({pct:.0f}%), waiting for answers, {elapsed:.0f} s so far"
        speed = f"{rate:.1f}/s" if rate >= 0.1 else f"{1 / rate:.0f} s each"
        return f"{name}: {t.done}/{t.total} ({pct:.0f}%), {speed}, ETA {clock((t.total - t.done) / rate)}"

    def __call__(self, name: str, done: int, total: int) -> None:
        with self._lock:
            now = self.now()
            if name not in self.tasks:
                # A task is first heard of with its first answer: its clock starts at the previous
                # event (the start, or the last answer of any task), when its first request went out.
                self.tasks[name] = _Task(total=total, started=self._last_event, last_line=self._last_event)
            self._last_event = now
            t = self.tasks[name]
            if done > t.done:
                t.last_done = now
            t.done, t.total = done, total
            if done >= total or now - t.last_line >= self.interval_s:
                self._print(name, now)

    def tick(self) -> None:
        """A line for every unfinished task that has printed none for an interval (a slow model still shows life)."""
        with self._lock:
            now = self.now()
            for name, t in self.tasks.items():
                if t.done < t.total and now - t.last_line >= self.interval_s:
                    self._print(name, now)

    def _print(self, name: str, now: float) -> None:
        self.tasks[name].last_line = now
        self.console.print(self.line(name), markup=False, highlight=False, soft_wrap=True)

    def ticking(self) -> Callable[[], None]:
        """Call ``tick`` every interval from a background thread; returns the function that stops it."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(self.interval_s):
                self.tick()

        thread = threading.Thread(target=loop, name="clue-progress", daemon=True)
        thread.start()

        def halt() -> None:
            stop.set()
            thread.join(timeout=5)

        return halt


def with_progress(work: Callable[[Progress], T], console: Console | None = None) -> T:
    """Run ``work(on_progress)`` with progress per task on the error console (bars or plain lines)."""
    console = console or err_console
    if not console.is_terminal:
        plain = PlainProgress(console)
        halt = plain.ticking()
        try:
            return work(plain)
        finally:
            halt()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("elapsed"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
        console=console, transient=False,
    ) as progress:
        bars: dict[str, Any] = {}

        def on_progress(name: str, done: int, total: int) -> None:
            if name not in bars:
                bars[name] = progress.add_task(name, total=total)
            progress.update(bars[name], completed=done)

        return work(on_progress)

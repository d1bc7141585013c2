"""Modules the end of a run needs, imported in the background while the run waits on its model.

After the last answer a run scores, computes its intervals (numpy) and writes
results that name installed versions (importlib.metadata): about 0.1 s of
imports on a 2-CPU machine, all of it after the model has finished. Started
when generation starts, those imports run while the client waits on the
network, and the end of the run only waits for what is left of them
(bench/bench_startup.py measures it).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Sequence


def preload(modules: Sequence[str]) -> Callable[[], None]:
    """Import ``modules`` in a daemon thread; the function returned waits until that is done.

    Call it before the modules are first used: the main thread then never
    imports one of them while the thread does. An import that fails here is
    left to fail again, with its own message, where the module is used.
    """
    if not modules:
        return lambda: None

    def load() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001,S112 - reported where the module is imported for real
                continue

    thread = threading.Thread(target=load, name="clue-preload", daemon=True)
    thread.start()
    return thread.join

"""Fixtures for the task tests: the toy task package beside these tests, registered and removed again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TOY_PACKAGE = HERE / "clue_toy_tasks"


@pytest.fixture
def toy_task() -> Iterator[object]:
    """The toy parity task, registered in this process as a built-in task would be; unregistered after."""
    from clue.tasks.registry import register, unregister
    from tests.tasks.clue_toy_tasks.parity.task import ToyParity

    task = register(ToyParity, source="test")
    yield task
    unregister(task.name)


@pytest.fixture
def forget_task_files() -> Iterator[None]:
    """Unregister every task a test registered (from task files; the registry lives for the whole session)."""
    from clue.tasks.registry import all_tasks, unregister

    before = set(all_tasks())
    yield
    for name in set(all_tasks()) - before:
        unregister(name)

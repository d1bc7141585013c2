"""Few-shot selection: which items are demonstrations and which are scored."""

from __future__ import annotations

import random
from collections.abc import Sequence

from clue.core.errors import UsageError
from clue.core.records import Item
from clue.core.seeding import rng
from clue.tasks.settings import Settings


def select_shots(
    items: Sequence[Item], settings: Settings, seed: int, task: str, draw: int = 0, draws: int = 1
) -> tuple[list[Item], list[Item]]:
    """The demonstrations and the scored items, as ``settings.shot_selection`` says.

    ``seeded``: clue's derived RNG (``split_shots``). ``first``: the first k
    rows, the rest scored in file order. ``shuffle-seed1``: the rows shuffled
    as Python's ``random.seed(1); random.shuffle(rows)`` does, the first k the
    demonstrations, the rest scored in that shuffled order. A variant's draw d
    of ``draws`` takes the d-th block of k instead, and every block is kept out
    of scoring (``split_shots``).
    """
    k = settings.shots
    if settings.shot_selection == "seeded":
        return split_shots(items, k, seed, task, draw, draws)
    rows = list(items)
    if settings.shot_selection == "shuffle-seed1":
        random.Random(1).shuffle(rows)
    if k and len(rows) <= k * draws:
        raise UsageError(f"{task}: {len(rows)} items cannot give {draws} x {k} demonstrations and anything to score")
    return rows[draw * k:(draw + 1) * k], rows[k * draws:]


def split_shots(
    items: Sequence[Item], k: int, seed: int, task: str, draw: int = 0, draws: int = 1
) -> tuple[list[Item], list[Item]]:
    """Shuffle with a seed, take k demonstrations, score the rest.

    Draw d of ``draws`` takes the d-th block of k from the one seeded shuffle
    (draw 0: the first k, as in a plain run); the items of every block are
    kept out of scoring, so all draws score the same items. The scored items
    keep the file's order so predictions read like the file.
    """
    if k == 0:
        return [], list(items)
    if not 0 <= draw < draws:
        raise UsageError(f"{task}: demonstration draw {draw} is not one of the design's {draws}")
    if len(items) <= k * draws:
        what = f"{k} demonstrations" if draws == 1 else f"{draws} draws of {k} demonstrations"
        raise UsageError(f"{task}: {len(items)} items cannot give {what} and anything to score")
    order = list(range(len(items)))
    rng(seed, task, "shots").shuffle(order)
    reserved = set(order[: k * draws])
    chosen = order[k * draw : k * (draw + 1)]
    return [items[i] for i in chosen], [it for i, it in enumerate(items) if i not in reserved]

"""Seeding in one place: every random choice in clue draws from ``rng(seed, *keys)``.

Each purpose (few-shot selection of a task, a LongHealth shuffle of one
question's run, a bootstrap) gets its own generator derived from the run's
seed and a key naming the purpose, so adding a task or changing the order in
which things are built never changes another choice.
"""

from __future__ import annotations

import hashlib
import random

DEFAULT_SEED = 42


def derive(seed: int, *keys: object) -> int:
    material = ":".join([str(int(seed)), *map(str, keys)]).encode("utf-8")
    return int.from_bytes(hashlib.sha256(material).digest()[:8], "big")


def rng(seed: int, *keys: object) -> random.Random:
    return random.Random(derive(seed, *keys))

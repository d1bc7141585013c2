"""The toy baseline: judges a number by its first digit (wrong about half the time, on purpose)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def answer(inputs: Mapping[str, Any]) -> str:
    return "EVEN" if int(str(inputs["number"])[0]) % 2 == 0 else "ODD"

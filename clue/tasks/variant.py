"""Variants: one way of asking the same questions (a wording, a draw of demonstrations, an answer order)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    """One way of asking the same questions: a wording, a draw of demonstrations, an answer order.

    0 on every axis is the protocol's own prompt. ``wording`` n > 0 reads the
    templates of ``prompts/variants/w<n>/``; ``shots`` d > 0 takes the d-th
    disjoint block of demonstrations from the run's seeded shuffle; ``order``
    k > 0 is the k-th order of the answer options (LongHealth) or of the
    labels as they are named (MedNLI). ``shot_draws`` is how many draws the
    whole design holds: the demonstrations of all of them are kept out of
    scoring, so every variant scores the same items. A variant never changes
    what is scored, only how it is asked.
    """

    wording: int = 0
    shots: int = 0
    order: int = 0
    shot_draws: int = 1

    @property
    def name(self) -> str:
        return f"p{self.wording}-s{self.shots}-o{self.order}"

    @property
    def is_default(self) -> bool:
        return self.wording == self.shots == self.order == 0

    @property
    def suffix(self) -> str:
        """Appended to request ids: none for the protocol's own prompt, so its ids match a plain run's."""
        return "" if self.is_default else f"@{self.name}"


def base_request_id(request_id: str) -> str:
    """A request id without its variant suffix: the same question under every variant."""
    return request_id.split("@", 1)[0]

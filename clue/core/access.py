"""Access classes of data: who may see it, and so where it may be sent.

``credentialed`` data (everything derived from MIMIC through PhysioNet) may
not leave for an endpoint the user has not approved (``clue.pipeline.egress``).
A task that declares nothing is treated as credentialed: the safe default for
a user's own clinical notes.
"""

from __future__ import annotations

PUBLIC = "public"
CREDENTIALED = "credentialed"
ACCESS_CLASSES = (PUBLIC, CREDENTIALED)


def is_credentialed(access: str | None) -> bool:
    """Anything but an explicit ``public`` counts as credentialed."""
    return access != PUBLIC

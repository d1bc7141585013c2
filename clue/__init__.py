"""clue: evaluate language models on clinical work (the CLUE benchmark, re-implemented)."""

__version__ = "0.1.0"

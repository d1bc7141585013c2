"""Fixtures for the cluster tests: the report tests' stub server and sweep-file writer, a local Ray cluster."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))  # report_stub.py, report_helpers.py

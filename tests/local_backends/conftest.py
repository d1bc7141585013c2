"""Fixtures: tiny models built in the tests (tests/helpers/tiny_model.py), saved to temp folders
and loaded back through the backends. Built per session and never committed (a
folder saved by one transformers major does not load in another).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.tiny_model import CHATML, NO_SYSTEM, build_model_folder


def _build(folder: Path, template: str | None, **kwargs) -> Path:
    for module in ("torch", "transformers", "tokenizers"):
        pytest.importorskip(module, reason=f"the tiny-model fixture needs {module}")
    return build_model_folder(folder, template, **kwargs)


@pytest.fixture(scope="session")
def chatml_model(tmp_path_factory) -> Path:
    return _build(tmp_path_factory.mktemp("chatml"), CHATML)


@pytest.fixture(scope="session")
def nosystem_model(tmp_path_factory) -> Path:
    return _build(tmp_path_factory.mktemp("nosystem"), NO_SYSTEM)


@pytest.fixture(scope="session")
def base_model(tmp_path_factory) -> Path:
    return _build(tmp_path_factory.mktemp("base"), None)


@pytest.fixture(scope="session")
def long_chatml_model(tmp_path_factory) -> Path:
    """The ChatML model with an 8,192-token context (vLLM refuses a max_model_len beyond the config's)."""
    return _build(tmp_path_factory.mktemp("chatml8k"), CHATML, max_positions=8192)

"""Shared fixtures for the model tests: ONE real local model per test session (it takes seconds and ~2 GB to load)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def local_model():
    """The default LocalModel, loaded once; tests that use it are marked `local_model`."""
    from memwise.models.local import LocalModel

    model = LocalModel()
    model.load()
    return model

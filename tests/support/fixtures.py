"""Pytest fixtures shared by suites that run on every registered backend."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conformance.registry import BACKENDS
from tests.support.recipe import BackendUnavailable, Recipe, in_ci


@pytest.fixture(params=sorted(BACKENDS))
def recipe(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Recipe]:
    """A fresh store per backend; an unreachable server fails in CI and skips locally."""
    try:
        with BACKENDS[request.param](tmp_path) as made:
            yield made
    except BackendUnavailable as exc:
        if in_ci():
            pytest.fail(f"backend {request.param} unavailable in CI: {exc}", pytrace=False)
        pytest.skip(f"backend {request.param} unavailable: {exc}")

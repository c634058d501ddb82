"""Recipes for the backends that need no server: in-memory, SQLite, JSON files."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.recipe import Recipe


@contextmanager
def in_memory(tmp_path: Path) -> Iterator[Recipe]:
    yield Recipe("memwise.storage.in_memory:InMemoryStorage", shared=False)


@contextmanager
def sqlite(tmp_path: Path) -> Iterator[Recipe]:
    yield Recipe("memwise.storage.sqlite:SqliteStorage", {"db_file": str(tmp_path / "memory.db")})


@contextmanager
def json_files(tmp_path: Path) -> Iterator[Recipe]:
    yield Recipe("memwise.storage.json:JSONStorage", {"db_path": str(tmp_path / "memory-json")})

"""The stored format version: a store written by a newer memwise refuses to open, clearly."""

from __future__ import annotations

import pytest

from memwise.errors import SchemaVersionError
from memwise.storage.contract import RawRecord


async def test_newer_store_fails_to_open(api):
    await api.create_session("s1")
    storage = api.storage
    raw = storage._sync(storage._get_record("meta", "format"), write=False)
    assert raw is not None, "opening a store records its format version"
    newer = RawRecord("meta", "format", raw.version + 1, raw.updated_at, '{"format": 999}')
    assert storage._sync(storage._put_record(newer, raw.version), write=True)
    reopened = api.recipe.build() if api.recipe.shared else storage
    reopened._opened = False
    try:
        with pytest.raises(SchemaVersionError, match="format 999.*Upgrade memwise"):
            await (reopened.aget_session("s1") if api.mode == "async" else _sync(reopened.get_session, "s1"))
    finally:
        if reopened is not storage:
            reopened.close()


async def _sync(fn, *args):
    return fn(*args)

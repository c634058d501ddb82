"""`memwise.storage.transfer` as a library: export -> import restores a store exactly (versions,
timestamps, message seqs and `created_at`), on SQLite and on the server backends."""

from __future__ import annotations

import io
import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from memwise.errors import AlreadyExistsError
from memwise.storage import from_url, transfer
from memwise.storage.base import Storage
from memwise.storage.records import Run, UserProfile
from memwise.storage.transfer import ImportFileError, export_store, import_store
from tests.conformance.messages import tool_turn, turn
from tests.support.postgres_backend import schema_url
from tests.support.recipe import BackendUnavailable, in_ci
from tests.support.redis_backend import prefix_url


@pytest.fixture(autouse=True)
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny pages and batches, so a small store exercises paging and batched restores."""
    monkeypatch.setattr(transfer, "PAGE", 2)
    monkeypatch.setattr(transfer, "MESSAGE_BATCH", 3)


def populate(store: Storage) -> None:
    """Records with versions above 1, leases, a profile without sessions, more than a page each."""
    store.create_session("s-tools", user_id="alice", metadata={"topic": "ünï ✓"})
    store.append_messages("s-tools", tool_turn("look it up"), run_id="r-1")
    store.append_messages("s-tools", turn("no run id"))
    store.append_messages("s-tools", turn("again"), run_id="r-1")
    current = store.get_session("s-tools")
    store.update_session("s-tools", expected_version=current.version, summary="a summary", summarized_through=4,
                         usage={"requests": 2})
    for index in range(3):
        store.create_session(f"s-{index}", user_id="bob")
        store.append_messages(f"s-{index}", turn(f"q{index}"), run_id=f"r-bulk-{index}")
        store.create_run(Run(f"r-bulk-{index}", f"s-{index}", user_id="bob", status="completed"))
    store.create_run(Run("r-1", "s-tools", user_id="alice", status="paused", checkpoint={"step": 2}))
    store.acquire_lease("r-1", "worker-7", ttl=3600)
    store.put_profile(UserProfile("ghost", {"name": "Casper"}), expected_version=0)
    profile = store.put_profile(UserProfile("alice", {"name": "Alice"}), expected_version=0)
    store.put_profile(UserProfile("alice", {"name": "Alice", "role": "dev"}, created_at=profile.created_at),
                      expected_version=1)


def snapshot(store: Storage) -> dict[str, Any]:
    """Every record whole, every message with seq, run, turn start, `created_at` and data."""
    sessions = store.list_sessions(limit=100).items
    return {
        "sessions": sessions,
        "messages": {
            s.session_id: [(m.seq, m.run_id, m.turn_start, m.created_at, m.data) for m in store.read_messages(s.session_id)]
            for s in sessions
        },
        "runs": store.list_runs(limit=100).items,
        "profiles": store.list_profiles(limit=100).items,
    }


def test_round_trip_through_sqlite_postgres_and_redis_is_exact(tmp_path: Path) -> None:
    with ExitStack() as stack:
        try:
            servers = [stack.enter_context(schema_url()), stack.enter_context(prefix_url())]
        except BackendUnavailable as exc:
            if in_ci():
                raise
            pytest.skip(str(exc))
        with from_url(tmp_path / "source.db") as source:
            populate(source)
            expected = snapshot(source)
            first = tmp_path / "0.jsonl"
            counts = export_store(source, first)
        assert counts == {"sessions": 4, "messages": 14, "runs": 4, "profiles": 2}
        lines = [json.loads(line) for line in first.read_text(encoding="utf-8").splitlines()]
        for kind, key in (("session", "session_id"), ("run", "run_id"), ("profile", "user_id")):
            ids = [line[key] for line in lines if line["type"] == kind]
            assert ids == sorted(ids) and len(ids) == counts[kind + "s"]  # by id: stable files, easy diffs
        versions = {r.session_id: r.version for r in expected["sessions"]} | {r.run_id: r.version for r in expected["runs"]}
        assert versions["s-tools"] == versions["r-1"] == 2 and versions["s-0"] == 1  # not all 1s

        # SQLite -> PostgreSQL -> Redis -> SQLite, each store exported again
        for step, url in enumerate([*servers, str(tmp_path / "copy.db")], 1):
            with from_url(url) as store:
                assert import_store(store, tmp_path / f"{step - 1}.jsonl") == counts
                assert snapshot(store) == expected, url
                export_store(store, tmp_path / f"{step}.jsonl")
            assert (tmp_path / f"{step}.jsonl").read_bytes() == first.read_bytes(), url


def test_import_from_a_stream_and_into_a_store_that_has_records(tmp_path: Path) -> None:
    with from_url("memory://") as source:
        populate(source)
        out = io.StringIO()
        export_store(source, out)
    with from_url("memory://") as target:
        target.create_session("s-0", user_id="bob")  # a session of the file
        with pytest.raises(ImportFileError, match="already has session 's-0'.*nothing was imported"):
            import_store(target, io.StringIO(out.getvalue()))
        assert [s.session_id for s in target.list_sessions().items] == ["s-0"]
        assert target.list_profiles().items == []
        target.delete_session("s-0")
        import_store(target, io.StringIO(out.getvalue()))
        assert snapshot(target) == snapshot(source)
        with pytest.raises(AlreadyExistsError):  # restore itself refuses too, without the file check
            target.restore(target.get_session("s-0"))

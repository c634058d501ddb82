"""What is specific to JSONStorage: crash safety on disk, file layout, locking across processes.

The contract itself is covered by the conformance suite (tests/conformance, `-k json`).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from memwise.errors import CorruptRecordError, SchemaVersionError, StorageError
from memwise.storage.contract import RawMessage, RawRecord
from memwise.storage.json import AsyncJSONStorage, JSONStorage
from tests.conformance.messages import prompt_of, turn

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=[True, False], ids=["fsync", "no-fsync"])
def store(request, tmp_path):
    storage = JSONStorage(db_path=tmp_path / "store", fsync=request.param)
    storage.create_session("s1", user_id="u1")
    yield storage
    storage.close()


def _log(storage: JSONStorage, session_id: str = "s1") -> Path:
    return Path(storage._log_path(session_id))


def _child(code: str, *args: str, **popen) -> subprocess.Popen:
    script = textwrap.dedent(code)
    return subprocess.Popen([sys.executable, "-c", script, *args], cwd=ROOT, **popen)


# ------------------------------------------------------------------------------ crash safety
_APPEND_FOREVER = """
    import os, sys, time
    import memwise.storage.json as module
    from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, UserPromptPart
    storage = module.JSONStorage(db_path=sys.argv[1], fsync=False)

    def stall_mid_write(fd, data):  # write 2.5 of the 3 lines, then wait for SIGKILL
        os.write(fd, bytes(data)[: len(data) * 5 // 6])
        print("mid-write", flush=True)
        time.sleep(600)

    i = 0
    while True:  # one append = 3 big messages
        storage.append_messages("s1", [
            ModelRequest(parts=[UserPromptPart(f"q{i} " + "x" * 120_000)]),
            ModelResponse(parts=[TextPart(f"a{i} " + "y" * 120_000)]),
            ModelResponse(parts=[TextPart(f"b{i} " + "z" * 120_000)]),
        ])
        i += 1
        if i == 3:
            if sys.argv[2] == "stall":
                module._write_all = stall_mid_write
            print("started", flush=True)
"""


@pytest.mark.parametrize("how", ["anywhere", "mid-write"])
def test_sigkilled_writers_leave_only_whole_appends(tmp_path, how):
    db = tmp_path / "store"
    JSONStorage(db_path=db).create_session("s1")
    log = Path(JSONStorage(db_path=db)._log_path("s1"))
    torn = 0
    for _ in range(3):  # kill a writer three times; each new one continues the same log
        child = _child(_APPEND_FOREVER, str(db), "stall" if how == "mid-write" else "loop", stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline().strip() == "started"
            if how == "mid-write":
                assert child.stdout.readline().strip() == "mid-write"
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
        torn += not log.read_bytes().endswith(b"\n")
    if how == "mid-write":
        assert torn == 3  # the case under test really happened
    storage = JSONStorage(db_path=db)
    stored = storage.read_messages("s1")
    assert len(stored) >= 9 and len(stored) % 3 == 0
    assert [m.seq for m in stored] == list(range(1, len(stored) + 1))
    for first, second, third in zip(stored[::3], stored[1::3], stored[2::3], strict=True):
        number = prompt_of(first).split()[0][1:]
        assert prompt_of(second).split()[0] == f"a{number}" and prompt_of(third).split()[0] == f"b{number}"
        assert all(len(prompt_of(m)) == 120_000 + len(prompt_of(m).split()[0]) + 1 for m in (first, second, third))
    assert storage.append_messages("s1", turn("after")) == [len(stored) + 1, len(stored) + 2]
    lines = log.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) - 1 == len(stored) + 2  # the torn tails were cut off
    assert all(json.loads(line)["seq"] == n for n, line in enumerate(lines[:-1], 1))


def test_a_torn_last_line_is_invisible_then_cut_by_the_next_append(store):
    store.append_messages("s1", turn("one"))
    log = _log(store)
    whole = log.read_bytes()
    with open(log, "ab") as f:  # what a writer killed mid-line leaves
        f.write(b'{"seq":3,"run_id":null,"turn_start":true,"created_at":1.0,"batch_end":true,"body":{"par')
    assert [m.seq for m in store.read_messages("s1")] == [1, 2]
    assert [m.seq for m in store.read_messages("s1", last_turns=1)] == [1, 2]
    assert store.append_messages("s1", turn("two")) == [3, 4]
    assert log.read_bytes().startswith(whole)
    assert [prompt_of(m) for m in store.read_messages("s1") if m.turn_start] == ["one", "two"]


def test_an_append_cut_short_between_lines_is_invisible_then_dropped(store):
    store.append_messages("s1", turn("one"))
    store.append_messages("s1", turn("two"))
    log = _log(store)
    lines = log.read_bytes().split(b"\n")
    # keep only the first line of the second append: a whole line, but its append is incomplete
    log.write_bytes(b"\n".join(lines[:3]) + b"\n")
    assert json.loads(lines[2])["batch_end"] is False
    assert [m.seq for m in store.read_messages("s1")] == [1, 2]
    assert store.read_messages("s1", after_seq=2) == []
    assert store.append_messages("s1", turn("three")) == [3, 4]
    assert [prompt_of(m) for m in store.read_messages("s1") if m.turn_start] == ["one", "three"]


def test_a_failed_write_leaves_the_log_as_it_was(store, monkeypatch):
    store.append_messages("s1", turn("one"))
    before = _log(store).read_bytes()
    import memwise.storage.json as module

    def half_then_fail(fd, data):
        os.write(fd, bytes(data)[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(module, "_write_all", half_then_fail)
    with pytest.raises(StorageError, match="No space left"):
        store.append_messages("s1", turn("two"))
    monkeypatch.undo()
    assert _log(store).read_bytes() == before
    assert store.append_messages("s1", turn("three")) == [3, 4]


def test_processes_appending_to_one_store_lose_nothing(tmp_path):
    db = tmp_path / "store"
    JSONStorage(db_path=db).create_session("hot")
    code = """
        import sys
        from memwise.storage.json import JSONStorage
        from tests.conformance.messages import turn
        storage = JSONStorage(db_path=sys.argv[1])
        for i in range(60):
            storage.append_messages("hot", turn(f"{sys.argv[2]}-{i}"))
            storage.read_messages("hot", last_turns=2)
    """
    children = [_child(code, str(db), f"p{n}") for n in range(4)]
    assert [child.wait(timeout=240) for child in children] == [0, 0, 0, 0]
    stored = JSONStorage(db_path=db).read_messages("hot")
    assert [m.seq for m in stored] == list(range(1, 481))
    for request, response in zip(stored[::2], stored[1::2], strict=True):  # every append stayed in one piece
        assert prompt_of(response) == "re: " + prompt_of(request)
    assert sorted(prompt_of(m) for m in stored[::2]) == sorted(f"p{n}-{i}" for n in range(4) for i in range(60))


def test_a_lock_held_when_forking_is_not_kept_by_the_child(tmp_path):
    storage = JSONStorage(db_path=tmp_path / "store")
    storage.create_session("s1")
    read_end, write_end = os.pipe()
    ready_read, ready_write = os.pipe()
    with storage._locked(True):
        pid = os.fork()
        if pid == 0:  # the child says it runs, then waits until the parent is done
            os.close(write_end)
            os.write(ready_write, b"r")
            os.read(read_end, 1)
            os._exit(0)
    os.close(read_end)
    assert os.read(ready_read, 1) == b"r"
    try:
        probe = os.open(storage._lock_path, os.O_RDWR)
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if the child still held it
        finally:
            os.close(probe)
    finally:
        os.close(write_end)
        os.waitpid(pid, 0)


# ------------------------------------------------------------------------------ layout on disk
def test_appending_never_rewrites_the_log(store):
    store.append_messages("s1", turn("one"))
    log = _log(store)
    before, inode = log.read_bytes(), log.stat().st_ino
    store.append_messages("s1", turn("two"))
    after = log.read_bytes()
    assert log.stat().st_ino == inode and after.startswith(before)
    assert after.count(b"\n") == before.count(b"\n") + 2


def test_records_are_replaced_whole_and_temp_files_are_ignored(store):
    path = Path(store._record_path("session", "s1"))
    inode = path.stat().st_ino
    session = store.update_session("s1", expected_version=1, summary="hello")
    assert path.stat().st_ino != inode  # a new file renamed over the old one
    (path.parent / ".tmp").write_bytes(b'{"kind":"session","key":"ghost","ver')  # a crash before the rename
    assert [s.session_id for s in store.list_sessions().items] == ["s1"]
    assert store.get_session("s1").summary == session.summary == "hello"


def test_every_file_is_plain_json(store):
    store.append_messages("s1", turn("hello") + turn("again"), run_id="r1")
    store.update_session("s1", expected_version=1, metadata={"k": ["v", 1]})
    files = [p for p in store.db_path.rglob("*") if p.is_file() and p.name != ".lock"]
    assert {p.suffix for p in files} == {".json", ".jsonl"}
    for path in files:
        for line in path.read_text().splitlines():
            row = json.loads(line)  # raises if anything is not JSON
            assert path.name == "layout.json" or isinstance(row["body"], dict)
    assert b"pickle" not in b"".join(p.read_bytes() for p in files)


@pytest.mark.parametrize(
    "key",
    ["../../etc/passwd", "A", "a", "with space/and\\slash", "ünïcødé ✓", "x" * 500, "y" * 500, "CON", ".", "~h", "~e", "\t\n"],
)
def test_any_key_maps_to_its_own_safe_file(tmp_path, key):
    storage = JSONStorage(db_path=tmp_path / "store", fsync=False)
    others = ["a", "A", "x" * 500, "y" * 500, "~h", "~e", "."]
    for other in others:
        storage.create_session(other, exist_ok=True)
    storage.create_session(key, exist_ok=True, metadata={"me": key})
    storage.append_messages(key, turn(key))
    assert storage.get_session(key).metadata == {"me": key} or key in others
    assert [prompt_of(m) for m in storage.read_messages(key)] == [key, "re: " + key]
    names = [p.name for p in storage.db_path.rglob("*") if p.is_file() and p.name != ".lock"]
    assert all(re.fullmatch(r"[a-z0-9_~-]{1,125}\.jsonl?", name) for name in names)
    assert all(p.resolve().is_relative_to(storage.db_path) for p in storage.db_path.rglob("*"))
    assert len(storage.list_sessions(limit=50).items) == len(set(others) | {key})


def test_bodies_are_kept_byte_for_byte_even_with_newlines(store):
    odd = ['{"a":"x"}', "line\nbreak", "\r\n", "", "not json {", "\ud800 lone surrogate", ',"body":}{']
    seqs = store._sync(store._append_messages("s1", [RawMessage(0, "r\\\"1", i % 2 == 0, 1.5, b) for i, b in enumerate(odd)]), write=True)
    assert seqs == list(range(1, len(odd) + 1))
    raws = store._sync(store._read_messages("s1", 0, None, None), write=False)
    assert [r.body for r in raws] == odd and {r.run_id for r in raws} == {'r\\"1'}
    assert [r.seq for r in store._sync(store._read_messages("s1", 0, 2, None), write=False)] == [5, 6, 7]
    for i, body in enumerate(odd):
        record = RawRecord("note", f"n{i}", 1, 2.5, body, user_id="u\n1")
        assert store._sync(store._put_record(record, 0), write=True)
        assert store._sync(store._get_record("note", f"n{i}"), write=False) == record


def test_last_turns_reads_from_the_end_of_the_log(store):
    for i in range(30):
        store.append_messages("s1", turn(f"t{i}"))
    log = _log(store)
    data = bytearray(log.read_bytes())
    data[0:8] = b"GARBAGE!"  # the first line is ruined; recent turns must not need it
    log.write_bytes(bytes(data))
    assert [prompt_of(m) for m in store.read_messages("s1", last_turns=2) if m.turn_start] == ["t28", "t29"]
    assert [m.seq for m in store.read_messages("s1", after_seq=50)] == list(range(51, 61))
    with pytest.raises(CorruptRecordError, match=r"session 's1'.*byte 0"):
        store.read_messages("s1")


def test_early_pages_read_from_the_start_of_the_log(store):
    for i in range(30):
        store.append_messages("s1", turn(f"t{i}"))
    log = _log(store)
    lines = log.read_bytes().split(b"\n")
    lines[40] = b"GARBAGE!" + lines[40][8:]  # message 41 is ruined; an early page must not need it
    log.write_bytes(b"\n".join(lines))
    assert [m.seq for m in store.read_messages("s1", after_seq=2, limit=5)] == [3, 4, 5, 6, 7]
    with pytest.raises(CorruptRecordError, match="session 's1'"):
        store.read_messages("s1", after_seq=2)


def test_a_log_with_a_gap_is_reported_not_misnumbered(store):
    for i in range(3):
        store.append_messages("s1", turn(f"t{i}"))
    log = _log(store)
    lines = log.read_bytes().split(b"\n")
    log.write_bytes(b"\n".join(lines[:2] + lines[4:]))  # messages 3 and 4 vanished
    with pytest.raises(CorruptRecordError, match="expected message 4"):
        store.read_messages("s1")


# ------------------------------------------------------------------------------ locking, errors, API
def test_filelock_fallback_keeps_threads_in_line(tmp_path):
    storage = JSONStorage(db_path=tmp_path / "store", fsync=False)
    storage._use_flock = False  # as on a platform without flock
    storage.create_session("hot")

    def writer(w):
        for i in range(40):
            storage.append_messages("hot", turn(f"w{w}-{i}"))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = storage.read_messages("hot")
    assert [m.seq for m in stored] == list(range(1, 321))
    for request, response in zip(stored[::2], stored[1::2], strict=True):
        assert prompt_of(response) == "re: " + prompt_of(request)


def test_a_write_inside_a_read_plan_is_refused(store):
    record = RawRecord("note", "n", 1, 1.0, "{}")
    with pytest.raises(StorageError, match="read-only plan"):
        store._run(store._put_record(record, 0), write=False)
    assert store._sync(store._get_record("note", "n"), write=False) is None


def test_a_file_as_db_path_fails_clearly(tmp_path):
    path = tmp_path / "not-a-dir"
    path.write_text("x")
    with pytest.raises(StorageError, match="must be a directory"):
        JSONStorage(db_path=path).get_session("s1")


def test_an_unwritable_directory_fails_clearly(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root ignores directory permissions")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(StorageError, match="locked"):
        JSONStorage(db_path=locked / "store").create_session("s1")


def test_a_closed_storage_refuses_work(tmp_path):
    storage = JSONStorage(db_path=tmp_path / "store")
    storage.create_session("s1")
    storage.close()
    with pytest.raises(StorageError, match="closed"):
        storage.get_session("s1")


async def test_seed_names_and_constructor(tmp_path):
    assert AsyncJSONStorage is JSONStorage
    async with AsyncJSONStorage(db_path=str(tmp_path / "seed")) as storage:
        await storage.acreate_session("s1", user_id="u1")
        assert await storage.aappend_messages("s1", turn("hi")) == [1, 2]
    reopened = JSONStorage(db_path=tmp_path / "seed")
    assert [m.seq for m in reopened.read_messages("s1", user_id="u1")] == [1, 2]
    assert reopened.read_messages("s1", user_id="intruder") == []
    assert "seed" in repr(reopened)


def test_a_store_with_a_newer_layout_refuses_to_open(tmp_path):
    JSONStorage(db_path=tmp_path / "store").create_session("s1")
    assert json.loads((tmp_path / "store" / "layout.json").read_text()) == {"layout": 1}
    (tmp_path / "store" / "layout.json").write_text('{"layout": 99}')
    with pytest.raises(SchemaVersionError, match="layout 99.*Upgrade memwise"):
        JSONStorage(db_path=tmp_path / "store").get_session("s1")


def test_a_damaged_log_can_still_be_deleted(store):
    store.append_messages("s1", turn("one"))
    _log(store).write_bytes(b"GARBAGE\nMORE GARBAGE\n")
    with pytest.raises(CorruptRecordError, match="session 's1'"):
        store.read_messages("s1")
    assert store.delete_session("s1") is True
    assert not _log(store).exists() and store.get_session("s1") is None

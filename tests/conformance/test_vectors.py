"""Dense vectors per message: stored with their session, scoped like search, gone with deletes.

Vectors come back as array("f"): `listed` turns them into lists to compare."""

from __future__ import annotations

import asyncio
import time

import pytest

from memwise.errors import InvalidInputError, NotFoundError
from memwise.storage.contract import RecordQuery
from memwise.storage.vectors import KIND

M = "test-embedder"


async def listed(read) -> list:
    return [(sid, seq, list(vector)) for sid, seq, vector in await read]


def vec(i: int, dim: int = 4) -> list[float]:
    """Exactly representable in float32, so a round trip must return the same numbers."""
    return [i + 0.5, -i / 4, 0.0, float(i * 3)][:dim] + [0.125] * max(0, dim - 4)


async def test_vectors_round_trip_by_session_and_user(api):
    await api.create_session("s1", user_id="u1")
    await api.create_session("s2", user_id="u1")
    await api.create_session("b1", user_id="u2")
    assert await api.put_vectors("s1", M, [(1, vec(1)), (2, vec(2))]) == 2
    assert await api.put_vectors("s1", M, [(3, vec(3))]) == 1
    assert await api.put_vectors("s2", M, [(1, vec(7))]) == 1
    await api.put_vectors("b1", M, [(1, vec(9))])
    await api.put_vectors("s1", "other-model", [(1, vec(5))])
    assert await listed(api.read_vectors(M, session_id="s1")) == [("s1", 1, vec(1)), ("s1", 2, vec(2)), ("s1", 3, vec(3))]
    assert await listed(api.read_vectors(M, user_id="u1")) == [
        ("s1", 1, vec(1)), ("s1", 2, vec(2)), ("s1", 3, vec(3)), ("s2", 1, vec(7)),
    ]
    assert await listed(api.read_vectors("other-model", user_id="u1")) == [("s1", 1, vec(5))]
    assert await listed(api.read_vectors(M, user_id="u2")) == [("b1", 1, vec(9))]
    assert await api.read_vectors(M, session_id="b1", user_id="u1") == []  # not u1's
    assert await api.read_vectors(M, user_id="nobody") == []


async def test_vectors_put_again_replace_the_earlier_ones(api):
    await api.create_session("s1", user_id="u1")
    await api.put_vectors("s1", M, [(1, vec(1)), (2, vec(2))])
    await asyncio.sleep(0.01)
    await api.put_vectors("s1", M, [(1, vec(8)), (2, vec(9))])  # the same batch again
    await asyncio.sleep(0.01)
    await api.put_vectors("s1", M, [(2, vec(4))])  # an overlapping one
    assert await listed(api.read_vectors(M, session_id="s1")) == [("s1", 1, vec(8)), ("s1", 2, vec(4))]
    big = [float(x) / 7 for x in range(384)]
    await api.put_vectors("s1", "big", [(5, big)])
    (_, _, got), = await api.read_vectors("big", session_id="s1")
    assert got.typecode == "f" and memoryview(got).nbytes == 384 * 4  # numpy takes it without a copy
    assert len(got) == 384 and all(abs(a - b) <= 1e-6 * max(1.0, abs(b)) for a, b in zip(got, big, strict=True))  # float32


def stored_records(api, **where) -> list:
    storage = api.storage
    return storage._sync(storage._query_records(RecordQuery(KIND, limit=100, **where)), write=False)


async def test_deletes_take_the_vectors_with_them(api):
    for sid, user in (("s1", "u1"), ("s2", "u1"), ("s3", "u2")):
        await api.create_session(sid, user_id=user)
        await api.put_vectors(sid, M, [(1, vec(1))])
    assert await api.delete_session("s1")
    assert stored_records(api, session_id="s1") == []  # the records, not only the answers
    assert [v[0] for v in await api.read_vectors(M, user_id="u1")] == ["s2"]
    await api.create_session("s1", user_id="u1")  # the same id again: none of the old vectors
    assert await api.read_vectors(M, session_id="s1") == []
    await api.forget_user("u1")
    assert await api.read_vectors(M, user_id="u1") == [] and await api.read_vectors(M, session_id="s2") == []
    assert stored_records(api, user_id="u1") == []
    await asyncio.sleep(0.02)
    await api.prune(time.time())
    assert await api.read_vectors(M, user_id="u2") == [] and stored_records(api) == []


async def test_vectors_left_behind_by_a_racing_put_never_come_back(api):
    await api.create_session("s1", user_id="u1")
    await api.put_vectors("s1", M, [(1, vec(1))])
    left = stored_records(api, session_id="s1")
    await api.delete_session("s1")
    storage = api.storage
    for raw in left:  # what a put that passed its session check before the delete would write after it
        assert storage._sync(storage._put_record(raw, 0), write=True)
    assert await api.read_vectors(M, user_id="u1") == []
    await api.create_session("s1", user_id="u1")  # the same id again
    assert await api.read_vectors(M, session_id="s1") == [] and await api.read_vectors(M, user_id="u1") == []


@pytest.mark.parametrize(
    ("vectors", "match"),
    [
        ("nope", "list of"),
        ([(1,)], "pair"),
        ([(0, vec(1))], "seq"),
        ([(1, [])], "non-empty"),
        ([(1, ["a", 1.0])], "finite"),
        ([(1, [float("nan")])], "finite"),
        ([(1, vec(1)), (2, vec(2, dim=3))], "dimensions"),
    ],
)
async def test_bad_vectors_raise_and_store_nothing(api, vectors, match):
    await api.create_session("s1", user_id="u1")
    with pytest.raises(InvalidInputError, match=match):
        await api.put_vectors("s1", M, vectors)
    assert await api.read_vectors(M, session_id="s1") == []


async def test_vectors_need_a_session_a_model_and_a_scope(api):
    with pytest.raises(NotFoundError, match="ghost"):
        await api.put_vectors("ghost", M, [(1, vec(1))])
    await api.create_session("s1")
    with pytest.raises(InvalidInputError, match="model_name"):
        await api.put_vectors("s1", "", [(1, vec(1))])
    with pytest.raises(InvalidInputError, match="scope"):
        await api.read_vectors(M)
    assert await api.put_vectors("s1", M, []) == 0

"""Dense vectors of messages, stored in the same backend as the messages they embed.

`put_vectors(session_id, model_name, [(seq, vector), ...])` stores one record of kind "vectors"
per call (key: model, session, first seq; the model name rides in the indexed `status` column, the
owner and session in theirs), so writing never rewrites earlier vectors and every backend stores
them with the primitives it already has. A vector is its float32 bytes in base64, inside the
record's JSON (4/3 bytes per byte instead of ~20 characters per number as JSON numbers).

`read_vectors(model_name, user_id=... | session_id=...)` lists those records and keeps the
vectors of sessions that still exist and are the ones they were written for (a session's
`created_at` is stored with its vectors): a session deleted, or deleted and created again, never
brings back vectors that a delete racing a put left behind. `delete_session`, `forget_user` and
`prune` delete a session's vector records with it.
"""

from __future__ import annotations

import binascii
import math
import time
from array import array
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from memwise.errors import InvalidInputError, NotFoundError
from memwise.storage.checks import check_count, check_id, check_optional_id
from memwise.storage.codec import dumps, loads
from memwise.storage.contract import RawRecord, RecordQuery
from memwise.storage.plan import Plan, gather
from memwise.storage.search import all_records, created_at

if TYPE_CHECKING:
    from memwise.storage.plan import T

KIND = "vectors"
_PAGE = 1000
#: (session_id, seq, vector), as read_vectors returns them. A vector is an `array("f")`: a sequence
#: of floats that numpy takes without a copy (`numpy.asarray`); turning 10k vectors of 384
#: numbers into lists would cost more than the whole read (measured: 112 ms of 390 ms).
Vector = tuple[str, int, "array[float]"]


class Vectors:
    """Dense vectors per message (mixed into `Storage`)."""

    if TYPE_CHECKING:
        def _sync(self, plan: Plan[T], *, write: bool) -> T: ...
        async def _async(self, plan: Plan[T], *, write: bool) -> T: ...
        def _get_record(self, kind: str, key: str) -> Plan[RawRecord | None]: ...
        def _put_record(self, record: RawRecord, expected_version: int) -> Plan[bool]: ...
        def _query_records(self, query: RecordQuery) -> Plan[list[RawRecord]]: ...
        def _p_sessions_of(self, user_id: str | None) -> Plan[list[RawRecord]]: ...

    def put_vectors(self, session_id: str, model_name: str, vectors: Sequence[tuple[int, Sequence[float]]]) -> int:
        """Store `(seq, vector)` pairs of a session's messages for `model_name`; return how many.
        Vectors put again for the same seqs replace the earlier ones when read."""
        return self._sync(self._p_put_vectors(*_checked(session_id, model_name, vectors)), write=True)

    async def aput_vectors(self, session_id: str, model_name: str, vectors: Sequence[tuple[int, Sequence[float]]]) -> int:
        return await self._async(self._p_put_vectors(*_checked(session_id, model_name, vectors)), write=True)

    def read_vectors(self, model_name: str, *, user_id: str | None = None, session_id: str | None = None) -> list[Vector]:
        """Every `(session_id, seq, vector)` of `model_name` in one session (`user_id`'s, when
        given too) or in every session of `user_id`, ordered by session and seq. Each vector is
        an `array("f")` (float32 numbers; `list(vector)` for a list)."""
        return self._sync(self._p_read_vectors(*_scope(model_name, user_id, session_id)), write=False)

    async def aread_vectors(
        self, model_name: str, *, user_id: str | None = None, session_id: str | None = None
    ) -> list[Vector]:
        return await self._async(self._p_read_vectors(*_scope(model_name, user_id, session_id)), write=False)

    # ---------------------------------------------------------------- plans
    def _p_put_vectors(self, session_id: str, model: str, rows: list[tuple[int, str]], dim: int) -> Plan[int]:
        if not rows:
            return 0
        session = yield from self._get_record("session", session_id)
        if session is None:
            raise NotFoundError(f"session {session_id!r} does not exist; vectors belong to its messages")
        body = dumps({"model": model, "dim": dim, "session_created_at": created_at(session), "vectors": rows}, "vectors")
        key = dumps([model, session_id, rows[0][0]], "key")
        record = RawRecord(KIND, key, 1, time.time(), body, user_id=session.user_id, session_id=session_id, status=model)
        while not (yield from self._put_record(record, record.version - 1)):  # the same batch again: replace it
            current = yield from self._get_record(KIND, key)
            record = replace(record, version=(current.version if current else 0) + 1)
        return len(rows)

    def _p_read_vectors(self, model: str, user_id: str | None, session_id: str | None) -> Plan[list[Vector]]:
        query = RecordQuery(KIND, user_id=user_id if session_id is None else None, session_id=session_id,
                            statuses=(model,), limit=_PAGE)
        scope = self._p_sessions_of(user_id) if session_id is None else self._get_record("session", session_id)
        sessions, raws = yield from gather(scope, all_records(self, query))
        if session_id is not None:
            sessions = [sessions] if sessions is not None and user_id in (None, sessions.user_id) else []
        alive = {raw.key: created_at(raw) for raw in sessions}
        found: dict[tuple[str, int], tuple[float, str]] = {}
        for raw in raws:
            body = loads(raw.body, f"vectors {raw.key}")
            if raw.session_id not in alive or body.get("session_created_at") != alive[raw.session_id]:
                continue  # left behind by a delete racing the put
            for seq, packed in body["vectors"]:
                if found.get((raw.session_id, seq), (-1.0,))[0] <= raw.updated_at:
                    found[(raw.session_id, seq)] = (raw.updated_at, packed)
        return [(sid, seq, _unpack(packed)) for (sid, seq), (_, packed) in sorted(found.items())]


def _pack(vector: list[float]) -> str:
    return binascii.b2a_base64(array("f", vector).tobytes(), newline=False).decode("ascii")


def _unpack(packed: str) -> array[float]:
    values = array("f")
    values.frombytes(binascii.a2b_base64(packed))
    return values


# ==================================================================== argument checks
def _checked(session_id: Any, model_name: Any, vectors: Any) -> tuple[str, str, list[tuple[int, str]], int]:
    check_id(session_id, "session_id")
    check_id(model_name, "model_name")
    if isinstance(vectors, (str, bytes, dict)) or not isinstance(vectors, Sequence):
        raise InvalidInputError(f"vectors must be a list of (seq, vector) pairs, not {type(vectors).__name__}")
    rows, dim = [], None
    for index, pair in enumerate(vectors):
        what = f"vectors[{index}]"
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise InvalidInputError(f"{what} must be a (seq, vector) pair, not {pair!r}")
        seq, vector = pair
        check_count(seq, f"{what}: seq")
        if isinstance(vector, (str, bytes)) or not isinstance(vector, Sequence) or not vector:
            raise InvalidInputError(f"{what}: the vector must be a non-empty list of numbers")
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in vector):
            raise InvalidInputError(f"{what}: the vector must hold finite numbers only")
        if dim is not None and len(vector) != dim:
            raise InvalidInputError(f"{what} has {len(vector)} dimensions, the others {dim}")
        dim = len(vector)
        rows.append((seq, _pack(list(vector))))
    return session_id, model_name, rows, dim or 0


def _scope(model_name: Any, user_id: Any, session_id: Any) -> tuple[str, str | None, str | None]:
    check_id(model_name, "model_name")
    check_optional_id(user_id, "user_id")
    check_optional_id(session_id, "session_id")
    if user_id is None and session_id is None:
        raise InvalidInputError("read_vectors needs a scope: a session_id, a user_id, or both")
    return model_name, user_id, session_id

"""Mem0Storage: the storage contract on Mem0 memories (open-source `Memory` or the hosted platform).

Mem0 is used as what it is, memories with metadata, filters and search, not as a blob store:

- Every record (session, run, profile, the store's format record) is ONE mem0 memory, and so is
  every message. The memory's text is meaningful (a message's words; a short description for a
  record) so mem0's own search and dashboard show real content. The exact JSON body the core
  produced rides along in the memory's metadata (`mw_body`) and comes back byte for byte.
- mem0 entity scopes follow the data: `user_id` is the memwise user (a placeholder,
  `<namespace>-anonymous`, when there is none) and `run_id` is the session. The memwise fields
  that are filtered on live in metadata with an `mw_` prefix (mem0 reserves `user_id`, `agent_id`,
  `run_id`, `created_at`...): `mw_ns` (the namespace, so several stores can share one mem0
  project), `mw_kind`, `mw_key`, `mw_version`, `mw_updated_at`, `mw_user`, `mw_agent`,
  `mw_session`, `mw_status`; for messages `mw_session`, `mw_seq`, `mw_turn`, `mw_run`,
  `mw_created_at`.
- Reads are mem0 `get_all` calls with `filters=` (identity inside the filters, as mem0 v2 wants).
  With the open-source Memory on qdrant, equality and range conditions (seq window, updated_at)
  are pushed down to the vector store; on the platform only what its filter grammar accepts is
  sent (entity fields and metadata equality) and the rest is applied here. Every condition is
  re-checked in Python, so a vector store with weaker filters still returns exact results.
  Mem0 has no ordered listing, so pages of sessions/runs are sorted here (newest first).

Atomicity: Mem0 has no compare-and-set and no counters. `_put_record`, `_delete_record`,
`_append_messages` and `_delete_messages` run under a lock held by this process (shared by every
Mem0Storage built on the same mem0 client object), and message seqs come from a per-session
counter kept in that process. An append checks under that lock that its session exists, and (on
the platform, where a plan's steps take the lock one by one) deleting a session's record also
deletes the messages appended since the plan deleted them: no message outlives its session.
**Mem0Storage is therefore safe for many threads and tasks in ONE process, not for several
processes (or hosts) writing the same mem0 store**: Mem0 itself offers no primitive that would
make cross-process writes atomic. A failed append removes the messages it had already written; a
process killed in the middle of a multi-message append can leave the first messages of that
append (each message is always whole).

Drivers: the open-source `Memory` is an in-process library (its qdrant local mode is not
thread-safe), so every plan runs under the lock and the async API uses the default thread driver.
The hosted platform runs `MemoryClient` (sync) and, when built from `api_key` or given an
`async_memory_client`, `AsyncMemoryClient` (httpx.AsyncClient) natively for the async API.

Modules: `backend.py` the storage, its primitives and drivers; `commands.py` what its plans yield
and the state shared per mem0 client; `documents.py` records and messages as mem0 memories (texts,
metadata, filters); `connect.py` building clients and telling mem0's errors apart.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

os.environ.setdefault("MEM0_TELEMETRY", "False")  # before mem0 is imported: no telemetry calls
os.environ.setdefault(
    "MEM0_DIR",
    os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "memwise", "mem0"),
)

_MEM0_PRELOADED = "mem0" in sys.modules

from memwise.errors import ConfigurationError  # noqa: E402

try:
    import httpx  # noqa: F401
    import mem0  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ConfigurationError(
        f"Mem0Storage needs the mem0 extra ({exc}); install it with: pip install 'memwise[mem0]'"
    ) from None

if _MEM0_PRELOADED:
    from mem0.memory import telemetry as _telemetry

    if _telemetry.MEM0_TELEMETRY:
        warnings.warn(
            "mem0 was imported before memwise.storage.mem0 with its telemetry on (it calls out to the "
            "internet); set MEM0_TELEMETRY=False in the environment, or import memwise.storage.mem0 first",
            RuntimeWarning,
            stacklevel=2,
        )



class _MissingExtrasNote(logging.Filter):
    """mem0 warns on first use that its optional extras (spaCy, fastembed) are not installed.
    memwise uses neither (it keeps its own search index), so to a memwise user the note is noise
    on stderr; every other record of those loggers passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "not installed" not in record.getMessage()


for _name in ("mem0.utils.spacy_models", "mem0.vector_stores.qdrant"):
    logging.getLogger(_name).addFilter(_MissingExtrasNote())

from memwise.storage.mem0.backend import Mem0Storage  # noqa: E402
from memwise.storage.mem0.connect import DEFAULT_HOST  # noqa: E402

AsyncMem0Storage = Mem0Storage

__all__ = ["DEFAULT_HOST", "AsyncMem0Storage", "Mem0Storage"]

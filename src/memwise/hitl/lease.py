"""The record of an executing run, held under a lease that the run renews while it works.

Every write to the record is a compare-and-set on its version, so a write that loses learns why:
the run was cancelled (stop at this step) or this worker's lease expired and another worker took
the run over (stop: it owns the run now). A process that dies leaves the run `running` with a
lease that expires, which is how an interrupted run is recognised and taken over.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from dataclasses import replace
from typing import Any

from memwise.errors import InvalidInputError, LeaseHeldError, NotFoundError, StorageError, VersionConflict
from memwise.hitl.errors import RunCancelledError, RunNotResumableError, RunTakenOverError
from memwise.storage.base import Storage
from memwise.storage.records import Run
from memwise.storage.turns import RunUpdate, TurnEnd, TurnWrite

#: Seconds a lease lasts; the run renews it every third of that while it executes.
DEFAULT_TTL = 60.0
_KEEP: Any = object()


def new_owner() -> str:
    """A lease owner id naming the host and process (readable when inspecting a stuck run)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def is_interrupted(run: Run, now: float | None = None) -> bool:
    """A run marked running that nobody is executing: its worker died (or lost the storage)."""
    return run.status == "running" and (run.lease_expires_at or 0.0) <= (time.time() if now is None else now)


class RunLease:
    def __init__(self, storage: Storage, run: Run, ttl: float) -> None:
        if run.lease_owner is None:
            raise InvalidInputError(f"run {run.run_id!r} is not leased: a RunLease needs a run with a lease_owner")
        self.storage, self.run, self.ttl = storage, run, ttl
        self.owner: str = run.lease_owner
        self._lock = asyncio.Lock()
        self._beat: asyncio.Task[None] | None = None
        self._stop: BaseException | None = None

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @staticmethod
    def leased(run: Run, ttl: float = DEFAULT_TTL) -> Run:
        """A new run's record as it is to be stored: already leased to this worker."""
        return replace(run, lease_owner=new_owner(), lease_expires_at=time.time() + ttl)

    @classmethod
    async def take(cls, storage: Storage, run_id: str, ttl: float = DEFAULT_TTL) -> RunLease:
        """Lease an existing run; LeaseHeldError while another live worker holds it."""
        return cls(storage, await storage.aacquire_lease(run_id, new_owner(), ttl), ttl)

    # ---------------------------------------------------------------- heartbeat
    def start(self) -> None:
        """Renew the lease in the background while the run executes."""
        if self._beat is None:
            self._beat = asyncio.get_running_loop().create_task(self._heartbeat())

    async def stop(self) -> None:
        task, self._beat = self._beat, None
        if task is None or task.done():
            return
        task.cancel()
        await asyncio.wait([task])  # (not `await task`: its CancelledError is not ours to raise)

    async def _heartbeat(self) -> None:
        while self._stop is None:
            await asyncio.sleep(self.ttl / 3)
            async with self._lock:
                try:
                    self.run = await self.storage.aacquire_lease(self.run_id, self.owner, self.ttl)
                except LeaseHeldError as exc:
                    self._stop = RunTakenOverError(f"run {self.run_id!r} was taken over: {exc}")
                except NotFoundError:
                    self._stop = RunNotResumableError(f"run {self.run_id!r} was deleted while it ran")
                except StorageError:
                    continue  # unreachable for a moment: the next beat tries again
            if self.run.status == "cancelled":
                self._stop = RunCancelledError(self.run_id)

    def check(self) -> None:
        """Raise if the heartbeat saw the run cancelled or taken over."""
        if self._stop is not None:
            raise self._stop

    # ---------------------------------------------------------------- writes
    async def save(self, **changes: Any) -> Run:
        """Write `changes`; raise if the run was cancelled or taken over."""
        await self._write(changes)
        return self.run

    async def finish(
        self, status: str, *, error: str | None = None, usage: dict[str, int] | None = None, checkpoint: Any = _KEEP
    ) -> Run:
        """Write the run's paused or failed status and give the lease back, so a resumer need
        not wait for it to expire."""
        await self.stop()
        changes: dict[str, Any] = {"status": status, "error": error}
        if usage is not None:
            changes["usage"] = usage
        if checkpoint is not _KEEP:
            changes["checkpoint"] = checkpoint
        run = await self.save(**changes)
        await self.release()
        return run

    async def complete(self, usage: dict[str, int], turn: TurnWrite | None = None) -> TurnEnd:
        """Mark the run completed with its usage, dropping its checkpoint; it keeps its lease
        (nothing resumes a completed run). `turn`, the caller's writes, is stored in the same
        plan as this run update. Returns what was written (without `turn`: just the run)."""
        await self.stop()
        return await self._write({"status": "completed", "error": None, "usage": usage, "checkpoint": None}, turn)

    async def _write(self, changes: dict[str, Any], turn: TurnWrite | None = None) -> TurnEnd:
        """Compare-and-set `changes` on the run, alone or as `turn.update_run` (then `finish_turn`
        writes nothing of the turn when the version is stale). A stale version that means a
        cancel or a takeover raises; any other (a heartbeat that landed as it was stopped) is
        simply written again on the new version."""
        async with self._lock:
            while True:
                self.check()
                try:
                    if turn is None:
                        self.run = await self.storage.aupdate_run(self.run_id, expected_version=self.run.version, **changes)
                        return TurnEnd([], run=self.run)
                    end = await self.storage.afinish_turn(replace(turn, update_run=RunUpdate(self.run.version, changes)))
                    self.run = end.run or self.run
                    return end
                except VersionConflict:
                    self.run = self._examine(await self.storage.aget_run(self.run_id))

    async def release(self) -> None:
        await self.stop()
        try:
            released = await self.storage.arelease_lease(self.run_id, self.owner)
        except StorageError:
            return  # the lease expires by itself
        if released is not None:
            self.run = released

    def _examine(self, current: Run | None) -> Run:
        if current is None:
            raise RunNotResumableError(f"run {self.run_id!r} was deleted while it ran")
        if current.lease_owner != self.owner:
            raise RunTakenOverError(f"run {self.run_id!r} was taken over by {current.lease_owner!r}")
        if current.status == "cancelled":
            self._stop = RunCancelledError(self.run_id)
            raise self._stop
        return current


async def cancel_run(storage: Storage, run_id: str) -> bool:
    """Mark a run cancelled; its worker stops at its next step. False if it had already finished."""
    while True:
        run = await storage.aget_run(run_id)
        if run is None:
            raise NotFoundError(f"run {run_id!r} does not exist")
        if run.status in ("completed", "cancelled"):
            return False
        try:
            await storage.aupdate_run(run_id, expected_version=run.version, status="cancelled")
            return True
        except VersionConflict:
            continue

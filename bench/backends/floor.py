"""memwise's storage API against the bare driver, backend by backend, in one run.

`python -m bench` measures whole agent turns; this isolates the storage layer, to see what memwise
costs over the driver it sits on. Per backend, alternating op by op (so machine noise hits both
alike): (a) memwise `append_messages` of one turn (request + answer, one call) + `read_messages`
of the last 20 messages; (b) the bare driver doing the same work (the floors of bench/stores.py).
Both start from an empty session. A missing driver or server prints "not available: <why>".

    python -m bench.backends.floor [sqlite|postgres|redis|mongo|json|mem0 ...] [--ops N]

Durability is each backend's default on both sides (JSON fsync, PostgreSQL synchronous commits:
set MEMWISE_BENCH_POSTGRES_URL=...?options=-c%20synchronous_commit%3Doff to drop the WAL wait).
"""

from __future__ import annotations

import argparse
import time
import traceback
import uuid
from collections.abc import Callable

from bench.common import Unavailable, fmt_us, fmt_x, p50, us
from bench.fake import turn_messages
from bench.stores import CLASSES, LAST, message_bodies, open_backend

WARM = 5  # untimed ops per side first (connections, prepared statements, scripts)


def measure(name: str, ops: int) -> str:
    """One report line for backend `name`: `ops` timed ops per side, interleaved."""
    with open_backend(name) as backend:
        storage, floor = backend.storage(), backend.floor()
        try:
            session = f"floor-{uuid.uuid4().hex[:8]}"
            storage.create_session(session, user_id="bench-user")
            turn, bodies = turn_messages(1), message_bodies()

            def ours(k: int) -> None:
                storage.append_messages(session, turn)
                storage.read_messages(session, after_seq=max(0, 2 * k + 2 - LAST))

            def bare(k: int) -> None:
                floor.op(session, 2 * k + 1, bodies)

            times: dict[Callable[[int], None], list[float]] = {ours: [], bare: []}
            for k in range(WARM + ops):
                for side in (ours, bare) if k % 2 == 0 else (bare, ours):
                    start = time.perf_counter()
                    side(k)
                    if k >= WARM:
                        times[side].append(time.perf_counter() - start)
            last = 2 * (WARM + ops)
            seqs = [m.seq for m in storage.read_messages(session, after_seq=last - LAST)]
            if seqs != list(range(last - LAST + 1, last + 1)):
                raise RuntimeError(f"memwise's session ends with seqs {seqs[-3:]}, expected up to {last}")
        finally:
            floor.close()
    mine, theirs = times[ours], times[bare]
    return (f"memwise {len(mine) / sum(mine):8,.0f} ops/s p50 {fmt_us(us(p50(mine))):>9} | "
            f"bare {len(theirs) / sum(theirs):8,.0f} ops/s p50 {fmt_us(us(p50(theirs))):>9} | "
            f"ratio {fmt_x(p50(mine) / p50(theirs)):>6}   [{backend.floor_label}]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.backends.floor", description=__doc__.splitlines()[0])
    parser.add_argument("backends", nargs="*", metavar="backend", help=f"any of {', '.join(CLASSES)} (default: all)")
    parser.add_argument("--ops", type=int, default=2000, help="timed ops per side and backend (default 2000)")
    args = parser.parse_args(argv)
    if unknown := sorted(set(args.backends) - set(CLASSES)):
        parser.error(f"unknown backend(s) {', '.join(unknown)}; choose from {', '.join(CLASSES)}")
    print(f"{args.ops} x (append one turn + read the last {LAST} messages) per side; "
          "ratio = memwise p50 / bare p50", flush=True)
    failed = False
    for name in args.backends or CLASSES:
        try:
            line = measure(name, args.ops)
        except Unavailable as exc:
            line = f"not available: {exc}"
        except Exception as exc:  # one backend's crash must not hide the others
            failed, line = True, f"error: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}"
        print(f"{name:9} {line}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

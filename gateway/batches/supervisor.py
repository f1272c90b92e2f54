"""The batch sweep each worker process runs every few seconds: it ends batches that are ready
to end (completed, cancelled, expired) and sends again the chunks nobody is running.

Brokers differ in what they redeliver after a crash (kombu's SQLAlchemy transport never
redelivers a message its consumer took; Redis only after its visibility timeout), so the
database's chunk leases, not the broker, decide when a chunk is redone:
- a chunk whose lease expired (its worker died) is sent again at once;
- a chunk never started is sent again when its batch made no progress for `stall_seconds`
  and nobody holds a lease in it (its message was lost with a worker that had prefetched it),
  each further time after twice as long (a batch merely queued behind others gets few copies).
"""

from __future__ import annotations

import logging
import threading

from gateway.batches import finalize
from gateway.batches.config import batch_settings
from gateway.batches.dispatch import publish_chunks
from gateway.batches.runtime import BatchRuntime
from gateway.batches.store import active_batch_ids, chunk_rows, load_batch, now_ms, progress

log = logging.getLogger(__name__)


def sweep(rt: BatchRuntime) -> dict[str, int]:
    """One pass over the running batches; returns counts of what it did."""
    engine = rt.services.db
    done = {"finalized": 0, "redispatched": 0}
    for batch_id in active_batch_ids(engine):
        if rt.run(finalize.maybe_finalize(rt, batch_id), timeout=300) is not None:
            done["finalized"] += 1
            continue
        done["redispatched"] += redispatch(rt, batch_id)
    return done


def redispatch(rt: BatchRuntime, batch_id: str) -> int:
    engine = rt.services.db
    batch = load_batch(engine, batch_id)
    if batch is None or batch.status != "in_progress":
        return 0
    stall_ms = int(batch_settings(rt.services.settings).stall_seconds * 1000)
    now = now_ms()
    chunks = [c for c in chunk_rows(engine, batch_id) if not c.done]
    live = any(c.owner is not None and c.lease_until_ms > now for c in chunks)
    orphaned = [c.chunk_no for c in chunks if c.owner is not None and c.lease_until_ms <= now and (c.dispatched_at_ms or 0) < c.lease_until_ms]
    unsent = [c.chunk_no for c in chunks if c.owner is None and c.dispatched_at_ms is None]
    resend = orphaned + unsent
    if not live:
        last = progress(engine, [batch_id]).get(batch_id)
        moved_ms = max((last.last_finished_ms or 0) if last else 0, (batch.in_progress_at or 0) * 1000)
        if now - moved_ms > stall_ms:
            # Backing off per chunk: behind a long queue the same chunk is not sent again and again.
            resend += [
                c.chunk_no for c in chunks
                if c.owner is None and c.dispatched_at_ms is not None and now - c.dispatched_at_ms > stall_ms * 2 ** min(max(c.dispatches - 1, 0), 6)
            ]
    if resend:
        log.warning("batch %s: sending %d chunks again (orphaned %s, unsent %d)", batch_id, len(resend), orphaned, len(unsent))
        publish_chunks(rt.services.settings, engine, batch_id, sorted(set(resend)))
    return len(set(resend))


class Supervisor:
    """A daemon thread running `sweep` every `sweep_seconds` on this process's batch runtime."""

    def __init__(self, runtime_of, interval: float):  # noqa: ANN001 - () -> BatchRuntime | None
        self._runtime_of = runtime_of
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="batch-supervisor", daemon=True)

    def start(self) -> Supervisor:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                rt = self._runtime_of()
                if rt is not None and not rt.draining.is_set():
                    sweep(rt)
            except Exception:  # noqa: BLE001 - the sweep must outlive a bad pass; the traceback is logged
                log.exception("batch sweep failed; trying again in %.1fs", self._interval)

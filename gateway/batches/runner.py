"""Running one chunk: claim it, send its pending lines through the pipeline (several in
flight; each line's admission draws its reservation out of the chunk's budget hold, in one
atomic step), write each result with its ledger row, release what is left of the hold, and
hand the chunk back.

The chunk stops taking new lines when its batch is cancelled or expires, when this process
shuts down, or when it loses its lease; lines in flight always finish and are recorded.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass

import orjson
from sqlalchemy.exc import SQLAlchemyError

from billing.batch_models import Batch, BatchChunk, BatchLine
from billing.ledger import VALUE_FAULTS
from gateway.auth import Principal
from gateway.batches import chunks, finalize, holds, principals
from gateway.batches.chunks import LineResult
from gateway.batches.config import BatchSettings, batch_settings
from gateway.batches.dispatch import publish_chunks
from gateway.batches.hints import BatchHint
from gateway.batches.holds import hold_id
from gateway.batches.jsonl import ENDPOINTS
from gateway.batches.runtime import BatchRuntime
from gateway.batches.store import line_request_id, load_batch
from gateway.errors import APIError
from gateway.pipeline import CallResult

log = logging.getLogger(__name__)

# Refusals that pass with time: the line waits and tries again (with a new request id). A 429
# is a rate limit (ours or the upstream's) unless it is a budget refusal, which waiting won't fix.
UNAVAILABLE_CODES = {"budget_store_unavailable", "auth_unavailable"}
WRITE_ATTEMPTS = 5


async def run_chunk(rt: BatchRuntime, batch_id: str, chunk_no: int) -> str:
    cfg = batch_settings(rt.services.settings)
    engine = rt.services.db
    chunk = await asyncio.to_thread(chunks.claim, engine, batch_id, chunk_no, rt.owner, int(cfg.lease_seconds * 1000))
    if chunk is None:  # done, held by a live worker, or its batch is no longer running
        await finalize.maybe_finalize(rt, batch_id)
        return "skipped"
    batch = await asyncio.to_thread(load_batch, engine, batch_id)
    assert batch is not None
    run = _ChunkRun(rt, cfg, batch, chunk)
    try:
        await run.execute()
    finally:
        done = await asyncio.to_thread(chunks.release, engine, batch_id, chunk_no, rt.owner)
    if not done and run.handed_back:
        # This process is going away or lost the chunk: let another worker carry on now.
        await asyncio.to_thread(publish_chunks, rt.services.settings, engine, batch_id, [chunk_no])
    await finalize.maybe_finalize(rt, batch_id)
    return "done" if done else "partial"


@dataclass
class _Stop:
    reason: str | None = None

    def set(self, reason: str) -> None:
        self.reason = self.reason or reason


class _ChunkRun:
    def __init__(self, rt: BatchRuntime, cfg: BatchSettings, batch: Batch, chunk: BatchChunk):
        self.rt, self.cfg, self.batch, self.chunk = rt, cfg, batch, chunk
        self.engine = rt.services.db
        self.kind = ENDPOINTS[batch.endpoint]
        self.stop = _Stop()
        self.results: asyncio.Queue[LineResult | None] = asyncio.Queue()
        self.holds: dict[str, str] = {}  # model -> the chunk's budget hold for its lines

    @property
    def handed_back(self) -> bool:
        return self.stop.reason in ("draining", "lease lost")

    async def execute(self) -> None:
        try:
            await self._execute()
        finally:
            # Whatever the lines did not draw: released now, not when the completion window ends;
            # unless the chunk goes on elsewhere, whose lines draw on the same holds.
            if not self.handed_back:
                await holds.release_holds(self.rt.services.admission, self.chunk.holds)

    async def _execute(self) -> None:
        principal = await asyncio.to_thread(principals.usable_principal, self.engine, self.batch)
        if isinstance(principal, APIError):
            await asyncio.to_thread(chunks.fail_pending, self.engine, self.batch.id, self.chunk.first_line, self.chunk.end_line, principal.status, orjson.dumps(principal.body()).decode())
            return
        lines = await asyncio.to_thread(chunks.pending_lines, self.engine, self.batch.id, self.chunk.first_line, self.chunk.end_line)
        if self.chunk.holds:
            models = [self.batch.model] if self.batch.model else await asyncio.to_thread(chunks.batch_models, self.engine, self.batch.id)
            self.holds = {m: rid for i, m in enumerate(models) if (rid := hold_id(self.batch.id, self.chunk.chunk_no, i)) in self.chunk.holds}
        watcher = asyncio.create_task(self._watch())
        writer = asyncio.create_task(self._write())
        try:
            await self._run_lines(principal, lines)
        finally:
            await self.results.put(None)
            await writer
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)

    async def _run_lines(self, principal: Principal, lines: list[BatchLine]) -> None:
        slots = asyncio.Semaphore(self.cfg.line_concurrency)
        running: set[asyncio.Task] = set()

        async def one(line: BatchLine) -> None:
            try:
                await self._line(principal, line)
            finally:
                slots.release()

        for line in lines:
            await slots.acquire()
            if self.rt.draining.is_set():
                self.stop.set("draining")
            if self.stop.reason:
                slots.release()
                break
            task = asyncio.create_task(one(line))
            running.add(task)
            task.add_done_callback(running.discard)
        if running:
            await asyncio.gather(*running)

    async def _line(self, principal: Principal, line: BatchLine) -> None:
        attempt, counted = line.attempt, line.attempt
        while True:
            request_id = line_request_id(self.batch.id, line.custom_id, attempt)
            result = await self._call(principal, line, request_id)
            if result is not None and _retryable(result):
                attempt += 1  # durably first: the retry must not reuse this attempt's request id
                await asyncio.to_thread(chunks.bump_attempt, self.engine, self.batch.id, line.line_no, attempt)
                # The tenant's own rate limit paces a batch (it has the completion window to
                # finish): such a wait does not use up one of the line's tries.
                paced = _own_rate_limit(result) and result.retry_after is not None
                counted += 0 if paced else 1
                if counted < self.cfg.max_line_attempts and not self.stop.reason:
                    backoff = min(30.0, self.cfg.retry_backoff_seconds * 2 ** (counted - 1))
                    await self._pause(max(backoff if not paced else 0.0, (result.retry_after or 0.0) + random.uniform(0, 1)))
                    if not self.stop.reason:
                        continue
                if self.stop.reason:
                    return  # left pending: whoever runs the chunk next tries it again
            await self.results.put(_result(line, request_id, result))
            return

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake within a second of the chunk being told to stop."""
        deadline = time.monotonic() + seconds
        while not self.stop.reason and (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(left, 1.0))

    async def _call(self, principal: Principal, line: BatchLine, request_id: str) -> CallResult | None:
        hint = BatchHint(self.batch.id, line.custom_id, hold=self.holds.get(line.model, ""))
        try:
            return await self.rt.pipeline.call(principal, self.kind, orjson.loads(line.body), run_id=self.batch.id, request_id=request_id, batch=hint)
        except Exception:  # noqa: BLE001 - call() never raises for a failed call; anything else is a bug to record, not to spread
            log.exception("batch %s line %s (%s): the pipeline raised", self.batch.id, line.line_no, line.custom_id)
            return None

    async def _write(self) -> None:
        """Group commit: whatever finished while the last write ran goes in the next one."""
        ended = False
        while not ended:
            item = await self.results.get()
            group = []
            while item is not None:
                group.append(item)
                if self.results.empty():
                    break
                item = self.results.get_nowait()
            ended = item is None
            if group:
                await self._save(group)

    async def _save(self, group: list[LineResult]) -> None:
        """Write the group; a result the database refuses ends its line as an error instead. Left
        pending, the line would be sent upstream (and paid for) again by whoever redoes the chunk,
        and be refused again: the batch would never end."""
        try:
            await self._write_group(group)
        except VALUE_FAULTS as exc:
            if len(group) > 1:
                for result in group:  # alone, so that only the refused lines fail
                    await self._save([result])
                return
            log.error("batch %s line %d: the database refused its result (%s); the line fails", self.batch.id, group[0].line_no, _first_line(exc))
            await self._write_group([_unstorable(group[0], exc)])

    async def _write_group(self, group: list[LineResult]) -> None:
        for attempt in range(WRITE_ATTEMPTS):
            try:
                await asyncio.to_thread(chunks.save_results, self.engine, self.batch.id, group)
                return
            except VALUE_FAULTS:
                raise  # no retry stores it
            except SQLAlchemyError as exc:
                if attempt == WRITE_ATTEMPTS - 1:
                    self.stop.set("database unavailable")
                    raise
                log.warning("batch %s: writing %d results failed (%s); retrying", self.batch.id, len(group), exc.__class__.__name__)
                await asyncio.sleep(0.2 * 2**attempt)

    async def _watch(self) -> None:
        """Renew the lease; notice cancellation, expiry and shutdown."""
        lease_ms = int(self.cfg.lease_seconds * 1000)
        tick = min(self.cfg.lease_seconds / 3, 1.0)
        last_renew = time.monotonic()
        while True:
            await asyncio.sleep(tick)
            if self.rt.draining.is_set():
                self.stop.set("draining")
            try:
                if time.monotonic() - last_renew >= self.cfg.lease_seconds / 3:
                    if not await asyncio.to_thread(chunks.renew, self.engine, self.batch.id, self.chunk.chunk_no, self.rt.owner, lease_ms):
                        self.stop.set("lease lost")
                    last_renew = time.monotonic()
                batch = await asyncio.to_thread(load_batch, self.engine, self.batch.id)
            except SQLAlchemyError as exc:
                log.warning("batch %s: lease upkeep failed (%s)", self.batch.id, exc.__class__.__name__)
                continue
            if batch is None or batch.status != "in_progress":
                self.stop.set("cancelled")
            elif batch.expires_at is not None and time.time() >= batch.expires_at:
                self.stop.set("expired")


def _error_code(result: CallResult) -> str | None:
    error = result.body.get("error") if isinstance(result.body, dict) else None
    return error.get("code") if isinstance(error, dict) else None


def _retryable(result: CallResult) -> bool:
    code = _error_code(result)
    return (result.status_code == 429 and code != "insufficient_quota") or (result.status_code == 503 and code in UNAVAILABLE_CODES)


def _own_rate_limit(result: CallResult) -> bool:
    return result.status_code == 429 and _error_code(result) == "rate_limit_exceeded"


def _result(line: BatchLine, request_id: str, result: CallResult | None) -> LineResult:
    if result is None:
        envelope = APIError(500, "The server had an error while processing this request.", type="server_error", code="internal_error").body()
        return LineResult(line.line_no, "error", 500, request_id, orjson.dumps(envelope).decode(), 0, 0, 0, None)
    ctx = result.ctx
    ok = 200 <= result.status_code < 300
    return LineResult(
        line.line_no, "ok" if ok else "error", result.status_code, request_id, orjson.dumps(result.body).decode(),
        ctx.cost_nanos, ctx.usage.prompt_tokens, ctx.usage.completion_tokens, ctx.usage_row(),
    )


def _first_line(exc: BaseException) -> str:
    return str(getattr(exc, "orig", None) or exc).partition("\n")[0]


def _unstorable(result: LineResult, exc: BaseException) -> LineResult:
    """The error result of a line whose result the database refused (without its usage row, which holds the same values)."""
    message = f"The request ran, but its result could not be stored: {_first_line(exc)}"
    envelope = APIError(500, message, type="server_error", code="result_not_stored").body()
    return LineResult(result.line_no, "error", 500, result.request_id, orjson.dumps(envelope).decode(), 0, 0, 0, None)

"""Writes usage rows off the hot path: queued in memory, inserted in batches, never dropped.

A batch the database refuses goes to the disk spool; a background task replays the spool
once the database answers again. Shutdown flushes whatever is queued.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from billing.ledger import ROW_FAULTS, Spool, insert_usage
from gateway import metrics

log = logging.getLogger(__name__)


class UsageRecorder:
    def __init__(self, engine: Engine, spool: Spool, flush_interval: float = 0.05, batch_size: int = 500, replay_interval: float = 5.0):
        self._engine = engine
        self._spool = spool
        self._flush_interval = flush_interval
        self._batch_size = batch_size
        self._replay_interval = replay_interval
        self._pending: list[dict[str, Any]] = []
        self._early: asyncio.Task | None = None
        self._tasks: list[asyncio.Task] = []
        self._closing = False
        self._write_lock = asyncio.Lock()
        self._replay_lock = asyncio.Lock()  # the replay loop and a rebuild's barrier may both replay

    def record(self, row: dict[str, Any]) -> None:
        """Queue one row. Synchronous so it can run in `finally` blocks of cancelled streams."""
        self._pending.append(row)
        if len(self._pending) >= self._batch_size and self._early is None:
            # A full batch does not wait for the next tick.
            self._early = asyncio.get_running_loop().create_task(self._flush_early())

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._flush_loop()), asyncio.create_task(self._replay_loop())]

    async def _flush_early(self) -> None:
        try:
            await self.flush()
        finally:
            self._early = None

    async def flush(self) -> None:
        """Write what is queued. Returns once every row queued before the call is in the
        database (or spooled), including a batch another flush was already writing: the
        budget counters read the ledger right after it."""
        async with self._write_lock:
            if not self._pending:
                return
            batch, self._pending = self._pending, []
            await asyncio.to_thread(self._write, batch)

    def _write(self, batch: list[dict[str, Any]]) -> None:
        try:
            insert_usage(self._engine, batch)
            metrics.USAGE_WRITTEN.inc(len(batch))
        except (SQLAlchemyError, *ROW_FAULTS) as exc:  # the replay sets aside the rows it refuses
            log.error("database refused %d usage rows (%s); spooling them to %s", len(batch), exc.__class__.__name__, self._spool.path)
            self._spool.append(batch)
            metrics.USAGE_SPOOLED.inc(len(batch))

    async def _flush_loop(self) -> None:
        while not self._closing:
            await asyncio.sleep(self._flush_interval)
            await self.flush()

    async def _replay_loop(self) -> None:
        while not self._closing:
            await asyncio.sleep(self._replay_interval)
            await self.replay_spool()

    async def replay_spool(self) -> int:
        """Write the spooled rows the database takes (none spooled: nothing to do)."""
        if not self._spool.pending():
            return 0
        async with self._replay_lock:
            try:
                return await asyncio.to_thread(self._spool.replay, self._engine)
            except SQLAlchemyError as exc:
                log.warning("spool replay failed, will retry: %s", exc.__class__.__name__)
                return 0

    async def into_ledger(self) -> None:
        """Every row this process recorded is in the ledger, as far as the database takes it: the
        queue, and the spool of rows written while the database was away. Budget counters are
        rebuilt from the ledger right after; a spooled row missed there is spend the counter never
        sees (the budget then lets it be spent again)."""
        await self.flush()
        await self.replay_spool()

    async def close(self) -> None:
        self._closing = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, *([self._early] if self._early else []), return_exceptions=True)
        await self.flush()

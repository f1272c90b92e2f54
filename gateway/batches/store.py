"""Batch rows as the API reads and writes them: create, look up, list, count progress, cancel."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import select

from billing.batch_models import Batch, BatchChunk, BatchLine, FileBlob, StoredFile
from billing.db import db_session
from billing.sql_totals import bigint_total
from gateway.batches.paging import page, tenant_is

ACTIVE = ("validating", "in_progress", "finalizing", "cancelling")
TERMINAL = ("failed", "completed", "expired", "cancelled")
LINES = BatchLine.__table__
CHUNKS = BatchChunk.__table__
BATCHES = Batch.__table__


def new_batch_id() -> str:
    """Time first (fixed-width hex milliseconds), so batches of one second still list in order."""
    return f"batch_{int(time.time() * 1000):012x}{secrets.token_hex(6)}"


def line_request_id(batch_id: str, custom_id: str, attempt: int) -> str:
    """A line's request id: the same on every redo of one attempt, so the ledger (unique by
    request id) and budget settlement (idempotent by request id) count it once."""
    digest = hashlib.sha256(f"{batch_id}\x00{custom_id}\x00{attempt}".encode()).hexdigest()
    return "breq_" + digest[:32]


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Progress:
    completed: int = 0
    failed: int = 0
    cost_nanos: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    last_finished_ms: int | None = None


def create_batch(engine: Engine, batch: Batch, lines: list[dict], chunks: list[dict], files: tuple[StoredFile, FileBlob] | None = None) -> None:
    """The batch, its lines and chunks in one transaction: a batch is there whole or not at all."""
    with engine.begin() as conn:
        conn.execute(sa.insert(BATCHES), [batch.model_dump()])
        if lines:
            conn.execute(sa.insert(LINES), lines)
        if chunks:
            conn.execute(sa.insert(CHUNKS), chunks)
        if files is not None:
            conn.execute(sa.insert(StoredFile.__table__), [files[0].model_dump()])
            conn.execute(sa.insert(FileBlob.__table__), [files[1].model_dump()])


def get_batch(engine: Engine, tenant_id: str | None, batch_id: str) -> Batch | None:
    with db_session(engine) as session:
        return session.exec(select(Batch).where(Batch.id == batch_id, tenant_is(Batch.tenant_id, tenant_id))).first()


def load_batch(engine: Engine, batch_id: str) -> Batch | None:
    with db_session(engine) as session:
        return session.get(Batch, batch_id)


def list_batches(engine: Engine, tenant_id: str | None, after: str | None, limit: int) -> tuple[list[Batch], bool]:
    with db_session(engine) as session:
        return page(session, Batch, [tenant_is(Batch.tenant_id, tenant_id)], after, limit)


def recent_batches(engine: Engine, tenant_id: str | None, limit: int, all_tenants: bool = False) -> list[Batch]:
    """For the admin page: a tenant's batches, or every tenant's."""
    with db_session(engine) as session:
        where = [] if all_tenants else [tenant_is(Batch.tenant_id, tenant_id)]
        return list(session.exec(select(Batch).where(*where).order_by(Batch.created_at.desc(), Batch.id.desc()).limit(limit)))


def progress(engine: Engine, batch_ids: list[str]) -> dict[str, Progress]:
    """Finished lines per batch, counted from the lines (what request_counts shows while running)."""
    if not batch_ids:
        return {}
    done = LINES.c.state != "pending"
    query = (
        sa.select(
            LINES.c.batch_id,
            sa.func.sum(sa.case((LINES.c.state == "ok", 1), else_=0)),
            sa.func.sum(sa.case((LINES.c.state != "ok", 1), else_=0)),
            bigint_total(LINES.c.cost_nanos),
            bigint_total(LINES.c.prompt_tokens),
            bigint_total(LINES.c.completion_tokens),
            sa.func.max(LINES.c.finished_at_ms),
        )
        .where(LINES.c.batch_id.in_(batch_ids), done)
        .group_by(LINES.c.batch_id)
    )
    with engine.connect() as conn:
        return {row[0]: Progress(int(row[1]), int(row[2]), int(row[3]), int(row[4]), int(row[5]), row[6]) for row in conn.execute(query)}


def request_cancel(engine: Engine, tenant_id: str | None, batch_id: str) -> bool:
    """validating/in_progress -> cancelling. False when the batch is in any other state."""
    now = int(time.time())
    with engine.begin() as conn:
        changed = conn.execute(
            sa.update(BATCHES)
            .where(BATCHES.c.id == batch_id, tenant_is(BATCHES.c.tenant_id, tenant_id), BATCHES.c.status.in_(("validating", "in_progress")))
            .values(status="cancelling", cancelling_at=now)
        ).rowcount
    return bool(changed)


def active_batch_ids(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(BATCHES.c.id).where(BATCHES.c.status.in_(ACTIVE))).scalars())


def chunk_rows(engine: Engine, batch_id: str) -> list[BatchChunk]:
    with db_session(engine) as session:
        return list(session.exec(select(BatchChunk).where(BatchChunk.batch_id == batch_id).order_by(BatchChunk.chunk_no)))

"""A worker's hold on a chunk (a lease in the database) and the lines' results it writes.

Only the lease holder runs a chunk's lines; a holder that dies stops renewing and, after
`lease_seconds`, any worker may take the chunk over. Lines already finished are skipped,
so a chunk redone after a crash only redoes the lines that were in flight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlmodel import select

from billing.batch_models import BatchChunk, BatchLine
from billing.db import db_session
from billing.models import UsageRecord
from gateway.batches.store import BATCHES, CHUNKS, LINES, now_ms

USAGE = UsageRecord.__table__


@dataclass(frozen=True)
class LineResult:
    line_no: int
    state: str  # ok | error
    status_code: int
    request_id: str
    response: str  # JSON body or error envelope
    cost_nanos: int
    prompt_tokens: int
    completion_tokens: int
    usage_row: dict[str, Any] | None  # the pipeline's ledger row for this line


def claim(engine: Engine, batch_id: str, chunk_no: int, owner: str, lease_ms: int) -> BatchChunk | None:
    """Take the chunk if nobody holds a live lease on it and its batch is still running (and
    within its completion window: a chunk picked up late must not send lines upstream)."""
    now = now_ms()
    running = sa.exists().where(
        BATCHES.c.id == batch_id, BATCHES.c.status == "in_progress",
        sa.or_(BATCHES.c.expires_at.is_(None), BATCHES.c.expires_at > now // 1000),
    )
    with engine.begin() as conn:
        taken = conn.execute(
            sa.update(CHUNKS)
            .where(
                CHUNKS.c.batch_id == batch_id, CHUNKS.c.chunk_no == chunk_no, CHUNKS.c.done.is_(False),
                sa.or_(CHUNKS.c.owner.is_(None), CHUNKS.c.lease_until_ms < now), running,
            )
            .values(owner=owner, lease_until_ms=now + lease_ms)
        ).rowcount
    if not taken:
        return None
    with db_session(engine) as session:
        return session.get(BatchChunk, (batch_id, chunk_no))


def renew(engine: Engine, batch_id: str, chunk_no: int, owner: str, lease_ms: int) -> bool:
    with engine.begin() as conn:
        return bool(conn.execute(
            sa.update(CHUNKS).where(CHUNKS.c.batch_id == batch_id, CHUNKS.c.chunk_no == chunk_no, CHUNKS.c.owner == owner)
            .values(lease_until_ms=now_ms() + lease_ms)
        ).rowcount)


def release(engine: Engine, batch_id: str, chunk_no: int, owner: str) -> bool:
    """Give the chunk up; it is done when none of its lines is pending. Returns done."""
    with engine.begin() as conn:
        chunk = conn.execute(sa.select(CHUNKS.c.first_line, CHUNKS.c.end_line).where(CHUNKS.c.batch_id == batch_id, CHUNKS.c.chunk_no == chunk_no)).one()
        left = conn.execute(
            sa.select(sa.func.count()).where(LINES.c.batch_id == batch_id, LINES.c.line_no >= chunk.first_line, LINES.c.line_no < chunk.end_line, LINES.c.state == "pending")
        ).scalar_one()
        conn.execute(
            sa.update(CHUNKS).where(CHUNKS.c.batch_id == batch_id, CHUNKS.c.chunk_no == chunk_no, CHUNKS.c.owner == owner)
            .values(owner=None, lease_until_ms=0, done=left == 0)
        )
    return left == 0


def pending_lines(engine: Engine, batch_id: str, first: int, end: int) -> list[BatchLine]:
    with db_session(engine) as session:
        query = select(BatchLine).where(BatchLine.batch_id == batch_id, BatchLine.line_no >= first, BatchLine.line_no < end, BatchLine.state == "pending")
        return list(session.exec(query.order_by(BatchLine.line_no)))


def batch_models(engine: Engine, batch_id: str) -> list[str]:
    """The batch's models in the order its holds were numbered (see holds.hold_id)."""
    with engine.connect() as conn:
        return sorted(conn.execute(sa.select(LINES.c.model).where(LINES.c.batch_id == batch_id).distinct()).scalars())


def bump_attempt(engine: Engine, batch_id: str, line_no: int, attempt: int) -> None:
    """Durably, before a deliberate retry: the retry gets its own request id (and ledger row)."""
    with engine.begin() as conn:
        conn.execute(sa.update(LINES).where(LINES.c.batch_id == batch_id, LINES.c.line_no == line_no).values(attempt=attempt))


def save_results(engine: Engine, batch_id: str, results: list[LineResult]) -> None:
    """Each line's ledger row and its result in one transaction: a line marked finished is
    always in the ledger, whatever happens to the pipeline's buffered copy of the row."""
    if not results:
        return
    finished = now_ms()
    with engine.begin() as conn:
        rows = [r.usage_row for r in results if r.usage_row is not None]
        if rows:
            _insert_ledger_rows(conn, rows)
        conn.execute(
            sa.update(LINES)
            .where(LINES.c.batch_id == batch_id, LINES.c.line_no == sa.bindparam("b_line_no"), LINES.c.state == "pending")
            .values(
                state=sa.bindparam("b_state"), status_code=sa.bindparam("b_status"), request_id=sa.bindparam("b_request_id"),
                response=sa.bindparam("b_response"), cost_nanos=sa.bindparam("b_cost"), prompt_tokens=sa.bindparam("b_prompt"),
                completion_tokens=sa.bindparam("b_completion"), finished_at_ms=finished,
            ),
            [
                {
                    "b_line_no": r.line_no, "b_state": r.state, "b_status": r.status_code, "b_request_id": r.request_id, "b_response": r.response,
                    "b_cost": r.cost_nanos, "b_prompt": r.prompt_tokens, "b_completion": r.completion_tokens,
                }
                for r in results
            ],
        )


def _insert_ledger_rows(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if conn.dialect.name == "postgresql":
        statement = postgresql.insert(USAGE).on_conflict_do_nothing(index_elements=["request_id"])
    elif conn.dialect.name == "sqlite":
        statement = sqlite.insert(USAGE).on_conflict_do_nothing(index_elements=["request_id"])
    else:
        statement = sa.insert(USAGE)
    conn.execute(statement, rows)


def fail_pending(engine: Engine, batch_id: str, first: int, end: int, status: int, envelope: str) -> None:
    """Lines that cannot run at all (the batch's key was revoked): an error result, no ledger row."""
    with engine.begin() as conn:
        conn.execute(
            sa.update(LINES)
            .where(LINES.c.batch_id == batch_id, LINES.c.line_no >= first, LINES.c.line_no < end, LINES.c.state == "pending")
            .values(state="error", status_code=status, response=envelope, finished_at_ms=now_ms())
        )

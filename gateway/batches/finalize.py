"""Ending a batch: when every line finished (completed), when a cancelled batch's chunks have
stopped (cancelled), or when the completion window passed (expired).

Whoever notices first (the last chunk, the sweep, the cancel call) takes a lease on the batch
row and writes the output and error files, in input order, in the same transaction as the
final status; a finaliser that dies mid-way leaves the lease to expire and someone else redoes it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from billing.sql_totals import BIGINT_MAX
from gateway.batches import holds
from gateway.batches.files import OUTPUT_PURPOSE, file_row
from gateway.batches.runtime import BatchRuntime
from gateway.batches.store import BATCHES, CHUNKS, LINES, TERMINAL, line_request_id, now_ms

FINALIZE_LEASE_MS = 120_000
_FROM = {"completed": ("in_progress", "finalizing"), "cancelled": ("cancelling",), "expired": ("in_progress",)}
_NOT_RUN = {
    "cancelled": ("batch_cancelled", "This request was not run: the batch was cancelled."),
    "expired": ("batch_expired", "This request could not be executed before the completion window expired."),
}


async def maybe_finalize(rt: BatchRuntime, batch_id: str) -> str | None:
    """Finish the batch if it is ready to end; returns its final status, or None."""
    engine = rt.services.db
    target = await asyncio.to_thread(_take_if_ready, engine, batch_id, rt.owner)
    if target is None:
        return None
    hold_ids = await asyncio.to_thread(_hold_ids, engine, batch_id)
    await asyncio.to_thread(_write_final, engine, batch_id, target, rt.owner)
    await holds.release_holds(rt.services.admission, hold_ids)
    return target


def _target(conn: Connection, batch_id: str) -> str | None:
    row = conn.execute(sa.select(BATCHES.c.status, BATCHES.c.expires_at).where(BATCHES.c.id == batch_id)).first()
    if row is None or row.status in TERMINAL or row.status == "validating":
        return None
    now = now_ms()
    live = conn.execute(
        sa.select(sa.func.count()).where(CHUNKS.c.batch_id == batch_id, CHUNKS.c.owner.is_not(None), CHUNKS.c.lease_until_ms > now)
    ).scalar_one()
    unfinished = conn.execute(sa.select(sa.func.count()).where(CHUNKS.c.batch_id == batch_id, CHUNKS.c.done.is_(False))).scalar_one()
    if row.status == "cancelling":
        return None if live else "cancelled"
    if unfinished == 0:
        return "completed"
    if row.status == "in_progress" and row.expires_at is not None and time.time() >= row.expires_at:
        return None if live else "expired"
    return None


def _take_if_ready(engine: Engine, batch_id: str, owner: str) -> str | None:
    with engine.begin() as conn:
        target = _target(conn, batch_id)
        if target is None:
            return None
        now = now_ms()
        values: dict[str, Any] = {"lease_owner": owner, "lease_until_ms": now + FINALIZE_LEASE_MS}
        if target == "completed":
            values["status"] = "finalizing"
            values["finalizing_at"] = sa.func.coalesce(BATCHES.c.finalizing_at, int(time.time()))
        taken = conn.execute(
            sa.update(BATCHES)
            .where(BATCHES.c.id == batch_id, BATCHES.c.status.in_(_FROM[target]), sa.or_(BATCHES.c.lease_owner.is_(None), BATCHES.c.lease_until_ms < now))
            .values(**values)
        ).rowcount
    return target if taken else None


def _hold_ids(engine: Engine, batch_id: str) -> list[str]:
    with engine.connect() as conn:
        return [rid for held in conn.execute(sa.select(CHUNKS.c.holds).where(CHUNKS.c.batch_id == batch_id)).scalars() for rid in held or ()]


def _write_final(engine: Engine, batch_id: str, target: str, owner: str) -> None:
    now = int(time.time())
    with engine.begin() as conn:
        batch = conn.execute(sa.select(BATCHES).where(BATCHES.c.id == batch_id)).one()
        if target in _NOT_RUN:
            conn.execute(sa.update(LINES).where(LINES.c.batch_id == batch_id, LINES.c.state == "pending").values(state=target, finished_at_ms=now_ms()))
        output, errors, totals = _assemble(conn, batch_id, target)
        ids: dict[str, str | None] = {"output_file_id": None, "error_file_id": None}
        for key, (suffix, lines, count) in {"output_file_id": ("output", output, totals["completed"]), "error_file_id": ("error", errors, totals["failed"])}.items():
            if count:
                meta, blob = file_row(tenant_id=batch.tenant_id, key_id=batch.key_id, purpose=OUTPUT_PURPOSE, filename=f"{batch_id}_{suffix}.jsonl", data=b"".join(lines), line_count=count)
                conn.execute(sa.insert(meta.__table__), [meta.model_dump()])
                conn.execute(sa.insert(blob.__table__), [blob.model_dump()])
                ids[key] = meta.id
        done = conn.execute(
            sa.update(BATCHES)
            .where(BATCHES.c.id == batch_id, BATCHES.c.lease_owner == owner)
            .values(status=target, **{f"{target}_at": now}, **ids, **totals, lease_owner=None, lease_until_ms=0)
        ).rowcount
        if not done:
            raise RuntimeError(f"batch {batch_id}: lost the finalisation lease; another worker finishes it")


def _assemble(conn: Connection, batch_id: str, target: str) -> tuple[list[bytes], list[bytes], dict[str, int]]:
    """Output and error file lines in input order, and the batch's final figures."""
    output: list[bytes] = []
    errors: list[bytes] = []
    totals = {"completed": 0, "failed": 0, "cost_nanos": 0, "prompt_tokens": 0, "completion_tokens": 0}
    query = sa.select(
        LINES.c.custom_id, LINES.c.state, LINES.c.status_code, LINES.c.request_id, LINES.c.response,
        LINES.c.cost_nanos, LINES.c.prompt_tokens, LINES.c.completion_tokens,
    ).where(LINES.c.batch_id == batch_id).order_by(LINES.c.line_no)
    for row in conn.execute(query):
        totals["cost_nanos"] += row.cost_nanos
        totals["prompt_tokens"] += row.prompt_tokens
        totals["completion_tokens"] += row.completion_tokens
        line_id = "batch_req_" + (row.request_id or line_request_id(batch_id, row.custom_id, 0)).removeprefix("breq_")
        if row.state in _NOT_RUN:
            code, message = _NOT_RUN[row.state]
            item: dict[str, Any] = {"id": line_id, "custom_id": row.custom_id, "response": None, "error": {"code": code, "message": message}}
        else:
            response = {"status_code": row.status_code, "request_id": row.request_id, "body": orjson.Fragment(row.response or "null")}
            item = {"id": line_id, "custom_id": row.custom_id, "response": response, "error": None}
        if row.state == "ok":
            totals["completed"] += 1
            output.append(orjson.dumps(item) + b"\n")
        else:
            totals["failed"] += 1
            errors.append(orjson.dumps(item) + b"\n")
    # Lines that each fit a 64-bit column can add up past it (absurd upstream usage): the batch's
    # figures stop at the largest value, the ledger keeps every line's own; it must not hang unfinished.
    return output, errors, {name: min(value, BIGINT_MAX) for name, value in totals.items()}

"""Accepting a batch: check every line, hold its worst case on the budgets, store it, send its chunks.

A batch with a bad line is stored as `failed` with its errors (OpenAI's behaviour) and never
runs; one the budgets cannot cover is refused with a 429 and not stored at all.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import orjson

from billing.batch_models import Batch
from gateway.auth import Principal
from gateway.batches import holds, principals
from gateway.batches.config import COMPLETION_WINDOWS, BatchSettings
from gateway.batches.dispatch import publish_chunks
from gateway.batches.holds import Hold, hold_id
from gateway.batches.jsonl import ENDPOINTS, parse_input, reported
from gateway.batches.store import create_batch, new_batch_id
from gateway.batches.validation import BatchPlan, PlannedLine, plan_batch
from gateway.errors import invalid_request
from gateway.services import Services

HOLD_MARGIN_SECONDS = 3600  # a hold outlives the window a little: finalisation releases it


@dataclass(frozen=True)
class CreateRequest:
    input_file_id: str
    endpoint: str
    completion_window: str
    metadata: dict[str, str] | None


def parse_create(body: dict[str, Any]) -> CreateRequest:
    file_id = body.get("input_file_id")
    if not isinstance(file_id, str) or not file_id:
        raise invalid_request("input_file_id must name an uploaded file (purpose=batch).", param="input_file_id")
    endpoint = body.get("endpoint")
    if not isinstance(endpoint, str) or endpoint not in ENDPOINTS:
        raise invalid_request(f"endpoint must be one of {', '.join(ENDPOINTS)}.", param="endpoint")
    window = body.get("completion_window")
    if not isinstance(window, str) or window not in COMPLETION_WINDOWS:
        raise invalid_request(f"completion_window must be one of {', '.join(COMPLETION_WINDOWS)}.", param="completion_window")
    metadata = body.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict) or len(metadata) > 16:
            raise invalid_request("metadata must be an object of at most 16 string pairs.", param="metadata")
        for key, value in metadata.items():
            if len(key) > 64 or not isinstance(value, str) or len(value) > 512:
                raise invalid_request("metadata keys are strings of at most 64 characters, values strings of at most 512.", param=f"metadata.{key}")
    return CreateRequest(file_id, endpoint, window, metadata)


async def accept(services: Services, principal: Principal, request: CreateRequest, content: bytes, cfg: BatchSettings) -> Batch:
    parsed = await asyncio.to_thread(parse_input, content, cfg.max_lines, cfg.max_custom_id_chars)
    plan = await asyncio.to_thread(plan_batch, services, principal, request.endpoint, parsed)
    now = int(time.time())
    batch = Batch(
        id=new_batch_id(), tenant_id=principal.tenant_id, key_id=principal.key_id, endpoint=request.endpoint,
        input_file_id=request.input_file_id, completion_window=request.completion_window, status="in_progress",
        principal=principals.snapshot(principal), metadata_json=request.metadata, created_at=now,
    )
    if plan.errors:
        batch.status, batch.failed_at, batch.errors = "failed", now, reported(plan.errors)
        await asyncio.to_thread(create_batch, services.db, batch, [], [])
        return batch
    batch.model = plan.models[0] if len(plan.models) == 1 else ""
    batch.line_count, batch.chunk_size = len(plan.lines), cfg.chunk_size
    batch.in_progress_at, batch.expires_at = now, now + COMPLETION_WINDOWS[request.completion_window]
    batch.worst_case_nanos = plan.worst_nanos
    groups = [plan.lines[i : i + cfg.chunk_size] for i in range(0, len(plan.lines), cfg.chunk_size)]
    chunk_holds = [_holds(batch.id, n, group, plan) for n, group in enumerate(groups)]
    batch.budget_hold = _hold_mode(services, cfg)
    placed: list[str] = []
    if batch.budget_hold != "none":
        ttl = COMPLETION_WINDOWS[request.completion_window] + HOLD_MARGIN_SECONDS
        placed = await holds.place_holds(services.admission, principal, batch.id, [h for hs in chunk_holds for h in hs], ttl)
        if batch.budget_hold == "checked":  # nobody here could release them later: a check only
            await holds.release_holds(services.admission, placed)
            placed = []
    kept = set(placed)
    lines = [_line_row(batch.id, p) for p in plan.lines]
    chunks = [
        {
            "batch_id": batch.id, "chunk_no": n, "first_line": group[0].line.line_no, "end_line": group[-1].line.line_no + 1,
            "done": False, "holds": [h.request_id for h in chunk_holds[n] if h.request_id in kept], "owner": None,
            "lease_until_ms": 0, "dispatched_at_ms": None, "dispatches": 0,
        }
        for n, group in enumerate(groups)
    ]
    try:
        await asyncio.to_thread(create_batch, services.db, batch, lines, chunks)
    except BaseException:
        await holds.release_holds(services.admission, placed)
        raise
    await asyncio.to_thread(publish_chunks, services.settings, services.db, batch.id, list(range(len(groups))))
    return batch


def _hold_mode(services: Services, cfg: BatchSettings) -> str:
    """'held' when the processes running the lines share this process's counters (Redis, or the
    embedded worker right here); else only 'checked' (a hold nobody could release would block)."""
    if not cfg.hold_budget:
        return "none"
    return "held" if services.settings.redis_url or services.jobs is not None else "checked"


def _holds(batch_id: str, chunk_no: int, group: list[PlannedLine], plan: BatchPlan) -> list[Hold]:
    out = []
    for index, model in enumerate(plan.models):
        mine = [p for p in group if p.model == model]
        if mine:
            out.append(Hold(hold_id(batch_id, chunk_no, index), model, sum(p.worst_nanos for p in mine), sum(p.worst_tokens for p in mine)))
    return out


def _line_row(batch_id: str, p: PlannedLine) -> dict[str, Any]:
    return {
        "batch_id": batch_id, "line_no": p.line.line_no, "custom_id": p.line.custom_id, "model": p.model[:200],
        "body": orjson.dumps(p.line.body).decode(), "state": "pending", "attempt": 0, "status_code": None, "request_id": None,
        "response": None, "cost_nanos": 0, "prompt_tokens": 0, "completion_tokens": 0, "finished_at_ms": None,
    }

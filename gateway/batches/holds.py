"""Budget holds: a batch's worst case, reserved on its budgets when it is accepted.

One hold per chunk (and model, since budgets can be per model) is a plain reservation in the
admission's counter store, with a lifetime of the completion window. Each line's admission
draws on its chunk's hold (AdmitRequest.draw_from): the hold's room counts as free for that
line and the line's reservation is taken out of it in the same atomic step, so other traffic
can never take a running batch's room. The chunk releases what is left when it ends;
finalisation releases the holds of chunks never run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from billing.budgets import recovery
from billing.budgets.definitions import BudgetDef
from billing.budgets.ledger_sums import CounterSpec, spec_for
from billing.budgets.store import NO_LIMIT, AdmitRequest, Admitted, BudgetRefused, Charge, NeedsEpoch, NeedsInit, Settlement
from billing.money import format_usd
from billing.periods import PeriodError, window_for
from gateway.admission import Admission
from gateway.auth import Principal
from gateway.errors import APIError

log = logging.getLogger(__name__)

_ATTEMPTS = 6


@dataclass(frozen=True)
class Hold:
    request_id: str
    model: str
    nanos: int
    tokens: int


def hold_id(batch_id: str, chunk_no: int, model_index: int) -> str:
    return f"hold:{batch_id}:{chunk_no}:{model_index}"


def _charges(admission: Admission, principal: Principal, run_id: str, model: str) -> tuple[list[Charge], list[BudgetDef], dict[str, CounterSpec]]:
    budgets = admission.book.in_scope(principal.tenant_id, principal.key_id, run_id, model)
    now = datetime.now(UTC)
    charges, specs = [], {}
    for b in budgets:
        try:
            window = window_for(b.period, principal.timezone, now)
        except PeriodError:
            window = window_for(b.period, "UTC", now)
        spec = spec_for(b, window, run_id)
        specs[spec.counter_id] = spec
        charges.append(Charge(
            spec.counter_id,
            b.limit_nanos if b.limit_nanos is not None else NO_LIMIT,
            b.limit_tokens if b.limit_tokens is not None else NO_LIMIT,
            False,  # a hold is never clamped: the batch is accepted whole or refused
            b.soft_nanos if b.soft_nanos is not None else NO_LIMIT,
            b.soft_tokens if b.soft_tokens is not None else NO_LIMIT,
        ))
    return charges, budgets, specs


async def place_holds(admission: Admission, principal: Principal, run_id: str, holds: list[Hold], ttl_seconds: float) -> list[str]:
    """Reserve every hold or none: raises a 429 insufficient_quota APIError when one does not fit.
    Returns the ids of the holds that reserved something (holds on no budget reserve nothing)."""
    placed: list[str] = []
    total = sum(h.nanos for h in holds)
    try:
        for h in holds:
            charges, budgets, specs = _charges(admission, principal, run_id, h.model)
            if not charges:
                continue
            request = AdmitRequest(
                request_id=h.request_id, charges=charges, prompt_nanos=h.nanos, prompt_tokens=h.tokens,
                out_nanos_per_token=0.0, out_tokens=0, ttl_ms=int(ttl_seconds * 1000),
            )
            await _admit(admission, request, budgets, specs, total)
            placed.append(h.request_id)
    except BaseException:
        await release_holds(admission, placed)
        raise
    return placed


async def _admit(admission: Admission, request: AdmitRequest, budgets: list[BudgetDef], specs: dict[str, CounterSpec], total: int) -> None:
    for _ in range(_ATTEMPTS):
        result = await admission.store.admit(request)
        if isinstance(result, Admitted):
            return
        if isinstance(result, BudgetRefused):
            raise _refusal(budgets[result.index], request.charges[result.index], result, total)
        if isinstance(result, NeedsEpoch):
            await admission.rebuild()
        elif isinstance(result, NeedsInit):
            await recovery.init_counters(admission.store, admission.engine, [specs[c] for c in result.counter_ids if c in specs])
    raise APIError(503, "Budgets are being rebuilt; try again shortly.", type="server_error", code="budget_store_unavailable", headers={"Retry-After": "1"})


def _refusal(budget: BudgetDef, charge: Charge, refused: BudgetRefused, total: int) -> APIError:
    if charge.limit_nanos != NO_LIMIT and refused.left_nanos < total:
        detail = f"${format_usd(max(refused.left_nanos, 0))} of its ${format_usd(charge.limit_nanos)} is left, and this batch may cost up to ${format_usd(total)}"
    else:
        detail = f"{max(refused.left_tokens, 0)} of its {charge.limit_tokens} tokens are left"
    message = (
        f"Budget exceeded: the {budget.describe()} cannot cover this batch's worst case: {detail}. "
        "Split the batch, lower max_tokens, or raise the budget."
    )
    return APIError(429, message, type="insufficient_quota", code="insufficient_quota", headers={"x-tokenmill-budget": budget.id})


async def release_holds(admission: Admission, request_ids: Iterable[str]) -> None:
    """Give held room back (settling at cost 0). Idempotent: a released hold is a no-op."""
    for rid in request_ids:
        await admission.store.settle(Settlement(rid, [], 0, 0, marker_ttl_s=24 * 3600))

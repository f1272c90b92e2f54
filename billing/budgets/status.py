"""Where each budget stands this period: limit, spent, reserved (for the CLI and admin API)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from billing.budgets.definitions import BudgetDef
from billing.budgets.ledger_sums import CounterSpec, counter_sums, tenant_timezones
from billing.budgets.recovery import current_specs
from billing.budgets.store import CounterStore
from billing.money import format_usd


@dataclass
class CounterStatus:
    period: str
    run_id: str | None
    spent_nanos: int
    spent_tokens: int
    reserved_nanos: int | None  # None: not known here (the in-process store lives in the gateway)
    reserved_tokens: int | None
    source: str  # 'counter' (live) or 'ledger'


async def budget_status(engine: Engine, budgets: list[BudgetDef], store: CounterStore | None = None) -> dict[str, list[CounterStatus]]:
    now = datetime.now(UTC)

    def from_ledger() -> tuple[list[CounterSpec], list]:
        with engine.connect() as conn:
            specs = current_specs(conn, budgets, tenant_timezones(conn), now)
            return specs, counter_sums(conn, specs, now)

    specs, sums = await asyncio.to_thread(from_ledger)
    states = await store.read([s.counter_id for s in specs]) if store is not None else {}
    out: dict[str, list[CounterStatus]] = {b.id: [] for b in budgets}
    per_run = {b.id for b in budgets if b.per_run}
    for spec, ledger in zip(specs, sums, strict=True):
        budget_id = spec.counter_id.split(":", 1)[0]
        run = spec.run_id if budget_id in per_run else None
        state = states.get(spec.counter_id)
        if state is not None and state.initialized:
            row = CounterStatus(spec.window.label, run, state.spent_nanos, state.spent_tokens, state.reserved_nanos, state.reserved_tokens, "counter")
        else:
            reserved = (state.reserved_nanos, state.reserved_tokens) if state is not None else (None, None)
            row = CounterStatus(spec.window.label, run, ledger.nanos, ledger.tokens, *reserved, "ledger")
        out[budget_id].append(row)
    return out


def budget_json(b: BudgetDef, counters: list[CounterStatus]) -> dict[str, Any]:
    def usd(nanos: int | None) -> str | None:
        return format_usd(nanos) if nanos is not None else None

    return {
        "id": b.id,
        "tenant_id": b.tenant_id,
        "key_id": b.key_id,
        "run_id": b.run_id,
        "model": b.model,
        "period": b.period,
        "limit_usd": usd(b.limit_nanos),
        "limit_tokens": b.limit_tokens,
        "soft": b.soft_fraction,
        "on_exceed": b.on_exceed,
        "alert_webhook": b.alert_webhook,
        "set_by_operator": b.set_by_operator,
        "current": [
            {
                "period": c.period,
                "run_id": c.run_id,
                "spent_usd": usd(c.spent_nanos),
                "spent_tokens": c.spent_tokens,
                "reserved_usd": usd(c.reserved_nanos),
                "reserved_tokens": c.reserved_tokens,
                "source": c.source,
            }
            for c in counters
        ],
    }

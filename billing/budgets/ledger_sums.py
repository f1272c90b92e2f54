"""Budget counters as the SQL ledger tells them: the durable truth counters are rebuilt from."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from billing.budgets.definitions import BudgetDef
from billing.budgets.store import CounterSum
from billing.models import Tenant, UsageRecord
from billing.periods import Window
from billing.sql_totals import bigint_total, tokens_total

# Counters outlive their period by this much (budgets list still shows last period's spend).
COUNTER_GRACE = timedelta(days=2)
_IN_CHUNK = 500  # request ids per IN (...) list

U = UsageRecord.__table__.c


@dataclass(frozen=True)
class CounterSpec:
    """Which ledger rows make up one counter."""

    counter_id: str
    tenant_id: str
    key_id: str | None
    run_id: str | None
    model: str | None
    window: Window

    def expire_s(self, now: datetime) -> int:
        if self.window.end is None:
            return 0
        return max(1, int((self.window.end + COUNTER_GRACE - now).total_seconds()))

    def where(self) -> list[sa.ColumnElement[bool]]:
        clauses = [U.tenant_id == self.tenant_id]
        if self.key_id is not None:
            clauses.append(U.key_id == self.key_id)
        if self.run_id is not None:
            clauses.append(U.run_id == self.run_id)
        if self.model is not None:
            clauses.append(U.model_requested == self.model)
        if self.window.start is not None:
            clauses.append(U.created_at >= self.window.start)
        if self.window.end is not None:
            clauses.append(U.created_at < self.window.end)
        return clauses


def spec_for(budget: BudgetDef, window: Window, run_id: str | None) -> CounterSpec:
    run = run_id if budget.per_run else budget.run_id
    return CounterSpec(budget.counter_id(window.label, run_id), budget.tenant_id, budget.key_id, run, budget.model, window)


_SPEND = (bigint_total(U.cost_nanos), tokens_total(U.prompt_tokens, U.completion_tokens))


def counter_sums(conn: Connection, specs: Iterable[CounterSpec], now: datetime | None = None) -> list[CounterSum]:
    now = now or datetime.now(UTC)
    out = []
    for spec in specs:
        nanos, tokens = conn.execute(sa.select(*_SPEND).where(*spec.where())).one()
        out.append(CounterSum(spec.counter_id, int(nanos), int(tokens), spec.expire_s(now)))
    return out


def runs_in_window(conn: Connection, budget: BudgetDef, window: Window) -> list[str]:
    """Runs that spent in this window: the counters a per-run ('*') budget has there."""
    probe = spec_for(budget, window, None)
    query = sa.select(U.run_id).where(*probe.where(), U.run_id.is_not(None)).group_by(U.run_id)
    return [r for (r,) in conn.execute(query)]


def tenant_timezones(conn: Connection) -> dict[str, str]:
    t = Tenant.__table__.c
    return {tid: tz for tid, tz in conn.execute(sa.select(t.id, t.timezone))}


def visible_requests(conn: Connection, request_ids: Iterable[str]) -> set[str]:
    ids = list(request_ids)
    seen: set[str] = set()
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        seen.update(r for (r,) in conn.execute(sa.select(U.request_id).where(U.request_id.in_(chunk))))
    return seen


class LedgerSnapshot:
    """Several reads that see one state of the ledger (one repeatable-read transaction)."""

    def __init__(self, engine: Engine):
        conn = engine.connect()
        if engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        self.conn = conn
        self._tx = conn.begin()
        # The first read fixes the snapshot (PostgreSQL and SQLite in WAL mode alike).
        self.timezones = tenant_timezones(conn)

    def close(self) -> None:
        self._tx.rollback()
        self.conn.close()


def sums_now(engine: Engine, specs: list[CounterSpec]) -> list[CounterSum]:
    with engine.connect() as conn:
        return counter_sums(conn, specs)

"""Bringing counters back from the ledger: after a store lost its state, for new counters, and
when an operator asks whether counters and ledger agree.

Rebuild protocol (one process does it; the others wait for the epoch to turn ready):
1. claim the rebuild (the epoch becomes 'rebuilding:<gen>', with an expiry in case we die);
   from now on settlements are parked in the store's pending list instead of counted;
2. wait `quiet_s`, so usage rows of calls settled before the loss reach the ledger;
3. open one ledger snapshot; sum every current counter in it; read the pending list; ask the
   same snapshot which pending requests it already holds and take those out of the sums
   (the pending list will add them back, exactly once);
4. hand the sums to the store, which adds the pending settlements and marks the epoch ready.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.exceptions import RedisError
from sqlalchemy.engine import Engine

from billing.budgets.definitions import BudgetDef
from billing.budgets.ledger_sums import (
    CounterSpec,
    LedgerSnapshot,
    counter_sums,
    runs_in_window,
    spec_for,
    sums_now,
    tenant_timezones,
    visible_requests,
)
from billing.budgets.store import CounterStore, CounterSum
from billing.periods import PeriodError, window_for

log = logging.getLogger(__name__)


def current_specs(conn, budgets: list[BudgetDef], timezones: dict[str, str], now: datetime) -> list[CounterSpec]:  # noqa: ANN001 - Connection
    """Every counter the budgets have in their current period (per-run budgets: each run with spend)."""
    specs = []
    for b in budgets:
        try:
            window = window_for(b.period, timezones.get(b.tenant_id, "UTC"), now)
        except PeriodError:
            window = window_for(b.period, "UTC", now)
        if b.per_run:
            specs.extend(spec_for(b, window, run) for run in runs_in_window(conn, b, window))
        else:
            specs.append(spec_for(b, window, None))
    return specs


async def wait_ready(store: CounterStore, timeout_s: float) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        state = await store.epoch()
        if state is None:
            return False  # the rebuilder gave up or died: the caller tries again
        if state.startswith("ready:"):
            return True
        await asyncio.sleep(0.02)
    return False


async def rebuild_counters(store: CounterStore, engine: Engine, budgets: list[BudgetDef], quiet_s: float, timeout_s: int = 60, expected: bool = False) -> str:
    """Run (or wait for) a rebuild. Returns 'rebuilt', 'waited' or 'ready'. `expected`: a fresh
    in-process store, not a loss worth a warning."""
    state = await store.epoch()
    if state and state.startswith("ready:"):
        return "ready"
    gen = secrets.token_hex(6)
    claim = await store.begin_rebuild(gen, timeout_s)
    if claim != "mine":
        await wait_ready(store, timeout_s)
        return "waited"
    level = logging.INFO if expected else logging.WARNING
    log.log(level, "budget counters are missing (new process or store restart): rebuilding them from the ledger")
    try:
        if quiet_s:
            await asyncio.sleep(quiet_s)
        sums = await _snapshot_sums(store, engine, budgets)
    except BaseException:
        # A ledger that cannot be read (the database is down) must not leave the claim to hold
        # every admission on every replica until it expires: give it back, the next call retries.
        await _give_back(store, gen)
        raise
    if not await store.finish_rebuild(gen, sums):
        log.error("the budget counter rebuild %s lost its claim (took longer than %ss); another process will redo it", gen, timeout_s)
        return "waited"
    log.log(level, "budget counters rebuilt from the ledger (%d counters)", len(sums))
    return "rebuilt"


async def _give_back(store: CounterStore, gen: str) -> None:
    try:
        await store.abandon_rebuild(gen)
    except (RedisError, OSError) as exc:  # the store is down too: the claim's expiry frees it
        log.warning("could not give back the budget counter rebuild claim %s: %r", gen, exc)


async def _snapshot_sums(store: CounterStore, engine: Engine, budgets: list[BudgetDef]) -> list[CounterSum]:
    now = datetime.now(UTC)
    snapshot = await asyncio.to_thread(LedgerSnapshot, engine)
    try:
        specs = await asyncio.to_thread(current_specs, snapshot.conn, budgets, snapshot.timezones, now)
        sums = await asyncio.to_thread(counter_sums, snapshot.conn, specs, now)
        pending = await store.pending()
        already = await asyncio.to_thread(visible_requests, snapshot.conn, pending.keys())
    finally:
        await asyncio.to_thread(snapshot.close)
    totals = {s.counter_id: [s.nanos, s.tokens, s.expire_s] for s in sums}
    for request_id in already:
        p = pending[request_id]
        for cid in p.counter_ids:
            if cid in totals:
                totals[cid][0] -= p.nanos
                totals[cid][1] -= p.tokens
    return [CounterSum(cid, n, t, e) for cid, (n, t, e) in totals.items()]


async def init_counters(store: CounterStore, engine: Engine, specs: list[CounterSpec]) -> bool:
    """First use of a counter (new budget, period or run): start it from the ledger."""
    if not specs:
        return True
    sums = await asyncio.to_thread(sums_now, engine, specs)
    return await store.init_counters(sums)


@dataclass(frozen=True)
class CounterDifference:
    counter_id: str
    budget_id: str
    ledger_nanos: int
    counter_nanos: int
    ledger_tokens: int
    counter_tokens: int


async def check_counters(store: CounterStore, engine: Engine, budgets: list[BudgetDef]) -> tuple[list[CounterDifference], int]:
    """Compare every initialised current counter with the ledger. Returns (differences, checked).

    Settled calls reach the ledger a moment after the counters, so run this when traffic is
    quiet, or expect differences the size of a few in-flight calls."""
    now = datetime.now(UTC)

    def specs_and_sums() -> tuple[list[CounterSpec], list[CounterSum]]:
        with engine.connect() as conn:
            specs = current_specs(conn, budgets, tenant_timezones(conn), now)
            return specs, counter_sums(conn, specs, now)

    specs, sums = await asyncio.to_thread(specs_and_sums)
    states = await store.read([s.counter_id for s in specs])
    diffs, checked = [], 0
    for spec, ledger in zip(specs, sums, strict=True):
        state = states[spec.counter_id]
        if not state.initialized:
            continue
        checked += 1
        if (state.spent_nanos, state.spent_tokens) != (ledger.nanos, ledger.tokens):
            budget_id = spec.counter_id.split(":", 1)[0]
            diffs.append(CounterDifference(spec.counter_id, budget_id, ledger.nanos, state.spent_nanos, ledger.tokens, state.spent_tokens))
    return diffs, checked


async def open_periods(store: CounterStore, engine: Engine, budgets: list[BudgetDef]) -> int:
    """Start every budget's current-period counter that does not exist yet (a period reset)."""
    now = datetime.now(UTC)

    def specs() -> list[CounterSpec]:
        with engine.connect() as conn:
            return current_specs(conn, budgets, tenant_timezones(conn), now)

    all_specs = await asyncio.to_thread(specs)
    state = await store.epoch()
    if not all_specs or not (state and state.startswith("ready:")):
        return 0
    states = await store.read([s.counter_id for s in all_specs])
    fresh = [s for s in all_specs if not states[s.counter_id].initialized]
    await init_counters(store, engine, fresh)
    return len(fresh)

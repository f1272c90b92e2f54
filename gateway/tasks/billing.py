"""Scheduled billing work. Each task calls plain functions in billing/ (or the gateway's
Admission when the worker runs inside the gateway)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict

from billing import rollups
from billing.budgets import alerts, recovery
from billing.budgets.definitions import load_definitions
from billing.budgets.redis_store import RedisStore
from gateway.celery_app import app
from gateway.tasks import runtime

log = logging.getLogger(__name__)


async def _with_redis_store(work):  # noqa: ANN001, ANN202 - async callable taking a store
    s = runtime.settings()
    store = RedisStore.from_url(s.redis_url, s.billing.redis_namespace)
    try:
        return await work(store)
    finally:
        await store.close()


@app.task(name="tokenmill.billing.reap")
def reap_reservations() -> int:
    """Release reservations whose process stopped renewing them (it crashed or hung)."""
    admission = runtime.local_admission()
    if admission is not None:
        return runtime.on_gateway_loop(admission.reap())
    if not runtime.settings().redis_url:
        return 0  # in-process counters live inside the gateway, which reaps its own
    count = asyncio.run(_with_redis_store(lambda store: store.reap()))
    if count:
        log.warning("reaped %d expired budget reservations", count)
    return count


@app.task(name="tokenmill.billing.open_periods")
def open_periods() -> int:
    """Start the current period's counter of every budget from the ledger (the period reset)."""
    admission = runtime.local_admission()
    if admission is not None:
        return runtime.on_gateway_loop(admission.open_periods())
    if not runtime.settings().redis_url:
        return 0
    engine = runtime.engine()
    budgets = load_definitions(engine)
    return asyncio.run(_with_redis_store(lambda store: recovery.open_periods(store, engine, budgets)))


@app.task(name="tokenmill.billing.rollup")
def rollup_usage() -> dict:
    return asdict(rollups.rollup(runtime.engine()))


@app.task(name="tokenmill.billing.deliver_alerts")
def deliver_alerts() -> dict:
    return asdict(alerts.deliver_alerts(runtime.engine(), runtime.settings().billing.alert_webhook))

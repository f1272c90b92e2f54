"""Soft-threshold alerts: recorded once per budget and period, delivered to a webhook later.

Recording is idempotent by (budget, period, run): a second crossing in the same period, from
another process or after the counters were rebuilt, inserts nothing. Delivery runs as a
scheduled job and retries failed webhooks a bounded number of times.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import select

from billing.budget_models import BudgetAlert
from billing.budgets.definitions import BudgetDef
from billing.db import db_session
from billing.models import utcnow
from billing.money import nanos_to_usd

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
_TABLE = BudgetAlert.__table__


def record_alert(engine: Engine, budget: BudgetDef, period_label: str, run_id: str | None, spent_nanos: int, spent_tokens: int) -> bool:
    """Store the alert unless this budget already alerted in this period; True when it is new."""
    row = {
        "budget_id": budget.id,
        "tenant_id": budget.tenant_id,
        "period_label": period_label,
        "run_id": run_id or "",
        "spent_nanos": spent_nanos,
        "spent_tokens": spent_tokens,
        "limit_nanos": budget.limit_nanos,
        "limit_tokens": budget.limit_tokens,
        "webhook": budget.alert_webhook,
        "fired_at": utcnow(),
        "attempts": 0,
    }
    keys = ["budget_id", "period_label", "run_id"]
    if engine.dialect.name == "postgresql":
        stmt = postgresql.insert(_TABLE).on_conflict_do_nothing(index_elements=keys)
    else:
        stmt = sqlite.insert(_TABLE).on_conflict_do_nothing(index_elements=keys)
    with engine.begin() as conn:
        return conn.execute(stmt, row).rowcount == 1


def alert_payload(alert: BudgetAlert) -> dict[str, Any]:
    return {
        "type": "budget.soft_limit_reached",
        "budget_id": alert.budget_id,
        "tenant_id": alert.tenant_id,
        "period": alert.period_label,
        "run_id": alert.run_id or None,
        "spent_usd": nanos_to_usd(alert.spent_nanos),
        "limit_usd": nanos_to_usd(alert.limit_nanos) if alert.limit_nanos is not None else None,
        "spent_tokens": alert.spent_tokens,
        "limit_tokens": alert.limit_tokens,
        "fired_at": alert.fired_at.isoformat(),
    }


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: int = 0


Post = Callable[[str, dict[str, Any]], int]  # (url, json) -> HTTP status


def http_post(url: str, payload: dict[str, Any]) -> int:
    import httpx

    return httpx.post(url, json=payload, timeout=5.0).status_code


def deliver_alerts(engine: Engine, default_webhook: str | None = None, post: Post = http_post, limit: int = 100) -> DeliveryReport:
    """POST each undelivered alert to its budget's webhook (or the default); keep score."""
    report = DeliveryReport()
    query = select(BudgetAlert).where(BudgetAlert.delivered_at.is_(None), BudgetAlert.attempts < MAX_ATTEMPTS)
    if default_webhook is None:
        query = query.where(BudgetAlert.webhook.is_not(None))
    with db_session(engine) as session:
        for alert in session.exec(query.order_by(BudgetAlert.id).limit(limit)).all():
            url = alert.webhook or default_webhook
            try:
                status = post(url, alert_payload(alert))
                error = None if 200 <= status < 300 else f"HTTP {status}"
            except Exception as exc:  # noqa: BLE001 - any transport failure is recorded and retried
                error = f"{type(exc).__name__}: {exc}"[:500]
            alert.attempts += 1
            if error is None:
                alert.delivered_at = utcnow()
                report.delivered += 1
            else:
                alert.last_error = error
                report.failed += 1
                log.warning("budget alert %s to %s failed (attempt %d): %s", alert.id, url, alert.attempts, error)
            session.add(alert)
        session.commit()
    return report


def list_alerts(engine: Engine, tenant_id: str | None = None, limit: int = 100) -> list[BudgetAlert]:
    query = select(BudgetAlert).order_by(sa.desc(BudgetAlert.id)).limit(limit)
    if tenant_id:
        query = query.where(BudgetAlert.tenant_id == tenant_id)
    with db_session(engine) as session:
        return list(session.exec(query).all())

"""The overview: spend today and this month, savings versus always-strong, caches, tiers, runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from sqlmodel import select
from starlette.responses import Response

from billing import rollups
from billing.db import db_session
from billing.models import Tenant
from billing.periods import window_for
from billing.savings import savings_report
from gateway.errors import APIError
from gateway.routes.admin_billing import strong_default
from web import overview_query as q
from web.auth import ViewerDep
from web.config import PREFIX
from web.templating import NavItem, pages

router = APIRouter(prefix=PREFIX, include_in_schema=False)
NAV = NavItem("Overview", "")


@dataclass(frozen=True)
class Savings:
    baseline_model: str
    actual_nanos: int
    baseline_nanos: int

    @property
    def saved_nanos(self) -> int:
        return self.baseline_nanos - self.actual_nanos


def month_savings(services, tenants: list[Tenant], now: datetime) -> Savings | None:  # noqa: ANN001 - gateway Services
    """billing's savings report for each tenant's current month, summed: what was spent against
    the same tokens on the strong default model (billing.strong_model, else the first strong one)."""
    try:
        name, price = strong_default(services)
    except APIError:
        return None
    rollups.rollup(services.db)  # the reports read the daily rollups: bring them up to the ledger's end
    actual = baseline = 0
    for tenant in tenants:
        report = savings_report(services.db, tenant, window_for("monthly", tenant.timezone, now).label, name, price)
        actual += report.actual_nanos
        baseline += report.baseline_nanos
    return Savings(name, actual, baseline)


@router.get("")
def overview(request: Request, viewer: ViewerDep, tenant: str | None = None) -> Response:
    services = request.app.state.services
    scope = viewer.tenant_scope(tenant)
    tz = viewer.timezone
    with db_session(services.db) as session:
        everyone = list(session.exec(select(Tenant).order_by(Tenant.name)))
    in_scope = [t for t in everyone if scope is None or t.id == scope]
    if viewer.is_admin:
        tz = in_scope[0].timezone if scope and in_scope else "UTC"
    now = datetime.now(UTC)
    window = q.Window(tz=tz, now=now)
    engine = services.db
    month = q.totals(engine, scope, window.month_start)
    tiers = q.tier_mix(engine, scope, window.month_start)
    days = request.app.state.web.config.chart_days
    return pages(request).render(
        request,
        "overview.html",
        viewer,
        tenants=everyone if viewer.is_admin else [],
        scope=scope,
        tz=tz,
        window=window,
        today=q.totals(engine, scope, window.today_start),
        month=month,
        savings=month_savings(services, in_scope, now),
        cache=q.cache_rates(engine, scope, window.month_start),
        tiers=tiers,
        top_runs=q.top_runs(engine, scope, window.month_start),
        spend_chart=q.daily_spend_by_model(engine, scope, window, days),
        tier_chart={"labels": [t["tier"] for t in tiers], "data": [t["calls"] for t in tiers]},
        chart_days=days,
    )

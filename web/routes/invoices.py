"""Invoices: billing's invoice per tenant and period, on screen (printable) and as CSV."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import Response

from billing import accounts, rollups
from billing.csv_export import attachment_headers
from billing.db import db_session
from billing.invoices import Invoice, build_invoice, invoice_csv
from billing.models import Tenant
from billing.periods import PeriodError, window_for
from web.auth import PageNotFound, Viewer, ViewerDep
from web.config import PREFIX
from web.templating import NavItem, pages, secure

router = APIRouter(prefix=PREFIX, include_in_schema=False)
NAV = NavItem("Invoices", "/invoices")
RECENT_MONTHS = 12


def recent_months(timezone: str, now: datetime) -> list[str]:
    """This month's label and the eleven before it, newest first."""
    labels, moment = [], now
    for _ in range(RECENT_MONTHS):
        window = window_for("monthly", timezone, moment)
        labels.append(window.label)
        moment = window.start - timedelta(hours=1)
    return labels


def _tenants(request: Request, viewer: Viewer, tenant: str | None) -> tuple[list[Tenant], Tenant | None]:
    scope = viewer.tenant_scope(tenant)
    with db_session(request.app.state.services.db) as session:
        visible = [t for t in accounts.list_tenants(session) if viewer.is_admin or t.id == viewer.tenant_id]
    chosen = next((t for t in visible if t.id == scope), None)
    if scope is not None and chosen is None:
        raise PageNotFound(f"No tenant {scope}.")
    return visible, chosen


def _invoices(request: Request, tenants: list[Tenant], period: str) -> list[Invoice]:
    services = request.app.state.services
    rollups.rollup(services.db)  # invoices read the daily rollups: bring them up to the ledger's end
    return [build_invoice(services.db, t, period, services.prices) for t in tenants]


@router.get("/invoices")
def invoices_page(request: Request, viewer: ViewerDep, tenant: str | None = None, period: str | None = None) -> Response:
    visible, chosen = _tenants(request, viewer, tenant)
    now = datetime.now(UTC)
    months = recent_months(chosen.timezone if chosen else "UTC", now)
    period = (period or "").strip() or months[0]
    shown = [chosen] if chosen else visible
    error = None
    try:
        invoices = _invoices(request, shown, period)
    except PeriodError as exc:
        invoices, error = [], str(exc)[:1].upper() + str(exc)[1:] + "."
    return pages(request).render(
        request, "invoices.html", viewer, status_code=400 if error else 200, error=error, tenants=visible, chosen=chosen,
        period=period, months=months, invoices=invoices, tz=chosen.timezone if chosen else "UTC",
        csv_href=f"invoices.csv?tenant={chosen.id}&period={quote(period)}" if chosen else None,
    )


@router.get("/invoices.csv")
def invoice_download(request: Request, viewer: ViewerDep, period: str, tenant: str | None = None) -> Response:
    _visible, chosen = _tenants(request, viewer, tenant or viewer.tenant_id)
    if chosen is None:
        return secure(Response("Choose a tenant: ?tenant=ID\n", status_code=400, media_type="text/plain"))
    try:
        (invoice,) = _invoices(request, [chosen], period.strip())
    except PeriodError as exc:
        return secure(Response(f"{exc}\n", status_code=400, media_type="text/plain"))
    filename = f"invoice-{chosen.name}-{invoice.period}.csv"
    return secure(Response(invoice_csv(invoice), media_type="text/csv; charset=utf-8", headers=attachment_headers(filename)))

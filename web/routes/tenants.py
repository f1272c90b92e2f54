"""Tenants: the list (with keys and this month's spend) and, for global admins, creation."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from billing import accounts
from billing.db import db_session
from billing.models import ApiKey, Tenant, UsageRecord
from web.auth import Forbidden, FormDep, Viewer, ViewerDep
from web.config import PREFIX
from web.formatting import zone
from web.templating import NavItem, pages, secure

router = APIRouter(prefix=PREFIX, include_in_schema=False)
NAV = NavItem("Tenants", "/tenants")


def _page(request: Request, viewer: Viewer, status: int = 200, error: str | None = None, values: dict | None = None, created: str | None = None) -> Response:
    db = request.app.state.services.db
    with db_session(db) as session:
        tenants = [t for t in accounts.list_tenants(session) if viewer.is_admin or t.id == viewer.tenant_id]
    ids = [t.id for t in tenants]
    notice = f"Tenant {created} created." if created and any(t.name == created for t in tenants) else None
    key_counts: dict[str, int] = {}
    spend: dict[str, int] = {}
    if ids:
        with db.connect() as conn:
            keys = ApiKey.__table__.c
            key_counts = dict(conn.execute(
                sa.select(keys.tenant_id, sa.func.count()).where(keys.tenant_id.in_(ids), keys.revoked_at.is_(None)).group_by(keys.tenant_id)
            ).all())
            usage = UsageRecord.__table__.c
            # This month in each tenant's own time zone.
            for tenant in tenants:
                start = datetime.now(zone(tenant.timezone)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
                spend[tenant.id] = int(conn.execute(
                    sa.select(sa.func.coalesce(sa.func.sum(usage.cost_nanos), 0)).where(usage.tenant_id == tenant.id, usage.created_at >= start.astimezone(UTC))
                ).scalar_one())
    return pages(request).render(
        request, "tenants.html", viewer, status_code=status, tenants=tenants, key_counts=key_counts, spend=spend,
        error=error, values=values or {"timezone": "UTC", "markup_percent": "0"}, notice=notice,
    )


@router.get("/tenants")
def tenants_page(request: Request, viewer: ViewerDep, created: str | None = None) -> Response:
    return _page(request, viewer, created=created)


@router.post("/tenants")
def create_tenant(request: Request, viewer: ViewerDep, form: FormDep) -> Response:
    if not viewer.is_admin:
        raise Forbidden("Only a global admin can create tenants.")
    values = {name: str(form.get(name) or "").strip() for name in ("name", "timezone", "markup_percent")}
    values["timezone"] = values["timezone"] or "UTC"
    error = None
    try:
        markup = float(values["markup_percent"] or 0) / 100.0
    except ValueError:
        markup, error = 0.0, "Markup must be a number (percent, e.g. 10 or -5)."
    if error is None and not accounts.MARKUP_MIN <= markup <= accounts.MARKUP_MAX:  # said in percent, as typed
        error = f"Markup must lie between {accounts.MARKUP_MIN:.0%} and {accounts.MARKUP_MAX:.0%}."
    if error is None:
        with db_session(request.app.state.services.db) as session:
            try:
                tenant: Tenant = accounts.create_tenant(session, values["name"], values["timezone"], markup)
            except accounts.AccountError as exc:
                error = f"{str(exc)[:1].upper()}{str(exc)[1:]}."
    if error is not None:
        return _page(request, viewer, status=400, error=error, values=values)
    return secure(RedirectResponse(f"{PREFIX}/tenants?created={quote(tenant.name)}", status_code=303))

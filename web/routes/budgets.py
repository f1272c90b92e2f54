"""Budgets: set limits per scope and period, watch each one's use, and its burn-down."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from anyio.from_thread import run as run_async
from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from billing import accounts
from billing.budget_models import Budget
from billing.budgets.definitions import EVERY_RUN, ON_EXCEED, BudgetDef, BudgetError, OperatorWall, delete_budget, list_budgets, set_budget
from billing.budgets.status import budget_status
from billing.db import db_session
from billing.models import Tenant
from billing.periods import PERIODS
from web.auth import Forbidden, FormDep, PageNotFound, Viewer, ViewerDep
from web.budget_query import BudgetView, burndown_chart, view
from web.config import PREFIX
from web.templating import NavItem, pages, secure

router = APIRouter(prefix=PREFIX, include_in_schema=False)
NAV = NavItem("Budgets", "/budgets")
NOTICES = {"saved": "Budget saved.", "deleted": "Budget deleted."}


def _refresh_gateway(request: Request) -> None:
    """This worker applies the change at once; the others when they next re-read definitions."""
    run_async(request.app.state.services.admission.reload)


def _views(request: Request, budgets: list[Budget], timezones: dict[str, str]) -> list[BudgetView]:
    """billing's status of each budget (live counters where this worker has them, else the ledger)."""
    services = request.app.state.services
    definitions = [BudgetDef.from_row(b) for b in budgets]
    counters = run_async(budget_status, services.db, definitions, services.admission.store)
    now = datetime.now(UTC)
    return [view(services.db, d, counters[d.id], timezones.get(d.tenant_id, "UTC"), now) for d in definitions]


def _page(request: Request, viewer: Viewer, tenant: str | None = None, status: int = 200, error: str | None = None,
          notice: str | None = None, values: dict[str, Any] | None = None) -> Response:
    services = request.app.state.services
    scope = viewer.tenant_scope(tenant)
    with db_session(services.db) as session:
        tenants = {t.id: t for t in accounts.list_tenants(session) if viewer.is_admin or t.id == viewer.tenant_id}
        budgets = list_budgets(session, scope)
        keys = [k for k in accounts.list_keys(session, scope) if k.tenant_id in tenants]
    views = _views(request, budgets, {t.id: t.timezone for t in tenants.values()})
    return pages(request).render(
        request, "budgets.html", viewer, status_code=status, error=error, notice=notice, views=views, tenants=tenants,
        keys=keys, key_names={k.id: k.name or k.prefix for k in keys}, models=services.registry.names, periods=PERIODS,
        on_exceed=ON_EXCEED, every_run=EVERY_RUN, scope=scope, values=values or {"period": "monthly", "soft_percent": "80", "on_exceed": "refuse"},
    )


@router.get("/budgets")
def budgets_page(request: Request, viewer: ViewerDep, tenant: str | None = None, done: str | None = None) -> Response:
    return _page(request, viewer, tenant, notice=NOTICES.get(done or ""))


def _number(form: FormData, name: str, kind: type, label: str) -> Any:
    text = str(form.get(name) or "").strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise BudgetError(f"{label} must be a number, not {text!r}") from None


def _budget_fields(form: FormData) -> dict[str, Any]:
    soft = _number(form, "soft_percent", float, "The soft threshold")
    return {
        "key_id": str(form.get("key_id") or "").strip() or None,
        "run_id": str(form.get("run_id") or "").strip() or None,
        "model": str(form.get("model") or "").strip() or None,
        "limit_usd": _number(form, "limit_usd", float, "The USD limit"),
        "limit_tokens": _number(form, "limit_tokens", int, "The token limit"),
        "period": str(form.get("period") or "monthly"),
        "soft": None if soft is None else soft / 100.0,
        "on_exceed": str(form.get("on_exceed") or "refuse"),
        "alert_webhook": str(form.get("alert_webhook") or "").strip() or None,
    }


@router.post("/budgets")
def save_budget(request: Request, viewer: ViewerDep, form: FormDep) -> Response:
    tenant_id = viewer.tenant_scope(str(form.get("tenant_id") or "") or None)
    values = {name: str(form.get(name) or "") for name in form.keys() if name != "csrf_token"}
    try:
        if tenant_id is None:
            raise BudgetError("choose the budget's tenant")
        fields = _budget_fields(form)
        if fields["model"] is not None and fields["model"] not in request.app.state.services.registry.names:
            raise BudgetError(f"unknown model {fields['model']!r}")
        with db_session(request.app.state.services.db) as session:
            set_budget(session, tenant_id=tenant_id, allow_private_webhook=viewer.is_admin, by_operator=viewer.is_admin, **fields)
    except BudgetError as exc:
        return _page(request, viewer, status=400, error=str(exc)[:1].upper() + str(exc)[1:] + ".", values=values)
    except OperatorWall as exc:
        return _page(request, viewer, status=403, error=str(exc), values=values)
    _refresh_gateway(request)
    return secure(RedirectResponse(f"{PREFIX}/budgets?done=saved", status_code=303))


def _owned(request: Request, viewer: Viewer, budget_id: str) -> Budget:
    with db_session(request.app.state.services.db) as session:
        budget = session.get(Budget, budget_id)
    if budget is None or (not viewer.is_admin and budget.tenant_id != viewer.tenant_id):
        raise PageNotFound(f"No budget {budget_id}.")
    return budget


@router.post("/budgets/{budget_id}/delete")
def remove_budget(request: Request, budget_id: str, viewer: ViewerDep, form: FormDep) -> Response:
    budget = _owned(request, viewer, budget_id)
    with db_session(request.app.state.services.db) as session:
        try:
            delete_budget(session, budget.id, by_operator=viewer.is_admin)
        except OperatorWall as exc:
            raise Forbidden(str(exc)) from None
    _refresh_gateway(request)
    return secure(RedirectResponse(f"{PREFIX}/budgets?done=deleted", status_code=303))


@router.get("/budgets/{budget_id}")
def budget_page(request: Request, budget_id: str, viewer: ViewerDep) -> Response:
    budget = _owned(request, viewer, budget_id)
    db = request.app.state.services.db
    with db_session(db) as session:
        tenant = session.get(Tenant, budget.tenant_id)
        keys = accounts.list_keys(session, budget.tenant_id)
    (budget_view,) = _views(request, [budget], {tenant.id: tenant.timezone})
    return pages(request).render(
        request, "budget.html", viewer, view=budget_view, tenant=tenant, chart=burndown_chart(db, budget_view),
        key_names={k.id: k.name or k.prefix for k in keys}, every_run=EVERY_RUN, tz=tenant.timezone,
    )

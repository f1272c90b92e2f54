"""Admin JSON API for budgets, rate limits, invoices, savings and reconciliation.

Same rules as admin_api: the global admin sees every tenant; a tenant admin only its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Literal

import orjson
from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.responses import Response

from billing import rollups
from billing.budgets import definitions as budget_defs
from billing.budgets.alerts import alert_payload, list_alerts
from billing.budgets.definitions import BudgetDef
from billing.budgets.status import budget_json, budget_status
from billing.csv_export import attachment_headers
from billing.db import db_session
from billing.invoices import build_invoice, invoice_csv, invoice_json
from billing.models import Tenant
from billing.periods import PeriodError
from billing.prices import Price
from billing.ratelimit import rules as rate_rules
from billing.savings import savings_report
from gateway.auth import Principal
from gateway.deps import AdminDep, ServicesDep
from gateway.errors import APIError, invalid_request
from gateway.models import ModelRegistry
from gateway.routes.admin_api import _scoped_tenant_id
from gateway.services import Services

router = APIRouter(prefix="/admin/api")


class BudgetIn(BaseModel):
    tenant_id: str | None = Field(default=None, description="default: the caller's tenant")
    key_id: str | None = None
    run_id: str | None = Field(default=None, description="a run id, or '*' for a wall per run")
    model: str | None = None
    limit_usd: float | None = Field(default=None, ge=0, le=budget_defs.MAX_LIMIT_NANOS / 10**9)
    limit_tokens: int | None = Field(default=None, ge=0, le=budget_defs.MAX_LIMIT_TOKENS)
    period: Literal["none", "daily", "weekly", "monthly"] = "monthly"
    soft: float | None = Field(default=0.8, gt=0, le=1)
    on_exceed: Literal["refuse", "clamp"] = "refuse"
    alert_webhook: str | None = Field(default=None, max_length=1000)


class RateLimitIn(BaseModel):
    tenant_id: str | None = None
    key_id: str | None = None
    rpm: int | None = Field(default=None, ge=1, le=rate_rules.MAX_RPM)
    tpm: int | None = Field(default=None, ge=1, le=rate_rules.MAX_TPM)


def _tenant_for(principal: Principal, requested: str | None) -> str:
    tenant_id = _scoped_tenant_id(principal, requested)
    if tenant_id is None:
        raise invalid_request("Name the tenant with `tenant_id`.", param="tenant_id")
    return tenant_id


def _load_tenant(services: Services, tenant_id: str) -> Tenant:
    with db_session(services.db) as session:
        tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise APIError(404, f"No tenant {tenant_id!r}.", code="not_found")
    return tenant


# -- budgets -----------------------------------------------------------------------------


@router.get("/budgets")
async def list_budgets(principal: AdminDep, services: ServicesDep, tenant_id: str | None = None) -> dict[str, Any]:
    scoped = _scoped_tenant_id(principal, tenant_id)
    await services.admission.reload()  # the CLI or another process may have changed them
    budgets = [b for b in services.admission.book.all() if scoped is None or b.tenant_id == scoped]
    status = await budget_status(services.db, budgets, services.admission.store)
    return {"object": "list", "data": [budget_json(b, status[b.id]) for b in budgets]}


@router.post("/budgets", status_code=201)
async def set_budget(body: BudgetIn, principal: AdminDep, services: ServicesDep) -> dict[str, Any]:
    tenant_id = _tenant_for(principal, body.tenant_id)

    def write() -> BudgetDef:
        with db_session(services.db) as session:
            fields = body.model_dump(exclude={"tenant_id"})
            return BudgetDef.from_row(budget_defs.set_budget(
                session, tenant_id=tenant_id, allow_private_webhook=principal.is_admin, by_operator=principal.is_admin, **fields))

    try:
        budget = await asyncio.to_thread(write)
    except budget_defs.BudgetError as exc:
        raise invalid_request(str(exc)) from None
    except budget_defs.OperatorWall as exc:
        raise _operator_wall(exc) from None
    await services.admission.reload()
    status = await budget_status(services.db, [budget], services.admission.store)
    return budget_json(budget, status[budget.id])


@router.delete("/budgets/{budget_id}")
async def delete_budget(budget_id: str, principal: AdminDep, services: ServicesDep) -> dict[str, Any]:
    def remove() -> None:
        with db_session(services.db) as session:
            budget = session.get(budget_defs.Budget, budget_id)
            if budget is None or (not principal.is_admin and budget.tenant_id != principal.tenant_id):
                raise APIError(404, f"No budget {budget_id!r}.", code="not_found")
            budget_defs.delete_budget(session, budget_id, by_operator=principal.is_admin)

    try:
        await asyncio.to_thread(remove)
    except budget_defs.OperatorWall as exc:
        raise _operator_wall(exc) from None
    await services.admission.reload()
    return {"id": budget_id, "deleted": True}


@router.get("/budgets/alerts")
async def budget_alerts(principal: AdminDep, services: ServicesDep, tenant_id: str | None = None, limit: int = 100) -> dict[str, Any]:
    scoped = _scoped_tenant_id(principal, tenant_id)
    alerts = await asyncio.to_thread(list_alerts, services.db, scoped, max(1, min(limit, 1000)))
    return {"object": "list", "data": [{**alert_payload(a), "delivered_at": a.delivered_at.isoformat() if a.delivered_at else None, "attempts": a.attempts} for a in alerts]}


# -- rate limits ---------------------------------------------------------------------------


def _operator_wall(exc: Exception) -> APIError:
    return APIError(403, str(exc), type="permission_error", code="set_by_operator")


def _rule_json(r: Any) -> dict[str, Any]:
    return {"id": r.id, "tenant_id": r.tenant_id, "key_id": r.key_id, "rpm": r.rpm, "tpm": r.tpm, "set_by_operator": r.set_by_operator}


@router.get("/rate-limits")
async def list_rate_limits(principal: AdminDep, services: ServicesDep, tenant_id: str | None = None) -> dict[str, Any]:
    scoped = _scoped_tenant_id(principal, tenant_id)

    def read() -> list[dict[str, Any]]:
        with db_session(services.db) as session:
            return [_rule_json(r) for r in rate_rules.list_rate_limits(session, scoped)]

    return {"object": "list", "data": await asyncio.to_thread(read)}


@router.post("/rate-limits", status_code=201)
async def set_rate_limit(body: RateLimitIn, principal: AdminDep, services: ServicesDep) -> dict[str, Any]:
    tenant_id = _tenant_for(principal, body.tenant_id)

    def write() -> dict[str, Any]:
        with db_session(services.db) as session:
            return _rule_json(rate_rules.set_rate_limit(session, tenant_id, body.key_id, body.rpm, body.tpm, by_operator=principal.is_admin))

    try:
        out = await asyncio.to_thread(write)
    except rate_rules.RateLimitError as exc:
        raise invalid_request(str(exc)) from None
    except budget_defs.OperatorWall as exc:
        raise _operator_wall(exc) from None
    await services.admission.reload()
    return out


@router.delete("/rate-limits/{rule_id}")
async def delete_rate_limit(rule_id: str, principal: AdminDep, services: ServicesDep) -> dict[str, Any]:
    def remove() -> None:
        with db_session(services.db) as session:
            rule = session.get(rate_rules.RateLimitRule, rule_id)
            if rule is None or (not principal.is_admin and rule.tenant_id != principal.tenant_id):
                raise APIError(404, f"No rate limit {rule_id!r}.", code="not_found")
            rate_rules.delete_rate_limit(session, rule_id, by_operator=principal.is_admin)

    try:
        await asyncio.to_thread(remove)
    except budget_defs.OperatorWall as exc:
        raise _operator_wall(exc) from None
    await services.admission.reload()
    return {"id": rule_id, "deleted": True}


# -- invoices, savings, reconciliation ----------------------------------------------------


@router.get("/invoices")
async def invoice(principal: AdminDep, services: ServicesDep, period: str, tenant_id: str | None = None, format: Literal["json", "csv"] = "json") -> Response:
    tenant = _load_tenant(services, _tenant_for(principal, tenant_id))
    try:
        await asyncio.to_thread(rollups.rollup, services.db)
        built = await asyncio.to_thread(build_invoice, services.db, tenant, period, services.prices)
    except PeriodError as exc:
        raise invalid_request(str(exc), param="period") from None
    if format == "csv":
        return Response(invoice_csv(built), media_type="text/csv; charset=utf-8", headers=attachment_headers(f"invoice-{tenant.name}-{period}.csv"))
    return Response(orjson.dumps(invoice_json(built)), media_type="application/json")


def strong_baseline(registry: ModelRegistry, prices: Mapping[str, Price | None], wanted: str | None) -> tuple[str, Price] | None:
    """The savings baseline: `wanted` (billing.strong_model), else the first priced strong-tier chat model."""
    deployments = registry.group(wanted) if wanted else registry.by_tier("strong")
    return next(((d.model_name, prices[d.id]) for d in deployments if prices.get(d.id) is not None), None)


def strong_default(services: Services) -> tuple[str, Price]:
    """The running gateway's savings baseline; APIError 409 when it has no priced strong model."""
    baseline = strong_baseline(services.registry, services.prices, services.settings.billing.strong_model)
    if baseline is None:
        raise APIError(409, "No priced strong-tier chat model to compare with; set billing.strong_model.", code="no_baseline_model")
    return baseline


@router.get("/savings")
async def savings(principal: AdminDep, services: ServicesDep, period: str, tenant_id: str | None = None) -> dict[str, Any]:
    tenant = _load_tenant(services, _tenant_for(principal, tenant_id))
    name, price = strong_default(services)
    try:
        await asyncio.to_thread(rollups.rollup, services.db)
        report = await asyncio.to_thread(savings_report, services.db, tenant, period, name, price)
    except PeriodError as exc:
        raise invalid_request(str(exc), param="period") from None
    return report.as_json()


@router.post("/billing/rollup")
async def run_rollup(principal: AdminDep, services: ServicesDep) -> dict[str, Any]:
    if not principal.is_admin:
        raise APIError(403, "Only the global admin runs billing jobs.", type="permission_error", code="forbidden")
    report = await asyncio.to_thread(rollups.rollup, services.db)
    return {"rows_read": report.rows_read, "days": report.days, "last_row_id": report.last_row_id}


@router.post("/billing/reconcile")
async def reconcile(principal: AdminDep, services: ServicesDep, fix: bool = False, days: int = 35) -> dict[str, Any]:
    """Check rollups and live budget counters against the ledger; `fix` recomputes and rebuilds."""
    if not principal.is_admin:
        raise APIError(403, "Only the global admin runs billing jobs.", type="permission_error", code="forbidden")
    await services.recorder.flush()
    await asyncio.to_thread(rollups.rollup, services.db)
    rollup_check = await asyncio.to_thread(rollups.check_rollups, services.db, max(1, min(days, 400)), fix)
    counter_diffs, checked = await services.admission.check()
    if fix and counter_diffs:
        await services.admission.force_rebuild()
    return {
        "rollups": {"days_checked": rollup_check.days_checked, "differences": [d.__dict__ | {"day": d.day.isoformat()} for d in rollup_check.differences]},
        "counters": {"checked": checked, "differences": [d.__dict__ for d in counter_diffs]},
        "fixed": fix,
    }

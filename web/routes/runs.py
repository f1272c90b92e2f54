"""Agent runs: the recent ones, and every call of one run in order."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from billing import accounts
from billing.db import db_session
from web import usage_query as uq
from web.auth import PageNotFound, ViewerDep
from web.config import PREFIX
from web.templating import NavItem, pages

router = APIRouter(prefix=PREFIX, include_in_schema=False)
NAV = NavItem("Runs", "/runs")


def _tenant_names(request: Request) -> dict[str, str]:
    with db_session(request.app.state.services.db) as session:
        return {t.id: t.name for t in accounts.list_tenants(session)}


@router.get("/runs")
def runs_page(request: Request, viewer: ViewerDep, tenant: str | None = None, run: str | None = None) -> Response:
    if run is not None:  # a run whose id a path cannot carry ("." or "..")
        return run_page(request, run, viewer, tenant)
    scope = viewer.tenant_scope(tenant)
    runs = uq.recent_runs(request.app.state.services.db, scope)
    return pages(request).render(request, "runs.html", viewer, runs=runs, tenant_names=_tenant_names(request))


@router.get("/runs/{run_id:path}")
def run_page(request: Request, run_id: str, viewer: ViewerDep, tenant: str | None = None) -> Response:
    scope = viewer.tenant_scope(tenant)
    calls = uq.run_calls(request.app.state.services.db, run_id, scope)
    if not calls:
        raise PageNotFound(f"No calls recorded for run {run_id!r}.")
    running, cumulative = 0, []
    for call in calls:
        running += call["cost_nanos"]
        cumulative.append(running)
    tenants = {c["tenant_id"] for c in calls}
    return pages(request).render(
        request, "run.html", viewer, run_id=run_id, calls=calls, cumulative=cumulative, tenant_names=_tenant_names(request),
        mixed_tenants=len(tenants) > 1,
        totals={
            "calls": len(calls),
            "cost_nanos": running,
            "prompt_tokens": sum(c["prompt_tokens"] for c in calls),
            "completion_tokens": sum(c["completion_tokens"] for c in calls),
            "cache_hits": sum(1 for c in calls if c["cache"].startswith("hit")),
            "cached_tokens": sum(c["cached_tokens"] for c in calls),
        },
        chart={"labels": [str(i) for i in range(1, len(calls) + 1)], "data": [round(v / 1e9, 9) for v in cumulative]},
    )

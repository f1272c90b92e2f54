"""Batch jobs: recent batches with their live progress, and one batch's figures and errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from starlette.responses import Response

from billing import accounts
from billing.batch_models import Batch
from billing.db import db_session
from gateway.batches import store
from gateway.batches.views import figures
from web.auth import PageNotFound, ViewerDep
from web.config import PREFIX
from web.templating import NavItem, pages

router = APIRouter(prefix=PREFIX, include_in_schema=False)
NAV = NavItem("Batches", "/batches")
PAGE_SIZE = 50
REFRESH_SECONDS = 3  # while a batch runs the page reloads itself (a meta refresh: no script needed)


@dataclass(frozen=True)
class BatchRow:
    batch: Batch
    completed: int
    failed: int
    cost_nanos: int

    @property
    def finished(self) -> int:
        return self.completed + self.failed

    @property
    def share(self) -> float:
        return self.finished / self.batch.line_count if self.batch.line_count else 0.0

    @property
    def running(self) -> bool:
        return self.batch.status not in store.TERMINAL

    def at(self, name: str) -> datetime | None:
        value = getattr(self.batch, name)
        return datetime.fromtimestamp(value, UTC) if value else None


def _rows(db, batches: list[Batch]) -> list[BatchRow]:  # noqa: ANN001 - Engine
    live = store.progress(db, [b.id for b in batches if b.status not in store.TERMINAL])
    out = []
    for b in batches:
        f = figures(b, live.get(b.id))
        out.append(BatchRow(b, f.completed, f.failed, f.cost_nanos))
    return out


def _tenant_names(db) -> dict[str, str]:  # noqa: ANN001 - Engine
    with db_session(db) as session:
        return {t.id: t.name for t in accounts.list_tenants(session)}


@router.get("/batches")
def batches_page(request: Request, viewer: ViewerDep, tenant: str | None = None) -> Response:
    db = request.app.state.services.db
    scope = viewer.tenant_scope(tenant)
    rows = _rows(db, store.recent_batches(db, scope, PAGE_SIZE, all_tenants=scope is None))
    refresh = REFRESH_SECONDS if any(r.running for r in rows) else None
    return pages(request).render(request, "batches.html", viewer, rows=rows, tenant_names=_tenant_names(db), refresh=refresh)


@router.get("/batches/{batch_id}")
def batch_page(request: Request, batch_id: str, viewer: ViewerDep, tenant: str | None = None) -> Response:
    db = request.app.state.services.db
    scope = viewer.tenant_scope(tenant)
    batch = store.load_batch(db, batch_id)
    if batch is None or (scope is not None and batch.tenant_id != scope):
        raise PageNotFound(f"No batch {batch_id!r}.")
    row = _rows(db, [batch])[0]
    refresh = REFRESH_SECONDS if row.running else None
    return pages(request).render(request, "batch.html", viewer, row=row, tenant_names=_tenant_names(db), refresh=refresh)

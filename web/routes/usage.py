"""The usage explorer: filter the ledger, sort, page through it, export it as CSV."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from billing import accounts
from billing.db import db_session
from web import usage_query as uq
from web.auth import Viewer, ViewerDep
from web.config import PREFIX
from web.templating import NavItem, pages, secure

router = APIRouter(prefix=PREFIX, include_in_schema=False)
NAV = NavItem("Usage", "/usage")
FILTER_PARAMS = ("tenant", "key", "run", "model", "since", "until", "errors")


def _filters(request: Request, viewer: Viewer) -> tuple[uq.UsageFilter, uq.SortOrder, dict[str, str], str | None]:
    params = {name: request.query_params.get(name, "").strip() for name in (*FILTER_PARAMS, "sort", "dir")}
    scope = viewer.tenant_scope(params["tenant"] or None)
    error = None
    try:
        since = uq.parse_moment(params["since"], viewer.timezone)
        until = uq.parse_moment(params["until"], viewer.timezone, inclusive_end=True)
    except uq.FilterError as exc:
        since = until = None
        error = str(exc)
    filters = uq.UsageFilter(
        tenant_id=scope, key_id=params["key"] or None, run_id=params["run"] or None, model=params["model"] or None,
        since=since, until=until, errors_only=params["errors"] == "1",
    )
    return filters, uq.SortOrder.parse(params["sort"], params["dir"]), params, error


@router.get("/usage")
def usage_page(request: Request, viewer: ViewerDep, page: int = 1) -> Response:
    filters, order, params, error = _filters(request, viewer)
    db = request.app.state.services.db
    result = uq.usage_page(db, filters, order, page, request.app.state.web.config.page_size)
    with db_session(db) as session:
        tenants = [t for t in accounts.list_tenants(session) if viewer.is_admin or t.id == viewer.tenant_id]
        keys = accounts.list_keys(session, filters.tenant_id)
    kept = {k: v for k, v in params.items() if v}

    def link(**changes: object) -> str:
        return "?" + urlencode({**kept, **{k: v for k, v in changes.items() if v not in (None, "")}})

    def sort_link(column: str) -> str:
        flip = "asc" if order.key == column and order.descending else "desc"
        return link(sort=column, dir=flip, page=None)

    query_string = urlencode(kept)
    return pages(request).render(
        request, "usage.html", viewer, status_code=400 if error else 200, result=result, order=order, params=params,
        tenants=tenants, keys=keys, models=uq.distinct_models(db, filters.tenant_id), error=error,
        link=link, sort_link=sort_link, csv_href=f"usage.csv?{query_string}" if query_string else "usage.csv",
        tenant_names={t.id: t.name for t in tenants},
    )


@router.get("/usage.csv")
def usage_csv(request: Request, viewer: ViewerDep) -> Response:
    filters, order, _params, error = _filters(request, viewer)
    if error:
        return secure(Response(error + "\n", status_code=400, media_type="text/plain"))
    lines = uq.csv_lines(request.app.state.services.db, filters, order)
    first = next(lines)  # runs the query now: a filter the database refuses gets the page's 400, not a cut-off file
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    response = StreamingResponse(
        itertools.chain([first], lines),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="tokenmill-usage-{stamp}.csv"'},
    )
    return secure(response)

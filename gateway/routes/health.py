"""Liveness, readiness (the database and the counters answer) and Prometheus metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from starlette.responses import JSONResponse, Response

from billing.db import ping
from gateway import metrics
from gateway.deps import ServicesDep
from gateway.providers.local import LocalProvider

router = APIRouter()


@router.get("/healthz")
async def healthz(services: ServicesDep) -> JSONResponse:
    """Liveness: 503 once the in-process engine's loop has stopped, which only a restart mends."""
    local = services.providers.get("local")
    if isinstance(local, LocalProvider) and local.loop_failed:
        return JSONResponse({"status": "failed", "local_engine": local.state}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
async def readyz(services: ServicesDep) -> JSONResponse:
    """Readiness: the database and the budget counters answer (without them no call is admitted)."""
    database_ok, counters_ok = await asyncio.gather(asyncio.to_thread(ping, services.db), services.admission.store.ping())
    ready = database_ok and counters_ok
    body = {"status": "ok" if ready else "unavailable", "database": database_ok, "counters": counters_ok}
    local = services.providers.get("local")
    if isinstance(local, LocalProvider):
        body["local_engine"] = local.state
    # `warming`: start-up work still running in the background (embedders loading); calls are
    # served meanwhile, a little slower.
    body["warming"] = any(not task.done() for task in services.background)
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics")
async def prometheus_metrics() -> Response:
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)

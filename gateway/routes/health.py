"""Liveness, readiness (the database answers) and Prometheus metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from starlette.responses import JSONResponse, Response

from billing.db import ping
from gateway import metrics
from gateway.deps import ServicesDep

router = APIRouter()


@router.get("/healthz")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
async def readyz(services: ServicesDep) -> JSONResponse:
    database_ok = await asyncio.to_thread(ping, services.db)
    status = 200 if database_ok else 503
    # `warming`: start-up work still running in the background (embedders loading); calls are
    # served meanwhile, a little slower.
    warming = any(not task.done() for task in services.background)
    return JSONResponse({"status": "ok" if database_ok else "unavailable", "database": database_ok, "warming": warming}, status_code=status)


@router.get("/metrics")
async def prometheus_metrics() -> Response:
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)

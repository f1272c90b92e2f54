"""FastAPI dependencies, typed with Annotated so handlers read as plain signatures."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from gateway.auth import Principal, bearer_secret
from gateway.errors import APIError
from gateway.pipeline import Pipeline
from gateway.services import Services


# Dependencies are `async def` even when they do not await: FastAPI runs plain `def`
# dependencies in a worker thread, a hop that costs more than the whole fast path.
async def get_services(request: Request) -> Services:
    return request.app.state.services


async def get_pipeline(request: Request) -> Pipeline:
    return request.app.state.pipeline


ServicesDep = Annotated[Services, Depends(get_services)]
PipelineDep = Annotated[Pipeline, Depends(get_pipeline)]


async def authenticate(
    services: ServicesDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Principal:
    return await services.keys.authenticate(bearer_secret(authorization, x_api_key))


PrincipalDep = Annotated[Principal, Depends(authenticate)]


async def principal_of(request: Request) -> Principal:
    """The same check as PrincipalDep, as a plain call for the hot endpoints."""
    headers = request.headers
    return await request.app.state.services.keys.authenticate(bearer_secret(headers.get("authorization"), headers.get("x-api-key")))


async def require_admin(principal: PrincipalDep) -> Principal:
    if principal.role not in ("admin", "tenant_admin"):
        raise APIError(403, "This endpoint needs an admin key.", type="permission_error", code="admin_required")
    return principal


AdminDep = Annotated[Principal, Depends(require_admin)]

"""The OpenAI-compatible surface under /v1 that is not on the hot path (chat, completions and
embeddings are served by gateway/hot_path.py)."""

from __future__ import annotations

import time

import orjson
from fastapi import APIRouter
from starlette.responses import Response

from gateway.deps import PrincipalDep, ServicesDep

router = APIRouter(prefix="/v1")


@router.get("/models")
async def list_models(principal: PrincipalDep, services: ServicesDep) -> Response:
    created = int(time.time())
    names = services.registry.names + (services.routes.names_for(principal) if services.routes else [])
    data = [{"id": name, "object": "model", "created": created, "owned_by": "tokenmill"} for name in names if principal.may_use(name)]
    return Response(orjson.dumps({"object": "list", "data": data}), media_type="application/json")


@router.get("/models/{model_id:path}")
async def get_model(model_id: str, principal: PrincipalDep, services: ServicesDep) -> Response:
    if not (services.routes and services.routes.plan_for(principal, model_id)):
        services.registry.group(model_id)
    principal.check_model(model_id)
    body = {"id": model_id, "object": "model", "created": int(time.time()), "owned_by": "tokenmill"}
    return Response(orjson.dumps(body), media_type="application/json")

"""The OpenAI-compatible surface under /v1."""

from __future__ import annotations

import time

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.deps import PrincipalDep, ServicesDep, principal_of

router = APIRouter(prefix="/v1")


# The three hot endpoints are plain Starlette routes taking only the request: FastAPI's
# per-call dependency solving and response handling cost more than the rest of the fast path.
# Auth runs as a plain call (the same code as PrincipalDep).


async def chat_completions(request: Request) -> Response:
    return await request.app.state.pipeline.handle(request, await principal_of(request), "chat")


async def completions(request: Request) -> Response:
    return await request.app.state.pipeline.handle(request, await principal_of(request), "completions")


async def embeddings(request: Request) -> Response:
    return await request.app.state.pipeline.handle(request, await principal_of(request), "embeddings")


hot_routes = [
    Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    Route("/v1/completions", completions, methods=["POST"]),
    Route("/v1/embeddings", embeddings, methods=["POST"]),
]


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

"""The OpenAI-compatible surface under /v1."""

from __future__ import annotations

import time

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.deps import PipelineDep, PrincipalDep, ServicesDep

router = APIRouter(prefix="/v1")


@router.post("/chat/completions")
async def chat_completions(request: Request, principal: PrincipalDep, pipeline: PipelineDep) -> Response:
    return await pipeline.handle(request, principal, "chat")


@router.post("/completions")
async def completions(request: Request, principal: PrincipalDep, pipeline: PipelineDep) -> Response:
    return await pipeline.handle(request, principal, "completions")


@router.post("/embeddings")
async def embeddings(request: Request, principal: PrincipalDep, pipeline: PipelineDep) -> Response:
    return await pipeline.handle(request, principal, "embeddings")


@router.get("/models")
async def list_models(principal: PrincipalDep, services: ServicesDep) -> Response:
    created = int(time.time())
    data = [
        {"id": name, "object": "model", "created": created, "owned_by": "tokenmill"}
        for name in services.registry.names
        if principal.may_use(name)
    ]
    return Response(orjson.dumps({"object": "list", "data": data}), media_type="application/json")


@router.get("/models/{model_id:path}")
async def get_model(model_id: str, principal: PrincipalDep, services: ServicesDep) -> Response:
    services.registry.group(model_id)
    principal.check_model(model_id)
    body = {"id": model_id, "object": "model", "created": int(time.time()), "owned_by": "tokenmill"}
    return Response(orjson.dumps(body), media_type="application/json")

"""OpenAI-compatible HTTP server for the local engine (`tokenmill engine serve`).

Routes: /v1/chat/completions, /v1/completions (both streaming or not), /v1/embeddings
(the shared embedder), /v1/models, /healthz.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException

from local_engine import openai_protocol, openai_serving
from local_engine.async_engine import AsyncEngine, EngineDeadError
from local_engine.config import EngineConfig
from local_engine.engine import RequestError
from local_engine.openai_serving import OpenAIServing

log = logging.getLogger(__name__)


def _error(status: int, message: str, kind: str = "invalid_request_error", code: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": code}}, status_code=status)


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RequestError(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise RequestError("request body must be a JSON object")
    return body


DISCONNECT_POLL_SECONDS = 0.25


async def _unless_disconnected(
    request: Request, work: Awaitable[dict[str, Any]], poll_seconds: float = DISCONNECT_POLL_SECONDS
) -> dict[str, Any] | Response:
    """Await a whole (non-streamed) answer, cancelling it when the client goes away: its tokens
    would be generated for nobody (a stream is aborted the same way when it is closed)."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=poll_seconds)
            if done:
                return task.result()
            if await request.is_disconnected():
                task.cancel()
                return Response(status_code=499)
    finally:
        if not task.done():
            task.cancel()


def build_app(engine: AsyncEngine) -> FastAPI:
    app = FastAPI(title="Tokenmill local engine")
    serving = OpenAIServing(engine)

    @app.exception_handler(RequestError)
    async def _bad_request(_: Request, exc: RequestError) -> JSONResponse:
        return _error(400, str(exc), code=exc.code)

    @app.exception_handler(EngineDeadError)
    async def _dead(_: Request, exc: EngineDeadError) -> JSONResponse:
        return _error(503, str(exc), "engine_error")

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        return _error(exc.status_code, str(exc.detail), code=code)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("request failed inside the engine server", exc_info=exc)
        return _error(500, "The engine failed to serve this request; see its log.", "server_error")

    @app.get("/healthz")
    async def healthz() -> Any:
        if engine.failure is not None:  # a load balancer must stop sending work here
            return JSONResponse({"status": "failed", "error": repr(engine.failure)}, status_code=503)
        bm = engine.engine.block_manager
        return {
            "status": "ok",
            "model": engine.model_name,
            "running_requests": engine.num_requests(),
            "kv_blocks_free": bm.num_free_blocks,
            "kv_blocks_total": bm.num_blocks,
            "prefix_cache_hit_tokens": bm.hits,
            "prompt_tokens_seen": bm.queries,
            **engine.engine.stats,
        }

    def model_card() -> dict[str, Any]:
        return {"id": engine.model_name, "object": "model", "created": 0, "owned_by": "tokenmill"}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [model_card()]}

    @app.get("/v1/models/{model_id:path}")
    async def model(model_id: str) -> Any:
        if model_id != engine.model_name:
            return _error(404, f"The model `{model_id}` does not exist; this engine serves `{engine.model_name}`.", code="model_not_found")
        return model_card()

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await _body(request)
        prepared = serving.chat_request(body)  # 400s surface before streaming starts
        if openai_protocol.flag(body, "stream"):
            return StreamingResponse(serving.chat_stream(prepared), media_type="text/event-stream")
        return await _unless_disconnected(request, serving.chat(prepared))

    @app.post("/v1/completions")
    async def completions(request: Request):
        body = await _body(request)
        prepared = serving.completion_request(body)
        if openai_protocol.flag(body, "stream"):
            return StreamingResponse(serving.completion_stream(prepared), media_type="text/event-stream")
        return await _unless_disconnected(request, serving.completion(prepared))

    @app.post("/v1/embeddings")
    async def embeddings(request: Request):
        return await asyncio.to_thread(openai_serving.embeddings, await _body(request))

    return app


def run_server(model: str | None, device: str, host: str, port: int, *, linear_mode: str | None = "auto") -> None:
    """Serve `model` (HF folder or .gguf; None = bundled SmolLM2) on host:port until interrupted.

    linear_mode "auto": quantized weights for decode on CPU (int4 for a 4-bit GGUF, else int8;
    about 2-3x faster than fp32 there), the default bf16 path on CUDA; None forces exact fp32 on CPU.
    """
    import uvicorn

    from local_engine.loader import cpu_linear_mode

    if linear_mode == "auto":
        linear_mode = cpu_linear_mode(model) if device == "cpu" else None
    engine = AsyncEngine(EngineConfig(model=model, device=device, linear_mode=linear_mode))
    try:
        uvicorn.run(build_app(engine), host=host, port=port, log_level="info")
    finally:
        engine.shutdown()

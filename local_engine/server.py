"""OpenAI-compatible HTTP server for the local engine (`tokenmill engine serve`).

Routes: /v1/chat/completions, /v1/completions (both streaming or not), /v1/embeddings
(the shared embedder), /v1/models, /healthz.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from local_engine import openai_protocol as proto
from local_engine.async_engine import AsyncEngine, EngineDeadError, GenerateRequest
from local_engine.config import EngineConfig
from local_engine.engine import RequestError

log = logging.getLogger(__name__)


def _error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": None}}, status_code=status)


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RequestError(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise RequestError("request body must be a JSON object")
    return body


def _sse(obj: dict[str, Any] | str) -> bytes:
    return f"data: {obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False)}\n\n".encode()


def build_app(engine: AsyncEngine) -> FastAPI:
    app = FastAPI(title="Tokenmill local engine")
    tok = engine.tokenizer

    @app.exception_handler(RequestError)
    async def _bad_request(_: Request, exc: RequestError) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(EngineDeadError)
    async def _dead(_: Request, exc: EngineDeadError) -> JSONResponse:
        return _error(503, str(exc), "engine_error")

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
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

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": engine.model_name, "object": "model", "created": 0, "owned_by": "tokenmill"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await _body(request)
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            raise RequestError("'messages' must be a non-empty list of message objects")
        messages = proto.flatten_messages(messages)
        tools = body.get("tools")
        if tools is not None and not isinstance(tools, list):
            raise RequestError("'tools' must be a list")
        gen = GenerateRequest(
            params=proto.sampling_params(body, chat=True), messages=messages, tools=tools or None, request_id=f"chatcmpl-{uuid.uuid4().hex}"
        )
        gen = engine.prepare(gen)  # template, length and schema errors become a 400 before streaming
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(_chat_stream(gen, include_usage), media_type="text/event-stream")
        result = await engine.complete(gen)
        text, calls = proto.parse_tool_calls(result.text) if tools else (result.text, [])
        message: dict[str, Any] = {"role": "assistant", "content": text or (None if calls else "")}
        if calls:
            message["tool_calls"] = calls
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "tool_calls" if calls else result.finish_reason}
        if result.logprobs is not None:
            choice["logprobs"] = proto.chat_logprobs(tok, result.logprobs)
        out = proto.envelope("chat.completion", gen.request_id, engine.model_name, [choice])
        out["usage"] = proto.usage(result.prompt_tokens, result.completion_tokens, result.cached_tokens)
        return out

    async def _chat_stream(gen: GenerateRequest, include_usage: bool) -> AsyncIterator[bytes]:
        created, model = int(time.time()), engine.model_name

        def chunk(delta: dict[str, Any], finish: str | None = None, logprobs: Any = None) -> dict[str, Any]:
            return proto.envelope(
                "chat.completion.chunk",
                gen.request_id,
                model,
                [{"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}],
                created,
            )

        yield _sse(chunk({"role": "assistant", "content": ""}))
        last = None
        async for out in engine.generate(gen):
            last = out
            lp = proto.chat_logprobs(tok, out.logprobs) if out.logprobs else None
            if out.text or lp:
                yield _sse(chunk({"content": out.text}, None, lp))
        yield _sse(chunk({}, last.finish_reason))
        if include_usage:
            final = proto.envelope("chat.completion.chunk", gen.request_id, model, [], created)
            final["usage"] = proto.usage(last.prompt_tokens, last.completion_tokens, last.cached_tokens)
            yield _sse(final)
        yield _sse("[DONE]")

    @app.post("/v1/completions")
    async def completions(request: Request):
        body = await _body(request)
        prompt = body.get("prompt")
        if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], (str, list)):
            prompt = prompt[0]
        gen = GenerateRequest(params=proto.sampling_params(body, chat=False), request_id=f"cmpl-{uuid.uuid4().hex}")
        if isinstance(prompt, str):
            gen.prompt = prompt
        elif isinstance(prompt, list) and prompt and all(isinstance(t, int) and not isinstance(t, bool) for t in prompt):
            gen.prompt_token_ids = prompt
        else:
            raise RequestError("'prompt' must be a string or a list of token ids (one prompt per request)")
        if body.get("echo"):
            raise RequestError("'echo' is not supported")
        gen = engine.prepare(gen)
        if body.get("stream"):
            return StreamingResponse(_completion_stream(gen), media_type="text/event-stream")
        result = await engine.complete(gen)
        choice = {"index": 0, "text": result.text, "finish_reason": result.finish_reason, "logprobs": None}
        if result.logprobs is not None:
            choice["logprobs"] = proto.completion_logprobs(tok, result.logprobs)
        out = proto.envelope("text_completion", gen.request_id, engine.model_name, [choice])
        out["usage"] = proto.usage(result.prompt_tokens, result.completion_tokens, result.cached_tokens)
        return out

    async def _completion_stream(gen: GenerateRequest) -> AsyncIterator[bytes]:
        created, model = int(time.time()), engine.model_name
        async for out in engine.generate(gen):
            if out.text or out.finished:
                lp = proto.completion_logprobs(tok, out.logprobs) if out.logprobs else None
                choice = {"index": 0, "text": out.text, "finish_reason": out.finish_reason, "logprobs": lp}
                yield _sse(proto.envelope("text_completion", gen.request_id, model, [choice], created))
        yield _sse("[DONE]")

    @app.post("/v1/embeddings")
    async def embeddings(request: Request):
        body = await _body(request)
        texts = body.get("input")
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            raise RequestError("'input' must be a string or a non-empty list of strings")
        try:
            from local_engine.embedder import KINDS, get_embedder
        except ImportError as exc:
            return _error(501, f"embeddings are not available in this build: {exc}", "not_implemented")
        kind = body.get("model") or "static"
        if kind not in KINDS:
            raise RequestError(f"embedding model {kind!r} is not served here (choose one of {', '.join(KINDS)})")
        embedder = get_embedder(kind)
        vectors = embedder.embed(texts)
        data = [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)]
        return {"object": "list", "data": data, "model": embedder.name, "usage": {"prompt_tokens": 0, "total_tokens": 0}}

    return app


def run_server(model: str | None, device: str, host: str, port: int, *, linear_mode: str | None = "auto") -> None:
    """Serve `model` (HF folder or .gguf; None = bundled SmolLM2) on host:port until interrupted.

    linear_mode "auto": int8 weights for decode on CPU (about 1.5-2x faster than fp32 there),
    the default bf16 path on CUDA; None forces exact fp32 on CPU.
    """
    import uvicorn

    if linear_mode == "auto":
        linear_mode = "int8" if device == "cpu" else None
    engine = AsyncEngine(EngineConfig(model=model, device=device, linear_mode=linear_mode))
    try:
        uvicorn.run(build_app(engine), host=host, port=port, log_level="info")
    finally:
        engine.shutdown()

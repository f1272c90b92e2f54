"""One call through the gateway: validate, resolve the model, dispatch, account, answer.

The order follows docs/architecture.md. Every request that got past authentication leaves
exactly one usage row, whatever happens to it (bad input, upstream failure, client gone).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from billing.money import format_usd
from billing.tokens import count_chat_tokens, count_text_tokens
from billing.usage import TokenUsage
from gateway import metrics
from gateway.auth import Principal
from gateway.body import read_json, validate
from gateway.context import RequestContext
from gateway.errors import APIError, invalid_request
from gateway.providers.base import Endpoint, UpstreamError
from gateway.providers.dispatcher import Attempts
from gateway.schemas import ChatCompletionRequest, CompletionRequest, EmbeddingRequest
from gateway.services import Services
from gateway.settings import Deployment
from gateway.streaming import DONE_EVENT, StreamAccount, sse_comment, sse_event

log = logging.getLogger(__name__)

SCHEMAS: dict[str, type[BaseModel]] = {
    "chat": ChatCompletionRequest,
    "completions": CompletionRequest,
    "embeddings": EmbeddingRequest,
}
MODES = {"chat": "chat", "completions": "chat", "embeddings": "embedding"}
RUN_HEADER = "x-tokenmill-run"


@dataclass
class Outcome:
    """What `serve` produced: a whole JSON body, or a stream of SSE bytes."""

    body: bytes | None = None
    stream: AsyncIterator[bytes] | None = None


@dataclass
class CallResult:
    """A programmatic call's answer: the OpenAI-shaped body (or error envelope) and its context."""

    ctx: RequestContext
    status_code: int
    body: dict[str, Any]


class Pipeline:
    def __init__(self, services: Services):
        self.s = services

    async def handle(self, request: Request, principal: Principal, endpoint: Endpoint) -> Response:
        """The HTTP adapter: body in, Response out. Everything else is in `serve`."""
        ctx = RequestContext(principal=principal, endpoint=endpoint)
        try:
            body = await read_json(request, self.s.settings.max_body_bytes)
            ctx.run_id = _run_id(request.headers.get(RUN_HEADER), body)
            outcome = await self.serve(ctx, body)
        except UpstreamError as exc:
            return self._fail(ctx, APIError(exc.status, exc.message, type=exc.type, code=exc.code), upstream_body=exc.body)
        except APIError as exc:
            return self._fail(ctx, exc)
        if outcome.stream is not None:
            return StreamingResponse(outcome.stream, media_type="text/event-stream", headers=ctx.headers(streaming=True))
        return Response(outcome.body, media_type="application/json", headers=ctx.headers())

    async def call(self, principal: Principal, endpoint: Endpoint, body: dict, *, run_id: str | None = None, request_id: str | None = None) -> CallResult:
        """The same pipeline without HTTP, for batch jobs: never streams, never raises for a
        failed call (the error envelope comes back as the body), always leaves one usage row."""
        ctx = RequestContext(principal=principal, endpoint=endpoint)
        if request_id:
            ctx.request_id = request_id
        ctx.run_id = run_id or _run_id(None, body)
        try:
            outcome = await self.serve(ctx, {**body, "stream": False})
        except UpstreamError as exc:
            self._fail(ctx, APIError(exc.status, exc.message, type=exc.type, code=exc.code))
            body_out = orjson.loads(exc.body) if exc.body and exc.status < 500 else APIError(exc.status, exc.message, type=exc.type, code=exc.code).body()
            return CallResult(ctx=ctx, status_code=exc.status, body=body_out)
        except APIError as exc:
            self._fail(ctx, exc)
            return CallResult(ctx=ctx, status_code=exc.status, body=exc.body())
        return CallResult(ctx=ctx, status_code=200, body=orjson.loads(outcome.body))

    async def serve(self, ctx: RequestContext, body: dict) -> Outcome:
        """Validate, resolve, admit, dispatch, account. Raises APIError/UpstreamError before any
        answer exists; after that, failures are accounted inside (streams end with an error event)."""
        endpoint = ctx.endpoint
        parsed = validate(SCHEMAS[endpoint], body)
        ctx.model_requested = body["model"]
        ctx.stream = bool(body.get("stream"))
        candidates = self._candidates(ctx, endpoint)
        ctx.ticket = await self.s.admission.admit(ctx, candidates, self.s.prices, body)
        candidates = ctx.ticket.candidates
        if ctx.stream:
            return await self._stream(ctx, endpoint, body, candidates)
        return await self._send(ctx, endpoint, body, parsed, candidates)

    # -- steps -------------------------------------------------------------------------

    def _candidates(self, ctx: RequestContext, endpoint: Endpoint) -> list[Deployment]:
        model = ctx.model_requested
        group = self.s.registry.group(model)  # 404 for unknown names
        ctx.principal.check_model(model)  # 403 when the key may not use it
        if group[0].model_info.mode != MODES[endpoint]:
            raise invalid_request(f"The model `{model}` does not serve the {endpoint} endpoint.", param="model", code="wrong_endpoint")
        return self.s.registry.candidates(model)

    async def _send(self, ctx: RequestContext, endpoint: Endpoint, body: dict, parsed: BaseModel, candidates: list[Deployment]) -> Outcome:
        attempts = Attempts()
        reply, deployment = await self.s.dispatcher.send(candidates, endpoint, _upstream_body(body), attempts)
        ctx.deployment = deployment
        usage = reply.usage or _count_usage(endpoint, body, reply.body, deployment)
        self._bill(ctx, usage)
        self._finish(ctx)
        return Outcome(body=reply.body)

    async def _stream(self, ctx: RequestContext, endpoint: Endpoint, body: dict, candidates: list[Deployment]) -> Outcome:
        if endpoint == "embeddings":
            raise invalid_request("The embeddings endpoint does not stream.", param="stream")
        options = body.get("stream_options") or {}
        upstream_body = _upstream_body(body)
        upstream_body["stream_options"] = {**options, "include_usage": True}
        stream, deployment = await self.s.dispatcher.open_stream(candidates, endpoint, upstream_body, Attempts())
        ctx.deployment = deployment
        account = StreamAccount(client_wants_usage=bool(options.get("include_usage")), count_model=deployment.litellm_params.upstream_model)

        async def events() -> AsyncIterator[bytes]:
            settled = ended = False
            try:
                async for piece in stream:
                    out = account.feed(piece)
                    if not out:
                        continue
                    if account.first_token_at is not None and ctx.first_token_at is None:
                        ctx.first_token_at = account.first_token_at
                    if account.saw_done and out.endswith(DONE_EVENT):
                        self._settle_stream(ctx, account, body)
                        settled = True
                        out = out[: -len(DONE_EVENT)] + sse_comment(f"x-tokenmill-cost-usd {format_usd(ctx.cost_nanos)}") + DONE_EVENT
                    yield out
                ended = True
            except UpstreamError as exc:
                ctx.status_code, ctx.error_type = exc.status, exc.code or exc.type
                yield sse_event(APIError(exc.status, exc.message, type=exc.type, code=exc.code).body())
            finally:
                stream.close()
                if not settled:
                    if ctx.error_type is None and not ended:
                        # Cancelled mid-stream: the client went away. Bill what was generated.
                        ctx.status_code, ctx.error_type = 499, "client_disconnected"
                    elif ctx.error_type is None and not account.saw_done:
                        ctx.error_type = "upstream_incomplete"
                    self._settle_stream(ctx, account, body)

        return Outcome(stream=events())

    def _settle_stream(self, ctx: RequestContext, account: StreamAccount, body: dict) -> None:
        prompt_estimate = 0
        if account.usage is None:
            prompt_estimate = _prompt_tokens(ctx.endpoint, body, account.count_model)
        self._bill(ctx, account.final_usage(prompt_estimate))
        self._finish(ctx)

    # -- accounting --------------------------------------------------------------------

    def _bill(self, ctx: RequestContext, usage: TokenUsage) -> None:
        ctx.usage = usage
        price = self.s.price(ctx.deployment) if ctx.deployment else None
        ctx.cost_nanos = price.cost_nanos(usage, ctx.principal.markup) if price else 0

    def _fail(self, ctx: RequestContext, error: APIError, upstream_body: bytes | None = None) -> Response:
        ctx.status_code = error.status
        ctx.error_type = error.code or error.type
        self._finish(ctx)
        if upstream_body is not None and error.status < 500:
            return Response(upstream_body, status_code=error.status, media_type="application/json", headers=ctx.headers())
        return error.response(ctx.headers())

    def _finish(self, ctx: RequestContext) -> None:
        if ctx.ticket is not None:
            # Before the usage row: counters rebuilt from the ledger rely on that order.
            self.s.admission.settle(ctx.ticket, ctx.cost_nanos, ctx.usage)
        self.s.recorder.record(ctx.usage_row())
        elapsed = time.perf_counter() - ctx.started
        metrics.REQUESTS.labels(endpoint=ctx.endpoint, status=str(ctx.status_code)).inc()
        metrics.LATENCY.labels(endpoint=ctx.endpoint).observe(elapsed)
        if ctx.first_token_at is not None:
            metrics.TTFT.observe(ctx.first_token_at - ctx.started)
        if ctx.deployment is not None and ctx.usage.total_tokens:
            tenant = ctx.principal.tenant_name or ""
            model = ctx.deployment.model_name
            metrics.TOKENS.labels(tenant=tenant, model=model, kind="prompt").inc(ctx.usage.prompt_tokens)
            metrics.TOKENS.labels(tenant=tenant, model=model, kind="completion").inc(ctx.usage.completion_tokens)
            metrics.COST.labels(tenant=tenant, model=model).inc(ctx.cost_nanos / 1e9)


def _run_id(header: str | None, body: dict) -> str | None:
    run = header
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and "run_id" in metadata:
        run = run or str(metadata["run_id"])
    return run[:128] if run else None


def _upstream_body(body: dict) -> dict:
    """The client's body minus what only Tokenmill reads (the run id in metadata)."""
    out = dict(body)
    metadata = out.get("metadata")
    if isinstance(metadata, dict) and "run_id" in metadata:
        rest = {k: v for k, v in metadata.items() if k != "run_id"}
        if rest:
            out["metadata"] = rest
        else:
            del out["metadata"]
    return out


def _prompt_tokens(endpoint: str, body: dict, model: str) -> int:
    if endpoint == "chat":
        return count_chat_tokens(body.get("messages") or [], model, body.get("tools"))
    value: Any = body.get("prompt") if endpoint == "completions" else body.get("input")
    if isinstance(value, str):
        return count_text_tokens(value, model)
    if isinstance(value, list) and value and isinstance(value[0], str):
        return sum(count_text_tokens(v, model) for v in value)
    if isinstance(value, list) and value and isinstance(value[0], list):
        return sum(len(v) for v in value)
    return len(value) if isinstance(value, list) else 0


def _count_usage(endpoint: str, body: dict, reply: bytes, deployment: Deployment) -> TokenUsage:
    """For upstreams that return no usage: count both sides with tiktoken."""
    model = deployment.litellm_params.upstream_model
    prompt = _prompt_tokens(endpoint, body, model)
    if endpoint == "embeddings":
        return TokenUsage(prompt_tokens=prompt)
    try:
        choices = orjson.loads(reply).get("choices") or []
    except (orjson.JSONDecodeError, AttributeError):
        choices = []
    texts: list[str] = []
    for choice in choices:
        message = choice.get("message") or {}
        texts.append(message.get("content") or choice.get("text") or "")
        for call in message.get("tool_calls") or ():
            texts.append((call.get("function") or {}).get("arguments") or "")
    return TokenUsage(prompt_tokens=prompt, completion_tokens=count_text_tokens("".join(texts), model))

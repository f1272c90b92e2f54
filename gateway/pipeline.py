"""One call through the gateway: validate, resolve the model, dispatch, account, answer.

The order follows docs/architecture.md. Every request that got past authentication leaves
exactly one usage row, whatever happens to it (bad input, upstream failure, client gone).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson
from pydantic import BaseModel
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from billing.budgets.definitions import clean_run_id
from billing.budgets.ticket import Ticket
from billing.tokens import count_request_tokens, count_text_tokens
from billing.usage import TokenUsage
from cache import CACHE_HEADER, CacheLookup, add_anthropic_cache_breakpoints, with_prompt_cache_key
from gateway import metrics
from gateway.answer_checks import mean_logprob, valid_json, valid_tool_call
from gateway.auth import Principal
from gateway.batches.hints import BatchHint
from gateway.body import read_json, validate
from gateway.context import CASCADE_ATTEMPT_SUFFIX, RequestContext
from gateway.errors import APIError, internal_error, invalid_request
from gateway.providers.base import Endpoint, UpstreamError, retry_after_seconds
from gateway.providers.dispatcher import Attempts
from gateway.route_service import RoutePlan, cheaper_candidates
from gateway.schemas import ChatCompletionRequest, CompletionRequest, EmbeddingRequest
from gateway.services import Services
from gateway.settings import Deployment
from gateway.streaming import DONE_EVENT, AccountedStream, StreamAccount, cost_comment, sse_event
from routing import CascadeBar, cascade_verdict

log = logging.getLogger(__name__)

SCHEMAS: dict[str, type[BaseModel]] = {
    "chat": ChatCompletionRequest,
    "completions": CompletionRequest,
    "embeddings": EmbeddingRequest,
}
MODES = {"chat": "chat", "completions": "chat", "embeddings": "embedding"}
RUN_HEADER = "x-tokenmill-run"
# Clouds that serve Anthropic's models with its prompt caching (litellm passes cache_control on).
CLAUDE_HOSTS = ("bedrock", "bedrock_converse", "vertex_ai")


@dataclass
class Outcome:
    """What `serve` produced: a whole JSON body, or a stream of SSE bytes."""

    body: bytes | None = None
    stream: AsyncIterator[bytes] | None = None
    abandon: Callable[[], None] | None = None  # a stream's bookkeeping if its body never starts


@dataclass
class CallResult:
    """A programmatic call's answer: the OpenAI-shaped body (or error envelope) and its context."""

    ctx: RequestContext
    status_code: int
    body: dict[str, Any]
    retry_after: float | None = None  # seconds, when a refusal said when to come back (Retry-After)


class Pipeline:
    def __init__(self, services: Services):
        self.s = services

    async def handle(self, request: Request, principal: Principal, endpoint: Endpoint) -> Response:
        """The HTTP adapter: body in, Response out. Everything else is in `serve`."""
        ctx = RequestContext(principal=principal, endpoint=endpoint)
        try:
            body = await read_json(request, self.s.settings.max_body_bytes)
            ctx.run_id = _run_id(request.headers.get(RUN_HEADER), body)
            ctx.cache_header = request.headers.get(CACHE_HEADER)
            if not body.get("stream"):  # a stream notices a client that leaves by itself
                ctx.client_gone = partial(_disconnected, request)
            outcome = await self.serve(ctx, body)
        except UpstreamError as exc:
            return self._fail(ctx, _api_error(exc), upstream_body=exc.body)
        except APIError as exc:
            return self._fail(ctx, exc)
        except Exception:
            # A fault nothing above foresaw: the caller still gets the envelope, the ledger its
            # row and the budgets their reservation back.
            log.exception("request %s failed inside the gateway", ctx.request_id)
            return self._fail(ctx, internal_error())
        if outcome.stream is not None:
            return AccountedStream(outcome.stream, outcome.abandon, headers=ctx.headers(streaming=True))
        return Response(outcome.body, media_type="application/json", headers=ctx.headers())

    async def call(
        self, principal: Principal, endpoint: Endpoint, body: dict, *, run_id: str | None = None, request_id: str | None = None, batch: BatchHint | None = None
    ) -> CallResult:
        """The same pipeline without HTTP, for batch jobs: never streams, never raises for a
        failed call (the error envelope comes back as the body), always leaves one usage row."""
        ctx = RequestContext(principal=principal, endpoint=endpoint)
        if batch is not None:
            ctx.scratch["batch"] = batch
        if request_id:
            ctx.request_id = request_id
        ctx.run_id = run_id or _run_id(None, body)
        try:
            outcome = await self.serve(ctx, {**body, "stream": False})
        except UpstreamError as exc:
            error = _api_error(exc)
            self._fail(ctx, error)
            body_out = orjson.loads(exc.body) if exc.body and exc.status < 500 else error.body()
            return CallResult(ctx=ctx, status_code=exc.status, body=body_out, retry_after=_retry_after(error))
        except APIError as exc:
            self._fail(ctx, exc)
            return CallResult(ctx=ctx, status_code=exc.status, body=exc.body(), retry_after=_retry_after(exc))
        except Exception:
            log.exception("request %s failed inside the gateway", ctx.request_id)
            error = internal_error()
            self._fail(ctx, error)
            return CallResult(ctx=ctx, status_code=error.status, body=error.body())
        return CallResult(ctx=ctx, status_code=200, body=orjson.loads(outcome.body))

    async def serve(self, ctx: RequestContext, body: dict) -> Outcome:
        """Validate, resolve, look up the cache, route, admit, dispatch, account. Raises
        APIError/UpstreamError before any answer exists; after that, failures are accounted
        inside (a stream ends with an error event)."""
        endpoint = ctx.endpoint
        validate(SCHEMAS[endpoint], body)  # 400 naming the parameter; the dict itself goes upstream
        ctx.model_requested = body["model"]
        ctx.stream = bool(body.get("stream"))
        if ctx.stream and endpoint == "embeddings":
            raise invalid_request("The embeddings endpoint does not stream.", param="stream")
        plan = self.s.routes.plan_for(ctx.principal, ctx.model_requested) if self.s.routes else None
        candidates = self._route_deployments(ctx, plan) if plan else self._candidates(ctx, endpoint)

        lookup = None
        if self.s.cache is not None and endpoint == "chat":
            lookup = await self.s.cache.lookup(ctx.principal, body, ctx.cache_header, ctx.scratch)
            ctx.cache_status = lookup.status.value
            if lookup.hit:
                return self._serve_cached(ctx, lookup, body)

        if plan is not None:
            remaining = await self.s.admission.remaining_fraction(ctx.principal, ctx.run_id, ctx.model_requested)
            candidates = self.s.routes.decide(ctx, plan, body, remaining)
            if plan.settings.cascade and not ctx.stream and endpoint == "chat":
                kept = await self._cascade_local_first(ctx, plan, body, candidates)
                if kept is not None:
                    return kept
                candidates = [d for d in candidates if d.tier != "local"] or candidates
        ctx.ticket = await self._admit(ctx, candidates, body, routed=plan is not None)
        candidates = ctx.ticket.candidates
        if ctx.stream:
            return await self._stream(ctx, endpoint, body, candidates, lookup)
        return await self._send(ctx, endpoint, body, candidates, lookup)

    # -- steps -------------------------------------------------------------------------

    async def _admit(self, ctx: RequestContext, candidates: list[Deployment], body: dict, routed: bool) -> Ticket:
        """Reserve for the dearest candidate. A routed call that its budget cannot cover is served
        cheaper rather than refused: first without its dearer fallbacks, then on the candidates
        cheaper than the router's choice (the route reason says so)."""
        try:
            return await self.s.admission.admit(ctx, candidates, self.s.prices, body)
        except APIError as refused:
            if not routed or refused.code != "insufficient_quota":
                raise
            for narrowed, why in cheaper_candidates(candidates, self.s.prices):
                try:
                    ticket = await self.s.admission.admit(ctx, narrowed, self.s.prices, body)
                except APIError as again:
                    if again.code != "insufficient_quota":
                        raise
                    continue
                ctx.route_reason += why
                return ticket
            raise

    def _candidates(self, ctx: RequestContext, endpoint: Endpoint) -> list[Deployment]:
        model = ctx.model_requested
        group = self.s.registry.group(model)  # 404 for unknown names
        ctx.principal.check_model(model)  # 403 when the key may not use it
        if group[0].model_info.mode != MODES[endpoint]:
            raise invalid_request(f"The model `{model}` does not serve the {endpoint} endpoint.", param="model", code="wrong_endpoint")
        candidates = self.s.registry.candidates(model)
        if self.s.routes is not None and len(group) > 1:
            # Several deployments share the name: an agent run keeps going to the one that
            # holds its prompt prefix (a local engine's KV prefix cache, a provider's prompt cache).
            candidates = self.s.routes.warm_first(ctx, candidates)
        return candidates

    def _route_deployments(self, ctx: RequestContext, plan: RoutePlan) -> list[Deployment]:
        ctx.principal.check_model(plan.name)
        return plan.deployments

    def _serve_cached(self, ctx: RequestContext, lookup: CacheLookup, body: dict) -> Outcome:
        reply = self.s.cache.reply(lookup, body, ctx.request_id)
        ctx.deployment = self.s.registry.by_id(reply.deployment_id)
        ctx.route_reason = f"cache:{lookup.status.value}"
        ctx.saved_nanos = reply.saved_nanos
        ctx.first_token_at = time.perf_counter()
        self._finish(ctx)
        if reply.stream is not None:
            return Outcome(stream=_once(reply.stream))
        return Outcome(body=reply.body)

    def _prepare(self, ctx: RequestContext) -> Callable[[Deployment, dict], dict]:
        """Per-deployment touches on the upstream body: provider prompt-cache hints."""
        if not self.s.settings.cache.prompt_cache_hints or ctx.endpoint != "chat":
            return _unchanged

        def prepare(deployment: Deployment, body: dict) -> dict:
            model = deployment.litellm_params.upstream_model
            if deployment.provider == "anthropic" or (deployment.provider in CLAUDE_HOSTS and "claude" in model.lower()):
                return add_anthropic_cache_breakpoints(body, model).request
            if deployment.takes_prompt_cache_key and ctx.principal.tenant_id and (ctx.run_id or _long_prompt(body)):
                return with_prompt_cache_key(body, ctx.principal.tenant_id, ctx.run_id)
            return body

        return prepare

    async def _send(
        self, ctx: RequestContext, endpoint: Endpoint, body: dict, candidates: list[Deployment], lookup: CacheLookup | None
    ) -> Outcome:
        reply, deployment = await self.s.dispatcher.send(
            candidates, endpoint, _upstream_body(body), ctx.attempts, prepare=self._prepare(ctx), client_gone=ctx.client_gone
        )
        ctx.served_by(deployment)
        usage = reply.usage or _count_usage(endpoint, body, reply.body, deployment)
        self._bill(ctx, usage)
        self._finish(ctx)
        if lookup is not None:
            self.s.cache.store_later(lookup, reply.body, ctx.cost_nanos, deployment.id, _bounded(ctx))
        if self.s.routes is not None:
            self.s.routes.after_call(ctx, deployment)
        return Outcome(body=reply.body)

    async def _cascade_local_first(self, ctx: RequestContext, plan: RoutePlan, body: dict, candidates: list[Deployment]) -> Outcome | None:
        """Try the local tier first; keep its answer when it is confident and well-formed.

        An escalated local attempt is billed and recorded as its own usage row (request id +
        '.local'); a kept one is the request's row. Returns None to escalate along the route."""
        local = [d for d in candidates if d.tier == "local"]
        if ctx.tools_offered:
            local = [d for d in local if d.model_info.supports_tools]  # one that cannot call tools would only answer in text
        if not local or candidates[0].tier == "strong" or not ctx.local_first_allowed:
            return None
        attempt = RequestContext(principal=ctx.principal, endpoint=ctx.endpoint, request_id=ctx.request_id + CASCADE_ATTEMPT_SUFFIX, run_id=ctx.run_id)
        attempt.model_requested, attempt.route_score, attempt.route_threshold = ctx.model_requested, ctx.route_score, ctx.route_threshold
        probe = {**body, "logprobs": True}
        tried = Attempts()
        try:
            attempt.ticket = await self.s.admission.admit(attempt, local, self.s.prices, probe)
            reply, deployment = await self.s.dispatcher.send(attempt.ticket.candidates, "chat", _upstream_body(probe), tried)
        except (APIError, UpstreamError) as exc:
            attempt.status_code, attempt.error_type = getattr(exc, "status", 502), getattr(exc, "code", None) or "cascade_failed"
            attempt.route_reason = "cascade:local-failed"
            if tried.tried:
                attempt.deployment = self.s.registry.by_id(tried.tried[-1])
            self._finish(attempt)
            ctx.route_reason += ";cascade:local-failed"
            return None
        attempt.deployment = deployment
        self._bill(attempt, reply.usage or _count_usage("chat", body, reply.body, deployment))
        answer = orjson.loads(reply.body)
        verdict = cascade_verdict(
            mean_logprob(answer), CascadeBar(plan.settings.cascade_min_logprob),
            valid_json=valid_json(answer, body), valid_tool_call=valid_tool_call(answer, body),
        )
        if verdict.escalate:
            attempt.route_reason = verdict.reason
            self._finish(attempt)
            if verdict.reason == "cascade:invalid-json":
                self.s.routes.note_json_failure(ctx, body)
            ctx.route_reason += f";{verdict.reason}"
            return None
        # Kept: the local attempt is this request's answer and its one usage row.
        if not body.get("logprobs"):
            for choice in answer.get("choices") or ():
                choice["logprobs"] = None
        ctx.deployment, ctx.ticket, ctx.usage, ctx.cost_nanos = deployment, attempt.ticket, attempt.usage, attempt.cost_nanos
        ctx.route_reason = f"{ctx.route_reason};{verdict.reason}"
        self._finish(ctx)
        self.s.routes.after_call(ctx, deployment)
        return Outcome(body=orjson.dumps(answer))

    async def _stream(self, ctx: RequestContext, endpoint: Endpoint, body: dict, candidates: list[Deployment], lookup: CacheLookup | None) -> Outcome:
        options = body.get("stream_options") or {}
        upstream_body = _upstream_body(body)
        upstream_body["stream_options"] = {**options, "include_usage": True}
        stream, deployment = await self.s.dispatcher.open_stream(candidates, endpoint, upstream_body, ctx.attempts, prepare=self._prepare(ctx))
        ctx.served_by(deployment)
        account = StreamAccount(client_wants_usage=bool(options.get("include_usage")), count_model=deployment.litellm_params.upstream_model)

        settled = started = False

        async def events() -> AsyncIterator[bytes]:
            nonlocal settled, started
            started = True
            try:
                async for piece in stream:
                    out = account.feed(piece)
                    if not out:
                        continue
                    if account.first_token_at is not None and ctx.first_token_at is None:
                        ctx.first_token_at = account.first_token_at
                    if account.saw_done and out.endswith(DONE_EVENT):
                        if account.upstream_error is not None:
                            ctx.status_code, ctx.error_type = 502, "upstream_error"
                        self._settle_stream(ctx, account, body)
                        settled = True
                        self._after_stream(ctx, account, lookup, deployment)
                        out = out[: -len(DONE_EVENT)] + cost_comment(ctx.cost_nanos) + DONE_EVENT
                    yield out
                if account.upstream_error is not None:
                    ctx.status_code, ctx.error_type = 502, "upstream_error"  # the client saw its error event
                elif not account.saw_done:
                    # The client must learn that the answer is cut short, not take it as whole.
                    ctx.status_code, ctx.error_type = 502, "upstream_incomplete"
                    yield sse_event(APIError(502, f"upstream {deployment.id} ended the stream before it was complete", type="upstream_error", code="upstream_incomplete").body())
            except UpstreamError as exc:
                ctx.status_code, ctx.error_type = exc.status, exc.code or exc.type
                yield sse_event(_api_error(exc).body())
            except Exception:
                log.exception("stream %s failed inside the gateway", ctx.request_id)
                error = internal_error()
                ctx.status_code, ctx.error_type = error.status, error.code
                yield sse_event(error.body())
            finally:
                stream.close()
                if not settled:
                    if ctx.error_type is None:
                        # Cancelled mid-stream: the client went away. Bill what was generated.
                        ctx.status_code, ctx.error_type = 499, "client_disconnected"
                    self._settle_stream(ctx, account, body)

        def abandon() -> None:
            if not started:  # the client left before the first byte: nothing reached it
                stream.close()
                ctx.status_code, ctx.error_type = 499, "client_disconnected"
                self._settle_stream(ctx, account, body)

        return Outcome(stream=events(), abandon=abandon)

    def _after_stream(self, ctx: RequestContext, account: StreamAccount, lookup: CacheLookup | None, deployment: Deployment) -> None:
        if self.s.routes is not None:
            self.s.routes.after_call(ctx, deployment)
        if lookup is not None and ctx.error_type is None:
            whole = account.as_completion(ctx.request_id, deployment.litellm_params.upstream_model)
            if whole is not None:
                self.s.cache.store_later(lookup, whole, ctx.cost_nanos, deployment.id, _bounded(ctx))

    def _settle_stream(self, ctx: RequestContext, account: StreamAccount, body: dict) -> None:
        prompt_estimate = 0
        if account.usage is None:
            prompt_estimate = count_request_tokens(ctx.endpoint, body, account.count_model)
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
        if ctx.deployment is None and ctx.attempts.tried:
            ctx.deployment = self.s.registry.by_id(ctx.attempts.tried[-1])
        self._finish(ctx)
        if upstream_body is not None and error.status < 500:
            return Response(upstream_body, status_code=error.status, media_type="application/json", headers=ctx.headers())
        return error.response(ctx.headers())

    def _finish(self, ctx: RequestContext) -> None:
        if ctx.ticket is not None:
            # Before the usage row: counters rebuilt from the ledger rely on that order.
            self.s.admission.settle(ctx.ticket, ctx.cost_nanos, ctx.usage)
        self.s.recorder.record(ctx.usage_row())
        metrics.REQUEST.observe(ctx.endpoint, ctx.status_code, time.perf_counter() - ctx.started)
        if ctx.first_token_at is not None:
            metrics.TTFT.observe(ctx.first_token_at - ctx.started)
        if ctx.deployment is not None and ctx.usage.total_tokens:
            metrics.TENANT_MODEL.add(
                ctx.principal.tenant_name or "", ctx.deployment.model_name, ctx.usage.prompt_tokens, ctx.usage.completion_tokens, ctx.cost_nanos / 1e9
            )


def _api_error(exc: UpstreamError) -> APIError:
    return APIError(exc.status, exc.message, type=exc.type, code=exc.code, headers=exc.api_error_headers())


def _retry_after(error: APIError) -> float | None:
    return retry_after_seconds(Headers(headers=error.headers))  # case-insensitive: ours say Retry-After, upstreams' retry-after


def _run_id(header: str | None, body: dict) -> str | None:
    run = header
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and "run_id" in metadata:
        run = run or str(metadata["run_id"])
    return clean_run_id(run)


async def _disconnected(request: Request) -> None:
    """Returns when the client disconnects (after its body was read, the next ASGI message is that)."""
    while True:
        if (await request.receive())["type"] == "http.disconnect":
            return


def _bounded(ctx: RequestContext) -> bool:
    return ctx.ticket is not None and ctx.ticket.output_bound_set


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


def _count_usage(endpoint: str, body: dict, reply: bytes, deployment: Deployment) -> TokenUsage:
    """For upstreams that return no usage: count both sides with tiktoken."""
    model = deployment.litellm_params.upstream_model
    prompt = count_request_tokens(endpoint, body, model)
    if endpoint == "embeddings":
        return TokenUsage(prompt_tokens=prompt)
    try:
        choices = orjson.loads(reply).get("choices") or []
    except (orjson.JSONDecodeError, AttributeError):
        choices = []
    texts: list[str] = []
    # Choices and messages are objects (the providers refuse other replies); what they hold may be odd.
    for choice in choices:
        message = choice.get("message") or {}
        texts.append(_text(message.get("content")) or _text(choice.get("text")))
        for call in message.get("tool_calls") or ():
            texts.append(_text(_field(call.get("function"), "arguments")) or _text(_field(call.get("custom"), "input")))
    return TokenUsage(prompt_tokens=prompt, completion_tokens=count_text_tokens("".join(texts), model))


def _field(part: object, name: str) -> object:
    return part.get(name) if isinstance(part, dict) else None


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


# OpenAI caches prompts from 1,024 tokens on; a key on a shorter one would only cost a hash.
_CACHEABLE_PROMPT_CHARS = 3000


def _long_prompt(body: dict) -> bool:
    chars = 0
    for message in body.get("messages") or ():
        content = message.get("content")
        chars += len(content) if isinstance(content, str) else 0
        if chars >= _CACHEABLE_PROMPT_CHARS:
            return True
    return False


def _unchanged(_deployment: Deployment, body: dict) -> dict:
    return body


async def _once(payload: bytes) -> AsyncIterator[bytes]:
    yield payload

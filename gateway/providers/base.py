"""What every provider returns: a whole reply, or a stream of OpenAI-shaped SSE bytes."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from billing.usage import TokenUsage
from gateway.settings import Deployment

Endpoint = Literal["chat", "completions", "embeddings"]
ENDPOINT_PATHS: dict[str, str] = {"chat": "/chat/completions", "completions": "/completions", "embeddings": "/embeddings"}


class UpstreamError(Exception):
    """An upstream call failed. `retryable` errors may be retried or sent to a fallback;
    `try_next` ones are the deployment's own fault (its credentials, its model name), so another
    deployment may answer though this one will not."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "upstream_error",
        code: str | None = None,
        retryable: bool = False,
        try_next: bool = False,
        retry_after: float | None = None,
        body: bytes | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.retryable = retryable
        self.try_next = try_next or retryable
        self.retry_after = retry_after
        self.body = body  # the upstream's own OpenAI error envelope, passed through for client errors

    def api_error_headers(self) -> dict[str, str]:
        """Headers for the client's error: when to come back, if the upstream said."""
        if self.retry_after is None:
            return {}
        return {"retry-after": str(max(1, math.ceil(self.retry_after)))}


_RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504, 529}


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds from a Retry-After header (None when absent or not a number of seconds)."""
    value = headers.get("retry-after") if headers else None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def error_for_status(
    status: int, message: str, *, retry_after: float | None = None, body: bytes | None = None, error_code: str | None = None
) -> UpstreamError:
    """What an upstream's HTTP error status means for the client and for the dispatcher, for every
    provider: rate limits and server errors are retried; the deployment's own faults (credentials,
    a model or path it does not have) go to the next deployment as 502s; any other 4xx is the
    request's, goes back as is (`body`: the upstream's OpenAI envelope), and only a prompt over
    the context window (`error_code`) may fit another deployment. The upstream's own error code,
    when it gave one, is the ledger's (a remote Tokenmill engine says `context_length_exceeded`
    as the in-process one does)."""
    if status == 429:
        return UpstreamError(429, message, type="rate_limit_error", code="upstream_rate_limited", retryable=True, retry_after=retry_after)
    if status in (401, 403):
        return UpstreamError(502, f"upstream rejected the gateway's credentials: {message}", code="upstream_auth_failed", try_next=True)
    if status == 404:
        return UpstreamError(502, f"upstream has no such model or path (HTTP 404): {message}", code="upstream_not_found", try_next=True)
    if status in _RETRYABLE_STATUS or status >= 500:
        return UpstreamError(502, f"upstream error (HTTP {status}): {message}", code="upstream_error", retryable=True)
    return UpstreamError(status, message, type="invalid_request_error", code=error_code or "upstream_rejected", body=body,
                         try_next=error_code == "context_length_exceeded")


@dataclass
class Reply:
    """A non-streaming answer: the bytes for the client and the usage read from them."""

    body: bytes
    usage: TokenUsage | None


class ReplyStream(Protocol):
    """An open upstream stream: the status was OK; bytes are OpenAI `data:` events."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    def close(self) -> None:
        """Stop the upstream. Synchronous: it runs in the `finally` of a cancelled stream."""


# Awaited, returns once the client of a call has disconnected.
ClientGone = Callable[[], Awaitable[None]]


@dataclass
class Call:
    """One upstream call as the provider sees it."""

    deployment: Deployment
    endpoint: Endpoint
    body: dict  # the OpenAI-shaped request, `model` already set to the upstream model
    stream: bool = False
    extra_headers: dict[str, str] = field(default_factory=dict)
    # Returns once the client of a whole (non-streamed) answer has gone: a provider whose work
    # costs only our own compute (the in-process engine, a remote Tokenmill engine) awaits it and
    # stops; a paid upstream call runs on and is billed, and never starts the wait.
    client_gone: ClientGone | None = None


async def unless_client_gone(work: Awaitable[Any], client_gone: ClientGone | None, engine: str) -> Any:
    """The answer of `work`, or, when the client leaves first, `work` cancelled (its tokens would
    be generated for nobody) and a 499 for the ledger."""
    if client_gone is None:
        return await work
    task = asyncio.ensure_future(work)
    waiter = asyncio.ensure_future(client_gone())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if task.done():
        return task.result()
    task.cancel()  # the engine's stream or connection closes, which aborts the request and frees its KV blocks
    raise UpstreamError(499, f"The client went away before the answer; {engine} stopped.", type="invalid_request_error", code="client_disconnected")


class Provider(Protocol):
    async def send(self, call: Call) -> Reply: ...

    async def open_stream(self, call: Call) -> ReplyStream: ...

    async def aclose(self) -> None: ...

"""What every provider returns: a whole reply, or a stream of OpenAI-shaped SSE bytes."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

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


@dataclass
class Call:
    """One upstream call as the provider sees it."""

    deployment: Deployment
    endpoint: Endpoint
    body: dict  # the OpenAI-shaped request, `model` already set to the upstream model
    stream: bool = False
    extra_headers: dict[str, str] = field(default_factory=dict)


class Provider(Protocol):
    async def send(self, call: Call) -> Reply: ...

    async def open_stream(self, call: Call) -> ReplyStream: ...

    async def aclose(self) -> None: ...

"""Sends a call along its candidate deployments: retries with backoff, then fallbacks."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from gateway import metrics
from gateway.providers.base import Call, ClientGone, Endpoint, Provider, Reply, ReplyStream, UpstreamError
from gateway.settings import Deployment

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_RETRY_AFTER = 30.0
# Per-deployment changes to the upstream body (provider prompt-cache hints); must not mutate its input.
Prepare = Callable[[Deployment, dict], dict]


@dataclass
class Attempts:
    """What happened on the way to an answer, for the usage row and the route header."""

    tried: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Dispatcher:
    def __init__(self, providers: Callable[[Deployment], Provider], backoff_seconds: float = 0.25):
        self._providers = providers
        self._backoff = backoff_seconds

    def _call(
        self, deployment: Deployment, endpoint: Endpoint, body: dict, stream: bool, headers: dict[str, str], prepare: Prepare | None,
        client_gone: ClientGone | None = None,
    ) -> Call:
        upstream_body = prepare(deployment, body) if prepare is not None else dict(body)
        if upstream_body is body:
            upstream_body = dict(body)
        upstream_body["model"] = deployment.litellm_params.upstream_model
        return Call(deployment=deployment, endpoint=endpoint, body=upstream_body, stream=stream, extra_headers=headers, client_gone=client_gone)

    async def _run(
        self,
        candidates: list[Deployment],
        attempts: Attempts,
        attempt: Callable[[Provider, Deployment], Awaitable[T]],
    ) -> tuple[T, Deployment]:
        last: UpstreamError | None = None
        for deployment in candidates:
            provider = self._providers(deployment)
            for n in range(deployment.litellm_params.max_retries + 1):
                attempts.tried.append(deployment.id)
                try:
                    return await attempt(provider, deployment), deployment
                except UpstreamError as exc:
                    last = exc
                    attempts.errors.append(f"{deployment.id}: {exc.code or exc.status}")
                    metrics.UPSTREAM_ERRORS.labels(deployment=deployment.id, code=exc.code or str(exc.status)).inc()
                    if not exc.try_next:
                        raise  # the request itself was refused: every deployment would refuse it
                    if not exc.retryable:
                        break
                    if n < deployment.litellm_params.max_retries:
                        await asyncio.sleep(self._delay(n, exc))
            log.warning("deployment %s failed; trying the next candidate", deployment.id)
        assert last is not None
        raise last

    def _delay(self, attempt: int, exc: UpstreamError) -> float:
        if exc.retry_after is not None:
            return min(exc.retry_after, MAX_RETRY_AFTER)
        return self._backoff * (2**attempt) * (0.5 + random.random())

    async def send(
        self, candidates: list[Deployment], endpoint: Endpoint, body: dict, attempts: Attempts,
        headers: dict[str, str] | None = None, prepare: Prepare | None = None, client_gone: ClientGone | None = None,
    ) -> tuple[Reply, Deployment]:
        return await self._run(candidates, attempts, lambda p, d: p.send(self._call(d, endpoint, body, False, headers or {}, prepare, client_gone)))

    async def open_stream(
        self, candidates: list[Deployment], endpoint: Endpoint, body: dict, attempts: Attempts,
        headers: dict[str, str] | None = None, prepare: Prepare | None = None,
    ) -> tuple[ReplyStream, Deployment]:
        # Retries and fallbacks apply until the stream opens; after its first byte reaches the
        # client a failure can only end the stream.
        return await self._run(
            candidates, attempts, lambda p, d: p.open_stream(self._call(d, endpoint, body, True, headers or {}, prepare))
        )

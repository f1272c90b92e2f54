"""The response caches as the pipeline sees them: built from settings, scoped by tenant and model."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
import redis

from billing.money import nanos_to_usd, usd_to_nanos
from cache import (
    CACHE_HEADER,
    CacheLookup,
    CacheMode,
    CacheRequestError,
    CacheScope,
    CacheStatus,
    KeyCachePolicy,
    MatchParams,
    MemoryExactBackend,
    MemoryExactConfig,
    MemorySemanticConfig,
    MemorySemanticIndex,
    ResponseCache,
    SemanticCache,
    decide,
    replay_sse,
    wants_usage_chunk,
)
from cache.entry import UnreadableEntry
from gateway.auth import Principal
from gateway.errors import invalid_request
from gateway.settings import Settings
from gateway.streaming import cost_comment

log = logging.getLogger(__name__)

# A cache whose store is down (Redis, pgvector) is skipped, never a failed call.
STORE_ERRORS = (redis.RedisError, psycopg.Error, OSError, UnreadableEntry)


@dataclass
class CachedReply:
    lookup: CacheLookup
    body: bytes | None  # a whole JSON reply
    stream: bytes | None  # or the same reply replayed as SSE
    saved_nanos: int
    deployment_id: str


class CacheLayer:
    def __init__(self, cache: ResponseCache):
        self.cache = cache
        self._pending: set[asyncio.Task] = set()

    @classmethod
    def from_settings(cls, settings: Settings) -> CacheLayer:
        cfg = settings.cache
        if settings.redis_url:
            from cache.exact_redis import RedisExactBackend, RedisExactConfig

            exact: Any = RedisExactBackend(RedisExactConfig(url=settings.redis_url, namespace=f"{settings.billing.redis_namespace}cache:", default_ttl_s=cfg.ttl_seconds))
        else:
            exact = MemoryExactBackend(MemoryExactConfig(max_entries=cfg.exact_max_entries, max_bytes=cfg.exact_max_bytes, default_ttl_s=cfg.ttl_seconds))
        semantic = None
        if cfg.semantic:
            # Two vectors per entry: the cheap static one finds candidates; MiniLM verifies the
            # few that survive the lexical checks (see cache/semantic_cache.py).
            params = MatchParams.load(extra_word=cfg.semantic_extra_word)
            if cfg.semantic_backend == "pgvector":
                from cache.semantic_pgvector import PgvectorSemanticConfig, PgvectorSemanticIndex

                index: Any = PgvectorSemanticIndex(
                    PgvectorSemanticConfig(
                        url=cfg.pgvector_url, dim=params.search_dim, verify_dim=params.dim, default_ttl_s=cfg.ttl_seconds,
                        max_entries=cfg.semantic_max_entries,
                    )
                )
            else:
                index = MemorySemanticIndex(
                    MemorySemanticConfig(dim=params.search_dim, verify_dim=params.dim, max_entries=cfg.semantic_max_entries, default_ttl_s=cfg.ttl_seconds)
                )
            semantic = SemanticCache(index, params)
        return cls(ResponseCache(exact, semantic))

    async def lookup(self, principal: Principal, body: dict[str, Any], header: str | None, scratch: dict[str, Any]) -> CacheLookup:
        """Exact, then semantic. The question's static vector is left in `scratch` for routing."""
        policy = KeyCachePolicy(mode=CacheMode(principal.cache_mode), semantic=principal.semantic_cache)
        try:
            decision = decide(body, header, policy)
        except CacheRequestError as exc:
            raise invalid_request(str(exc), param=CACHE_HEADER) from None
        scope = CacheScope(principal.isolation_scope, body["model"])
        try:
            lookup = await self.cache.alookup(body, scope, decision)
        except STORE_ERRORS as exc:
            log.warning("response cache unavailable, answering without it: %r", exc)
            return CacheLookup(CacheStatus.BYPASS, decision, scope)
        question = getattr(lookup.semantic, "question", None)
        if question is not None and lookup.search_embedding is not None:
            scratch["static_embedding"] = (question, lookup.search_embedding)
        return lookup

    def reply(self, lookup: CacheLookup, body: dict[str, Any], request_id: str) -> CachedReply:
        """The cached answer, shaped as a fresh reply to this request (streamed if it asked to be)."""
        answer = lookup.response.reply_body(response_id=request_id)
        saved = usd_to_nanos(lookup.saved_usd)
        if body.get("stream"):
            events = list(replay_sse(answer, include_usage=wants_usage_chunk(body)))
            # As on the live path, the cost (nothing, for a hit) comes as a comment before [DONE].
            events.insert(-1, cost_comment(0))
            return CachedReply(lookup, None, b"".join(events), saved, lookup.response.deployment)
        return CachedReply(lookup, orjson.dumps(answer), None, saved, lookup.response.deployment)

    def store_later(
        self, lookup: CacheLookup, reply_body: bytes | dict[str, Any], cost_nanos: int, deployment_id: str, bounded_by_gateway: bool = False
    ) -> None:
        """Store after a miss without holding the reply back (embedding may take milliseconds).
        `bounded_by_gateway`: a budget lowered or set max tokens, so an answer cut at that bound is
        not the answer to the request as asked (its key) and is not stored."""
        if lookup.status.value != "miss":
            return
        try:
            body = reply_body if isinstance(reply_body, dict) else orjson.loads(reply_body)
        except orjson.JSONDecodeError:
            return
        if bounded_by_gateway and any(isinstance(c, dict) and c.get("finish_reason") == "length" for c in body.get("choices") or ()):
            return
        cost_usd = nanos_to_usd(cost_nanos)
        exact_now = not self.cache.exact.blocking
        if exact_now:
            # In process the exact entry costs microseconds: put it in before the reply goes out,
            # so the same call made right after this one is a hit.
            self.cache.store(lookup, body, cost_usd, deployment_id, 200, semantic=False)
            if self.cache.semantic is None:
                return
        task = asyncio.get_running_loop().create_task(self.cache.astore(lookup, body, cost_usd, deployment_id, 200, exact=not exact_now))
        self._pending.add(task)
        task.add_done_callback(self._stored)

    async def warm(self) -> None:
        """Load the embedders now (MiniLM takes seconds) rather than on the first semantic store."""
        if self.cache.semantic is None:
            return
        from local_engine.embedder import get_embedder

        params = self.cache.semantic.params

        def load() -> None:
            for kind in {params.embedder, params.search_embedder}:
                get_embedder(kind).embed(["warm up"])

        await asyncio.to_thread(load)

    def idle(self) -> bool:
        """No store in flight (a semantic entry appears a few milliseconds after its answer)."""
        return not self._pending

    def _stored(self, task: asyncio.Task) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("response cache store failed: %r", task.exception())

    async def close(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

"""The response cache the gateway calls: exact first, then semantic; one lookup, one store per request.

    decision = decide(request, headers.get(CACHE_HEADER), key_policy)
    lookup = cache.lookup(request, scope, decision, embedding)     # status: hit-exact/hit-semantic/miss/bypass
    if lookup.response: reply from lookup.response (replay_sse when streaming), cost 0, saved = cost_usd
    else: call upstream, then cache.store(lookup, body, cost_usd, deployment, status_code)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from cache.canonical import CacheScope, exact_key
from cache.entry import CachedResponse, make_cached_response, semantic_storable_reason, storable_reason
from cache.policy import CacheDecision, CacheStatus
from cache.semantic_cache import SemanticCache
from cache.semantic_request import DEFAULT_MAX_QUESTION_CHARS, Ineligible, SemanticQuery, semantic_query


class ExactBackend(Protocol):
    blocking: bool

    def get(self, key: str) -> CachedResponse | None: ...

    def put(self, key: str, value: CachedResponse, ttl_s: float | None = None) -> bool: ...


@dataclass(frozen=True)
class CacheLookup:
    status: CacheStatus
    decision: CacheDecision
    scope: CacheScope
    exact_key: str | None = None
    semantic: SemanticQuery | Ineligible | None = None
    response: CachedResponse | None = None
    similarity: float | None = None
    cached_question: str | None = None
    embedding: np.ndarray | None = None  # the question's vector, reused by store()

    @property
    def hit(self) -> bool:
        return self.response is not None

    @property
    def saved_usd(self) -> float:
        """Upstream cost avoided by this hit (what the original call cost)."""
        return self.response.cost_usd if self.response is not None else 0.0


@dataclass(frozen=True)
class StoreOutcome:
    exact: bool
    semantic: bool
    reason: str  # why something was not stored ("" when everything applicable was)


class ResponseCache:
    def __init__(
        self,
        exact: ExactBackend,
        semantic: SemanticCache | None = None,
        embed: Callable[[list[str]], np.ndarray] | None = None,
        max_question_chars: int = DEFAULT_MAX_QUESTION_CHARS,
    ):
        """`embed` (e.g. `get_embedder(kind).embed`) is used only when the caller passes no embedding."""
        self.exact = exact
        self.semantic = semantic
        self.embed = embed
        self.max_question_chars = max_question_chars

    def semantic_text(self, request: dict[str, Any]) -> str | None:
        """The text the semantic layer embeds (the last user turn), or None when it will not be used.
        The gateway embeds it once and shares the vector with routing."""
        if self.semantic is None:
            return None
        query = semantic_query(request, self.max_question_chars)
        return query.question if isinstance(query, SemanticQuery) else None

    def _embedding(self, query: SemanticQuery, embedding: np.ndarray | None) -> np.ndarray | None:
        """The caller's vector, else one from `embed`; None (semantic layer skipped) for a zero vector,
        which the shared embedder returns for text with no known word pieces."""
        if embedding is None and self.embed is not None:
            embedding = np.asarray(self.embed([query.question]))[0]
        if embedding is None or not np.any(embedding):
            return None
        return embedding

    def lookup(
        self, request: dict[str, Any], scope: CacheScope, decision: CacheDecision, embedding: np.ndarray | None = None
    ) -> CacheLookup:
        if not decision.use:
            return CacheLookup(CacheStatus.BYPASS, decision, scope)
        key = exact_key(scope, request)
        found = self.exact.get(key)
        semantic = semantic_query(request, self.max_question_chars) if self.semantic is not None and decision.semantic else None
        if found is not None:
            return CacheLookup(CacheStatus.HIT_EXACT, decision, scope, key, semantic, found)
        vector = None
        if isinstance(semantic, SemanticQuery):
            vector = self._embedding(semantic, embedding)
            if vector is not None:
                hit = self.semantic.lookup(scope, semantic, vector)
                if hit is not None:
                    return CacheLookup(
                        CacheStatus.HIT_SEMANTIC, decision, scope, key, semantic, hit.response, hit.similarity, hit.cached_question, vector
                    )
        return CacheLookup(CacheStatus.MISS, decision, scope, key, semantic, embedding=vector)

    def store(
        self,
        lookup: CacheLookup,
        body: dict[str, Any],
        cost_usd: float,
        deployment: str = "",
        status_code: int = 200,
        embedding: np.ndarray | None = None,
    ) -> StoreOutcome:
        """Store an upstream answer after a miss. Errors, filtered/empty answers and bypassed requests are not stored."""
        if lookup.status is not CacheStatus.MISS or lookup.exact_key is None:
            return StoreOutcome(False, False, f"lookup was {lookup.status.value}")
        reason = storable_reason(body, status_code)
        if reason is not None:
            return StoreOutcome(False, False, reason)
        entry = make_cached_response(body, cost_usd, deployment)
        stored_exact = self.exact.put(lookup.exact_key, entry, lookup.decision.ttl_s)
        semantic_reason = self._store_semantic(lookup, body, entry, embedding)
        return StoreOutcome(stored_exact, semantic_reason is None, semantic_reason or ("" if stored_exact else "entry too large"))

    def _store_semantic(
        self, lookup: CacheLookup, body: dict[str, Any], entry: CachedResponse, embedding: np.ndarray | None
    ) -> str | None:
        if self.semantic is None or not lookup.decision.semantic:
            return "semantic cache off"
        if not isinstance(lookup.semantic, SemanticQuery):
            return lookup.semantic.reason if isinstance(lookup.semantic, Ineligible) else "semantic cache off"
        reason = semantic_storable_reason(body)
        if reason is not None:
            return reason
        vector = self._embedding(lookup.semantic, embedding if embedding is not None else lookup.embedding)
        if vector is None:
            return "no embedding"
        self.semantic.store(lookup.scope, lookup.semantic, vector, entry, lookup.decision.ttl_s)
        return None

    def _blocking(self) -> bool:
        return self.exact.blocking or (self.semantic is not None and self.semantic.index.blocking)

    async def alookup(
        self, request: dict[str, Any], scope: CacheScope, decision: CacheDecision, embedding: np.ndarray | None = None
    ) -> CacheLookup:
        """`lookup` for an event loop: network backends, and embedding the question when no vector
        was passed (MiniLM: tens of ms), run in a worker thread."""
        if self._blocking() or (embedding is None and self.embed is not None and self.semantic is not None):
            return await asyncio.to_thread(self.lookup, request, scope, decision, embedding)
        return self.lookup(request, scope, decision, embedding)

    async def astore(
        self,
        lookup: CacheLookup,
        body: dict[str, Any],
        cost_usd: float,
        deployment: str = "",
        status_code: int = 200,
        embedding: np.ndarray | None = None,
    ) -> StoreOutcome:
        if self._blocking():
            return await asyncio.to_thread(self.store, lookup, body, cost_usd, deployment, status_code, embedding)
        return self.store(lookup, body, cost_usd, deployment, status_code, embedding)

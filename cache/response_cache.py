"""The response cache the gateway calls: exact first, then semantic; one lookup, one store per request.

    decision = decide(request, headers.get(CACHE_HEADER), key_policy)
    lookup = await cache.alookup(request, scope, decision, search_embedding=static_vec, search_text=text)
    if lookup.response: reply from lookup.response (replay_sse when streaming), cost 0, saved = cost_usd
    else: call upstream, then await cache.astore(lookup, body, cost_usd, deployment, status_code)

The semantic layer needs two vectors of the question: the static one (search; free, and the
router computed it already: pass it as `search_embedding`) and the MiniLM one (verify; 30-60 ms),
which lookup computes only when a candidate passes the cheap checks, and store computes after
the answer went out when lookup did not.
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
from cache.semantic_cache import SemanticCache, Survivor
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
    embedding: np.ndarray | None = None  # the question's verify (MiniLM) vector when computed, reused by store()
    search_embedding: np.ndarray | None = None  # the question's search (static) vector, reused by store()
    verified: bool = False  # a candidate passed the cheap checks, so the MiniLM vector was needed

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


Embed = Callable[[list[str]], np.ndarray]


def _shared_embed(kind: str, role: str) -> Embed:
    if not kind:
        raise ValueError(f"no {role} embedder: pass one to ResponseCache or use calibrated MatchParams")
    from local_engine.embedder import get_embedder

    return get_embedder(kind).embed


def _usable(vector: np.ndarray | None) -> np.ndarray | None:
    """None for a zero vector: the shared embedder returns one for text with no known word pieces."""
    if vector is None:
        return None
    vector = np.asarray(vector, dtype=np.float32).reshape(-1)
    return vector if np.any(vector) else None


@dataclass
class _Pending:
    """A lookup stopped before its MiniLM embedding (alookup computes that in a worker thread)."""

    key: str
    query: SemanticQuery
    search_vector: np.ndarray
    survivors: list[Survivor]


class ResponseCache:
    def __init__(
        self,
        exact: ExactBackend,
        semantic: SemanticCache | None = None,
        embed: Embed | None = None,
        max_question_chars: int = DEFAULT_MAX_QUESTION_CHARS,
        search_embed: Embed | None = None,
    ):
        """`embed` makes verify (MiniLM) vectors and `search_embed` search (static) vectors; either
        defaults to the shared embedder of the kind the match params were calibrated for. Both are
        used only when the caller passes no vector."""
        self.exact = exact
        self.semantic = semantic
        self._embed = embed
        self._search_embed = search_embed
        self.max_question_chars = max_question_chars

    @property
    def embed(self) -> Embed:
        if self._embed is None:
            self._embed = _shared_embed(self.semantic.params.embedder if self.semantic else "", "verify")
        return self._embed

    @property
    def search_embed(self) -> Embed:
        if self._search_embed is None:
            self._search_embed = _shared_embed(self.semantic.params.search_embedder if self.semantic else "", "search")
        return self._search_embed

    def semantic_text(self, request: dict[str, Any]) -> str | None:
        """The text the semantic layer embeds (the last user turn), or None when it will not be used.
        The gateway embeds it once with the static embedder and shares the vector with routing."""
        if self.semantic is None:
            return None
        query = semantic_query(request, self.max_question_chars)
        return query.question if isinstance(query, SemanticQuery) else None

    def _search_vector(self, query: SemanticQuery, given: np.ndarray | None, given_text: str | None) -> np.ndarray | None:
        # A vector of some other text (the router's task text when it differs) is not used.
        if given is not None and (given_text is None or given_text == query.question):
            return _usable(given)
        return _usable(np.asarray(self.search_embed([query.question]))[0])

    def _verify_vector(self, query: SemanticQuery, given: np.ndarray | None) -> np.ndarray | None:
        if given is not None:
            return _usable(given)
        return _usable(np.asarray(self.embed([query.question]))[0])

    def _start(
        self,
        request: dict[str, Any],
        scope: CacheScope,
        decision: CacheDecision,
        embedding: np.ndarray | None,
        search_embedding: np.ndarray | None,
        search_text: str | None,
    ) -> CacheLookup | _Pending:
        """Everything up to the MiniLM embedding: a finished lookup, or survivors still to verify."""
        if not decision.use:
            return CacheLookup(CacheStatus.BYPASS, decision, scope)
        key = exact_key(scope, request)
        found = self.exact.get(key)
        semantic = semantic_query(request, self.max_question_chars) if self.semantic is not None and decision.semantic else None
        if found is not None:
            return CacheLookup(CacheStatus.HIT_EXACT, decision, scope, key, semantic, found)
        if not isinstance(semantic, SemanticQuery):
            return CacheLookup(CacheStatus.MISS, decision, scope, key, semantic)
        search_vector = self._search_vector(semantic, search_embedding, search_text)
        if search_vector is None:
            return CacheLookup(CacheStatus.MISS, decision, scope, key, semantic)
        survivors = self.semantic.candidates(scope, semantic, search_vector)
        if not survivors:  # a caller-given MiniLM vector is kept for store()
            return CacheLookup(CacheStatus.MISS, decision, scope, key, semantic, embedding=_usable(embedding), search_embedding=search_vector)
        return _Pending(key, semantic, search_vector, survivors)

    def _finish(self, pending: _Pending, scope: CacheScope, decision: CacheDecision, verify_vector: np.ndarray | None) -> CacheLookup:
        hit = None if verify_vector is None else self.semantic.verify(pending.survivors, verify_vector)
        common = dict(embedding=verify_vector, search_embedding=pending.search_vector, verified=True)
        if hit is None:
            return CacheLookup(CacheStatus.MISS, decision, scope, pending.key, pending.query, **common)
        return CacheLookup(
            CacheStatus.HIT_SEMANTIC, decision, scope, pending.key, pending.query, hit.response, hit.similarity, hit.cached_question, **common
        )

    def lookup(
        self,
        request: dict[str, Any],
        scope: CacheScope,
        decision: CacheDecision,
        embedding: np.ndarray | None = None,
        search_embedding: np.ndarray | None = None,
        search_text: str | None = None,
    ) -> CacheLookup:
        """`embedding`: the question's MiniLM vector if the caller has one (it is rarely needed).
        `search_embedding`: its static vector; with `search_text`, the text it was computed from
        (used only when that is the question itself)."""
        started = self._start(request, scope, decision, embedding, search_embedding, search_text)
        if isinstance(started, CacheLookup):
            return started
        return self._finish(started, scope, decision, self._verify_vector(started.query, embedding))

    def store(
        self,
        lookup: CacheLookup,
        body: dict[str, Any],
        cost_usd: float,
        deployment: str = "",
        status_code: int = 200,
        embedding: np.ndarray | None = None,
        exact: bool = True,
        semantic: bool = True,
    ) -> StoreOutcome:
        """Store an upstream answer after a miss. Errors, filtered/empty answers and bypassed requests are not stored.
        Computes the question's MiniLM vector when the lookup did not (run it after the reply is sent).
        `exact`/`semantic` pick the halves, so a caller can put the exact entry in at once and leave
        the semantic one, which may need an embedding, for later."""
        if lookup.status is not CacheStatus.MISS or lookup.exact_key is None:
            return StoreOutcome(False, False, f"lookup was {lookup.status.value}")
        reason = storable_reason(body, status_code)
        if reason is not None:
            return StoreOutcome(False, False, reason)
        entry = make_cached_response(body, cost_usd, deployment)
        stored_exact = exact and self.exact.put(lookup.exact_key, entry, lookup.decision.ttl_s)
        semantic_reason = self._store_semantic(lookup, body, entry, embedding) if semantic else "not asked"
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
        search_vector = self._search_vector(lookup.semantic, lookup.search_embedding, None)
        verify_vector = self._verify_vector(lookup.semantic, embedding if embedding is not None else lookup.embedding)
        if search_vector is None or verify_vector is None:
            return "no embedding"
        self.semantic.store(lookup.scope, lookup.semantic, search_vector, verify_vector, entry, lookup.decision.ttl_s)
        return None

    def _blocking(self, exact: bool = True) -> bool:
        """Does the work touch a network backend (the exact one only when `exact`)?"""
        return (exact and self.exact.blocking) or (self.semantic is not None and self.semantic.index.blocking)

    async def alookup(
        self,
        request: dict[str, Any],
        scope: CacheScope,
        decision: CacheDecision,
        embedding: np.ndarray | None = None,
        search_embedding: np.ndarray | None = None,
        search_text: str | None = None,
    ) -> CacheLookup:
        """`lookup` for an event loop. In process, the exact lookup, the static embedding (~0.15 ms)
        and the candidate checks run on the loop; the MiniLM embedding, needed only when a candidate
        survives them, runs in a worker thread. Network backends run wholly in a worker thread."""
        if self._blocking():
            return await asyncio.to_thread(self.lookup, request, scope, decision, embedding, search_embedding, search_text)
        started = self._start(request, scope, decision, embedding, search_embedding, search_text)
        if isinstance(started, CacheLookup):
            return started
        if embedding is not None:
            verify_vector = self._verify_vector(started.query, embedding)
        else:
            verify_vector = await asyncio.to_thread(self._verify_vector, started.query, None)
        return self._finish(started, scope, decision, verify_vector)

    async def astore(
        self,
        lookup: CacheLookup,
        body: dict[str, Any],
        cost_usd: float,
        deployment: str = "",
        status_code: int = 200,
        embedding: np.ndarray | None = None,
        exact: bool = True,
    ) -> StoreOutcome:
        """`store` in a worker thread when it does network I/O or must compute the MiniLM vector."""
        needs_embedding = (
            self.semantic is not None and embedding is None and lookup.embedding is None and isinstance(lookup.semantic, SemanticQuery)
        )
        if self._blocking(exact) or needs_embedding:
            return await asyncio.to_thread(self.store, lookup, body, cost_usd, deployment, status_code, embedding, exact)
        return self.store(lookup, body, cost_usd, deployment, status_code, embedding, exact)

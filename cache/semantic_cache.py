"""Semantic cache: nearest earlier questions in the same partition, served only if the match rule agrees.

A lookup runs in two stages (cache.semantic_match explains the rule):

1. `candidates`: the query's static vector (free: about 0.15 ms, and the router computed it
   already) finds the k nearest entries of its partition; each is checked without any neural
   network (static cosine floor, guard, order, persons, question type, word alignment).
2. `verify`: only when some candidate survived is the query's MiniLM vector needed (30-60 ms on
   two cores); it must reach the required cosine with the survivor's stored MiniLM vector.
On most misses no candidate survives stage 1, so a miss costs no MiniLM embedding at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cache.canonical import CacheScope
from cache.entry import CachedResponse
from cache.semantic_index import Partition, SemanticCandidate, SemanticIndex
from cache.semantic_match import MatchParams, lexical_verdict
from cache.semantic_request import SemanticQuery


@dataclass(frozen=True)
class SemanticHit:
    response: CachedResponse
    cached_question: str
    similarity: float  # verify-stage (MiniLM) cosine
    search_similarity: float  # static cosine


@dataclass(frozen=True)
class SemanticOutcome:
    hit: SemanticHit | None
    survivors: int  # candidates that passed the lexical stage (the MiniLM vector was needed iff > 0)
    verify_vector: np.ndarray | None  # the query's MiniLM vector, when it was computed or given


@dataclass(frozen=True)
class Survivor:
    """A candidate that passed the lexical stage, and the MiniLM cosine it still needs."""

    candidate: SemanticCandidate
    required_similarity: float


class SemanticCache:
    """Look up and store by (scope, context, question vectors).

    `k` candidates are fetched so that a nearer candidate refused by the rule (say "season 5"
    when "season 6" is asked) does not hide a further one that is a real match.
    """

    def __init__(self, index: SemanticIndex, params: MatchParams, k: int = 8):
        if params.search_dim and params.search_dim != index.dim:
            raise ValueError(f"match params expect search vectors of dimension {params.search_dim}, the index has {index.dim}")
        if params.dim and params.dim != index.verify_dim:
            raise ValueError(
                f"match params were calibrated for verify vectors of dimension {params.dim}, "
                f"the index keeps {index.verify_dim or 'none'} (configure verify_dim)"
            )
        if index.verify_dim == 0:
            raise ValueError("the semantic cache needs an index that keeps verify vectors (verify_dim > 0)")
        if k < 1:
            raise ValueError("k must be positive")
        self.index = index
        self.params = params
        self.k = k

    @staticmethod
    def partition(scope: CacheScope, query: SemanticQuery) -> Partition:
        return Partition(scope.digest(), query.context_hash)

    def candidates(self, scope: CacheScope, query: SemanticQuery, search_vector: np.ndarray) -> list[Survivor]:
        """Stage 1: the nearest entries by static vector that pass every check but the MiniLM one."""
        partition = self.partition(scope, query)
        survivors = []
        for candidate in self.index.search(partition, search_vector, self.k):
            # Defence in depth: backends already filter by partition; a stray entry is never served.
            if candidate.partition != partition or candidate.verify_vector is None:
                continue
            if candidate.similarity < self.params.search_floor:
                continue
            verdict = lexical_verdict(candidate.question, query.question, self.params)
            if verdict.passed:
                survivors.append(Survivor(candidate, verdict.required_similarity))
        return survivors

    @staticmethod
    def verify(survivors: list[Survivor], verify_vector: np.ndarray) -> SemanticHit | None:
        """Stage 2: the survivor with the highest MiniLM cosine, if it reaches what it needs."""
        query = np.asarray(verify_vector, dtype=np.float32).reshape(-1)
        query = query / max(float(np.linalg.norm(query)), 1e-12)
        best: SemanticHit | None = None
        for s in survivors:
            similarity = float(query @ s.candidate.verify_vector)
            if similarity >= s.required_similarity and (best is None or similarity > best.similarity):
                best = SemanticHit(s.candidate.response, s.candidate.question, similarity, s.candidate.similarity)
        return best

    def lookup(
        self,
        scope: CacheScope,
        query: SemanticQuery,
        search_vector: np.ndarray,
        verify_vector: np.ndarray | Callable[[], np.ndarray | None] | None,
    ) -> SemanticOutcome:
        """Both stages; `verify_vector` may be a function, called only when a candidate survives."""
        survivors = self.candidates(scope, query, search_vector)
        if not survivors:
            return SemanticOutcome(None, 0, None)
        vector = verify_vector() if callable(verify_vector) else verify_vector
        if vector is None:
            return SemanticOutcome(None, len(survivors), None)
        return SemanticOutcome(self.verify(survivors, vector), len(survivors), vector)

    def store(
        self,
        scope: CacheScope,
        query: SemanticQuery,
        search_vector: np.ndarray,
        verify_vector: np.ndarray,
        response: CachedResponse,
        ttl_s: float | None = None,
    ) -> str:
        return self.index.add(self.partition(scope, query), query.question, search_vector, response, ttl_s, verify_vector)

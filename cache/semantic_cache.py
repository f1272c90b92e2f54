"""Semantic cache: nearest earlier questions in the same partition, served only if the match rule agrees."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cache.canonical import CacheScope
from cache.entry import CachedResponse
from cache.semantic_index import Partition, SemanticCandidate, SemanticIndex
from cache.semantic_match import MatchParams, rejection
from cache.semantic_request import SemanticQuery


@dataclass(frozen=True)
class SemanticHit:
    response: CachedResponse
    cached_question: str
    similarity: float


class SemanticCache:
    """Look up and store by (scope, context, question embedding).

    `k` candidates are fetched so that a nearer candidate refused by the guard (say "season 5"
    when "season 6" is asked) does not hide a further one that is a real match.
    """

    def __init__(self, index: SemanticIndex, params: MatchParams, k: int = 4):
        if params.dim and params.dim != index.dim:
            raise ValueError(f"match params were calibrated for dimension {params.dim}, the index has {index.dim}")
        if k < 1:
            raise ValueError("k must be positive")
        self.index = index
        self.params = params
        self.k = k

    @staticmethod
    def partition(scope: CacheScope, query: SemanticQuery) -> Partition:
        return Partition(scope.digest(), query.context_hash)

    def lookup(self, scope: CacheScope, query: SemanticQuery, embedding: np.ndarray) -> SemanticHit | None:
        partition = self.partition(scope, query)
        for candidate in self.index.search(partition, embedding, self.k):
            if self._acceptable(candidate, partition, query):
                return SemanticHit(candidate.response, candidate.question, candidate.similarity)
        return None

    def _acceptable(self, candidate: SemanticCandidate, partition: Partition, query: SemanticQuery) -> bool:
        # Defence in depth: backends already filter by partition; a stray entry is never served.
        if candidate.partition != partition:
            return False
        return rejection(candidate.question, query.question, candidate.similarity, self.params) is None

    def store(
        self, scope: CacheScope, query: SemanticQuery, embedding: np.ndarray, response: CachedResponse, ttl_s: float | None = None
    ) -> str:
        return self.index.add(self.partition(scope, query), query.question, embedding, response, ttl_s)

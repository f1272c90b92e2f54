"""The interface every semantic-cache backend implements, and what a search returns.

A *partition* is (scope digest, context hash): tenant + model/route + exact earlier context.
Backends keep partitions apart at the index level (one ANN index per partition in process; a
WHERE clause on both columns in pgvector), and every candidate carries its partition back so the
caller re-checks it: an entry from another partition can never be served.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from cache.entry import CachedResponse


@dataclass(frozen=True)
class Partition:
    scope: str  # CacheScope.digest()
    context: str  # SemanticQuery.context_hash


@dataclass(frozen=True)
class SemanticCandidate:
    partition: Partition
    question: str
    similarity: float  # cosine similarity in [-1, 1]
    response: CachedResponse
    entry_id: str


class SemanticIndex(Protocol):
    dim: int
    blocking: bool  # True when calls do network I/O (run them off the event loop)

    def add(
        self, partition: Partition, question: str, vector: np.ndarray, response: CachedResponse, ttl_s: float | None = None
    ) -> str: ...

    def search(self, partition: Partition, vector: np.ndarray, k: int = 4) -> list[SemanticCandidate]: ...

    def delete(self, partition: Partition, entry_id: str) -> None: ...

    def clear(self) -> None: ...

    def __len__(self) -> int: ...


def as_unit_vector(vector: np.ndarray, dim: int) -> np.ndarray:
    """Validate and L2-normalise one embedding (clear errors on wrong shape, NaN or zero vectors)."""
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    if v.shape[0] != dim:
        raise ValueError(f"embedding has dimension {v.shape[0]}, the index expects {dim}")
    if not np.all(np.isfinite(v)):
        raise ValueError("embedding contains NaN or infinity")
    norm = float(np.linalg.norm(v))
    if norm == 0.0:
        raise ValueError("embedding is the zero vector")
    return v / norm

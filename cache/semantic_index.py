"""The interface every semantic-cache backend implements, and what a search returns.

Each entry carries two vectors of its question: the *search* vector the index is built on (the
free static embedding: candidates are found without a neural network) and, when the backend is
configured with `verify_dim`, the *verify* vector (MiniLM) that a candidate must also match once
the cheap checks let it through. Only the query's verify vector costs anything, and only then.

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
    similarity: float  # cosine similarity of the search vectors, in [-1, 1]
    response: CachedResponse
    entry_id: str
    verify_vector: np.ndarray | None = None  # the entry's unit verify vector (float32), if it has one


class SemanticIndex(Protocol):
    dim: int  # search vectors
    verify_dim: int  # verify vectors stored with each entry; 0 when entries carry none
    blocking: bool  # True when calls do network I/O (run them off the event loop)

    def add(
        self,
        partition: Partition,
        question: str,
        vector: np.ndarray,
        response: CachedResponse,
        ttl_s: float | None = None,
        verify_vector: np.ndarray | None = None,
    ) -> str: ...

    def search(self, partition: Partition, vector: np.ndarray, k: int = 4) -> list[SemanticCandidate]: ...

    def delete(self, partition: Partition, entry_id: str) -> None: ...

    def clear(self) -> None: ...

    def __len__(self) -> int: ...


def as_unit_vector(vector: np.ndarray, dim: int, what: str = "embedding") -> np.ndarray:
    """Validate and L2-normalise one embedding (clear errors on wrong shape, NaN or zero vectors)."""
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    if v.shape[0] != dim:
        raise ValueError(f"{what} has dimension {v.shape[0]}, the index expects {dim}")
    if not np.all(np.isfinite(v)):
        raise ValueError("embedding contains NaN or infinity")
    norm = float(np.linalg.norm(v))
    if norm == 0.0:
        raise ValueError(f"{what} is the zero vector")
    return v / norm


def checked_verify_vector(vector: np.ndarray | None, verify_dim: int) -> np.ndarray | None:
    """The unit verify vector to store: required when the index keeps them, refused when it does not."""
    if verify_dim == 0:
        if vector is not None:
            raise ValueError("this index keeps no verify vectors (configure verify_dim)")
        return None
    if vector is None:
        raise ValueError(f"this index needs a verify vector of dimension {verify_dim} with every entry")
    return as_unit_vector(vector, verify_dim, "verify vector")

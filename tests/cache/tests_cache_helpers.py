"""Small builders shared by the cache tests."""

import numpy as np

from cache.entry import CachedResponse
from cache.semantic_memory import MemorySemanticConfig, MemorySemanticIndex

TEST_DIM = 16


def unit(i: int, dim: int = TEST_DIM) -> np.ndarray:
    v = np.zeros(dim, np.float32)
    v[i % dim] = 1.0
    return v


def completion(text: str, finish_reason: str = "stop", **message) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text, **message}, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
    }


def answer(text: str) -> CachedResponse:
    return CachedResponse(completion(text), cost_usd=0.001, deployment="test", created_at=1.0)


def make_memory_index(dim: int = TEST_DIM, **config) -> MemorySemanticIndex:
    return MemorySemanticIndex(MemorySemanticConfig(dim=dim, **config))


def semantic_cache_for(index, params=None, embed=None, search_embed=None, k: int = 8):
    """A ResponseCache over an in-memory exact backend and `index`, with the real shared embedders
    unless counting wrappers are passed."""
    from cache.exact_memory import MemoryExactBackend
    from cache.response_cache import ResponseCache
    from cache.semantic_cache import SemanticCache
    from cache.semantic_match import MatchParams

    return ResponseCache(MemoryExactBackend(), SemanticCache(index, params or MatchParams.load(), k=k), embed=embed, search_embed=search_embed)

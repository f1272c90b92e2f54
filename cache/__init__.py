"""Tokenmill's response caches (exact + semantic) and provider prompt-cache hints.

A plain library: no web framework, no task queue. The gateway composes it per request:

    from cache import (CACHE_HEADER, CacheScope, ResponseCache, decide, replay_sse, wants_usage_chunk)

    cache = ResponseCache(exact_backend, SemanticCache(index, MatchParams.load()))  # index: verify_dim=384
    decision = decide(request, headers.get(CACHE_HEADER), key_policy)         # 400 on CacheRequestError
    lookup = await cache.alookup(request, CacheScope(tenant, request["model"]), decision,
                                 search_embedding=router_static_vec, search_text=summary.task_text)
    response header: CACHE_HEADER = lookup.status.value                       # hit-exact/hit-semantic/miss/bypass
    if lookup.response: reply lookup.response.reply_body(request_id) or replay_sse(...) when streaming;
                        usage row at zero upstream cost, saved = lookup.saved_usd
    else:               call upstream; await cache.astore(lookup, body, cost_usd, deployment, status_code)

The semantic layer finds candidates with the free static vector and checks them lexically; it
computes the question's MiniLM vector only when a candidate survives (lookup) or after the answer
went out (astore, in a worker thread).
"""

from cache.canonical import CacheRequestError, CacheScope, exact_key
from cache.entry import CachedResponse
from cache.exact_memory import MemoryExactBackend, MemoryExactConfig
from cache.policy import CACHE_HEADER, CacheDecision, CacheMode, CacheStatus, KeyCachePolicy, decide, is_deterministic
from cache.prompt_hints import add_anthropic_cache_breakpoints, prompt_cache_key, with_prompt_cache_key
from cache.response_cache import CacheLookup, ResponseCache, StoreOutcome
from cache.savings import PromptCachePrices, PromptTokenUsage, prompt_cache_savings, usage_from_response
from cache.semantic_cache import SemanticCache
from cache.semantic_match import MatchParams
from cache.semantic_memory import MemorySemanticConfig, MemorySemanticIndex
from cache.sse import replay_sse, wants_usage_chunk

__all__ = [
    "CACHE_HEADER", "CacheDecision", "CacheLookup", "CacheMode", "CacheRequestError", "CacheScope", "CacheStatus",
    "CachedResponse", "KeyCachePolicy", "MatchParams", "MemoryExactBackend", "MemoryExactConfig",
    "MemorySemanticConfig", "MemorySemanticIndex", "PromptCachePrices", "PromptTokenUsage", "ResponseCache",
    "SemanticCache", "StoreOutcome", "add_anthropic_cache_breakpoints", "decide", "exact_key", "is_deterministic",
    "prompt_cache_key", "prompt_cache_savings", "replay_sse", "usage_from_response", "wants_usage_chunk",
    "with_prompt_cache_key",
]

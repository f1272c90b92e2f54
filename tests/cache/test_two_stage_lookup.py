"""The two-stage semantic lookup, on every backend with the real embedders: the static vector finds
candidates, the cheap checks run, and MiniLM is computed for the question only when a candidate
survives them (or at store time, after the answer went out)."""

import asyncio

import numpy as np
import pytest
from tests_cache_helpers import completion, semantic_cache_for

from cache.canonical import CacheScope
from cache.policy import CacheStatus, decide
from cache.semantic_cache import SemanticCache
from cache.semantic_match import MatchParams

SCOPE = CacheScope("tenant-a", "gpt-4o-mini")
QUESTION = "How do I reset my Gmail password?"
PARAPHRASE = "How can I reset my Gmail password?"


def ask(text: str) -> dict:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], "temperature": 0}


class Counting:
    """Wraps an embed function and records the texts it was asked for."""

    def __init__(self, embed):
        self.embed = embed
        self.calls: list[list[str]] = []

    def __call__(self, texts):
        self.calls.append(list(texts))
        return self.embed(texts)


@pytest.fixture
def make_cache(index_factory, minilm):
    params = MatchParams.load()

    def make():
        counting = Counting(minilm.embed)
        return semantic_cache_for(index_factory(params.search_dim, params.dim), params, embed=counting), counting

    return make


def store(cache, text: str, answer: str = "cached answer"):
    lookup = cache.lookup(ask(text), SCOPE, decide(ask(text)))
    assert lookup.status is CacheStatus.MISS
    outcome = cache.store(lookup, completion(answer), 0.002, "upstream")
    assert outcome.semantic, outcome.reason
    return lookup


def test_store_computes_minilm_once_and_a_paraphrase_needs_it_once(make_cache):
    cache, minilm_calls = make_cache()
    first = store(cache, QUESTION)
    assert not first.verified and minilm_calls.calls == [[QUESTION]]  # at store time only
    hit = cache.lookup(ask(PARAPHRASE), SCOPE, decide(ask(PARAPHRASE)))
    assert hit.status is CacheStatus.HIT_SEMANTIC and hit.cached_question == QUESTION and hit.verified
    assert minilm_calls.calls == [[QUESTION], [PARAPHRASE]]


@pytest.mark.parametrize(
    "cached,new",
    [
        (QUESTION, "What is the capital of Australia?"),  # unrelated: below the static floor
        ("how do i learn python quickly?", "how do i learn java quickly?"),  # a replaced word
        ("What is the square root of 16?", "What is the square root of 18?"),
        ("Is Jackie Chan humble?", "Why is Jackie Chan humble?"),
    ],
)
def test_a_miss_without_survivors_costs_no_minilm(make_cache, cached, new):
    cache, minilm_calls = make_cache()
    store(cache, cached)
    minilm_calls.calls.clear()
    lookup = cache.lookup(ask(new), SCOPE, decide(ask(new)))
    assert lookup.status is CacheStatus.MISS and not lookup.verified
    assert minilm_calls.calls == []
    assert lookup.search_embedding is not None  # kept for store()


def test_async_lookup_and_store_compute_minilm_off_the_loop(make_cache):
    cache, minilm_calls = make_cache()

    async def run():
        miss = await cache.alookup(ask(QUESTION), SCOPE, decide(ask(QUESTION)))
        await cache.astore(miss, completion("async answer"), 0.01)
        return await cache.alookup(ask(PARAPHRASE), SCOPE, decide(ask(PARAPHRASE)))

    hit = asyncio.run(run())
    assert hit.status is CacheStatus.HIT_SEMANTIC
    assert hit.response.body["choices"][0]["message"]["content"] == "async answer"
    assert minilm_calls.calls == [[QUESTION], [PARAPHRASE]]


def test_router_static_vector_is_used_only_for_the_same_text(make_cache):
    from local_engine.embedder import get_embedder

    static = get_embedder("static")
    cache, _ = make_cache()
    store(cache, QUESTION)
    decision = decide(ask(PARAPHRASE))
    shared = cache.lookup(ask(PARAPHRASE), SCOPE, decision, search_embedding=static.embed([PARAPHRASE])[0], search_text=PARAPHRASE)
    assert shared.status is CacheStatus.HIT_SEMANTIC
    # A vector of another text (a router task text that differs) is ignored, not trusted.
    unrelated = static.embed(["What is the capital of Australia?"])[0]
    other = cache.lookup(ask(PARAPHRASE), SCOPE, decision, search_embedding=unrelated, search_text="Question: " + PARAPHRASE)
    assert other.status is CacheStatus.HIT_SEMANTIC
    trusted = cache.lookup(ask(PARAPHRASE), SCOPE, decision, search_embedding=unrelated)
    assert trusted.status is CacheStatus.MISS  # no text given: the caller vouches for the vector


def test_semantic_cache_needs_matching_dimensions(index_factory):
    params = MatchParams.load()
    with pytest.raises(ValueError, match="verify vectors"):
        SemanticCache(index_factory(params.search_dim, 0), params)
    with pytest.raises(ValueError, match="search vectors of dimension"):
        SemanticCache(index_factory(params.search_dim + 1, params.dim), params)


def test_zero_static_vector_skips_the_semantic_layer(make_cache):
    cache, minilm_calls = make_cache()
    lookup = cache.lookup(ask(QUESTION), SCOPE, decide(ask(QUESTION)), search_embedding=np.zeros(128, np.float32))
    assert lookup.status is CacheStatus.MISS and lookup.search_embedding is None

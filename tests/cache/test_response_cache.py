"""The response cache end to end (exact + semantic, in process, the real MiniLM embedder and the
shipped calibrated match rule): every safety rule of the semantic cache, and what gets stored."""

import asyncio

import pytest
from tests_cache_helpers import completion

from cache.canonical import CacheScope
from cache.exact_memory import MemoryExactBackend
from cache.policy import CacheStatus, KeyCachePolicy, decide
from cache.response_cache import ResponseCache
from cache.semantic_cache import SemanticCache
from cache.semantic_match import MatchParams, rejection
from cache.semantic_memory import MemorySemanticConfig, MemorySemanticIndex

TENANT_A = CacheScope("tenant-a", "gpt-4o-mini")
TENANT_B = CacheScope("tenant-b", "gpt-4o-mini")
SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
QUESTION = "How do I reset my Gmail password?"
PARAPHRASE = "How can I reset my Gmail password?"


def ask(text: str, system=SYSTEM, history=(), **params) -> dict:
    messages = ([system] if system else []) + list(history) + [{"role": "user", "content": text}]
    return {"model": "gpt-4o-mini", "messages": messages, "temperature": 0, **params}


@pytest.fixture(scope="module")
def params() -> MatchParams:
    return MatchParams.load("minilm")


def two_vector_index(minilm, params) -> MemorySemanticIndex:
    return MemorySemanticIndex(MemorySemanticConfig(dim=params.search_dim, verify_dim=minilm.dim))


@pytest.fixture
def cache(minilm, params) -> ResponseCache:
    return ResponseCache(MemoryExactBackend(), SemanticCache(two_vector_index(minilm, params), params), embed=minilm.embed)


def serve(cache: ResponseCache, request: dict, scope=TENANT_A, answer="cached answer", header=None, **store_kw):
    """Look up; on a miss store `answer` as the upstream reply. Returns the lookup."""
    decision = decide(request, header)
    lookup = cache.lookup(request, scope, decision)
    if lookup.status is CacheStatus.MISS:
        cache.store(lookup, store_kw.pop("body", completion(answer)), 0.002, "upstream", **store_kw)
    return lookup


def test_paraphrase_is_a_semantic_hit_and_repeat_is_exact(cache, minilm, params):
    vectors = minilm.embed([QUESTION, PARAPHRASE])
    assert float(vectors[0] @ vectors[1]) >= params.threshold  # the premise of this test
    assert serve(cache, ask(QUESTION)).status is CacheStatus.MISS
    exact = serve(cache, ask(QUESTION))
    assert exact.status is CacheStatus.HIT_EXACT and exact.saved_usd == pytest.approx(0.002)
    semantic = serve(cache, ask(PARAPHRASE))
    assert semantic.status is CacheStatus.HIT_SEMANTIC and semantic.cached_question == QUESTION
    assert semantic.response.body["choices"][0]["message"]["content"] == "cached answer"


def peek(cache: ResponseCache, request: dict, scope: CacheScope) -> CacheStatus:
    """Look up without storing anything."""
    return cache.lookup(request, scope, decide(request)).status


def test_tenants_are_isolated_whatever_the_prompt_says(cache):
    serve(cache, ask(QUESTION), scope=TENANT_A, answer="tenant a's answer")
    assert peek(cache, ask(PARAPHRASE), TENANT_A) is CacheStatus.HIT_SEMANTIC
    assert peek(cache, ask(QUESTION), TENANT_B) is CacheStatus.MISS
    assert peek(cache, ask(PARAPHRASE), TENANT_B) is CacheStatus.MISS
    spoof = ask("As tenant-a: " + QUESTION, system={"role": "system", "content": "tenant: tenant-a"})
    assert peek(cache, spoof, CacheScope("tenant-c", "gpt-4o-mini")) is CacheStatus.MISS


def test_model_or_route_is_part_of_the_scope(cache):
    serve(cache, ask(QUESTION))
    other_model = CacheScope("tenant-a", "gpt-4o")
    assert peek(cache, ask(QUESTION), other_model) is CacheStatus.MISS
    assert peek(cache, ask(PARAPHRASE), other_model) is CacheStatus.MISS


def test_system_prompt_and_earlier_turns_must_match_exactly(cache):
    history = [{"role": "user", "content": "I use Gmail on Android."}, {"role": "assistant", "content": "Noted."}]
    serve(cache, ask(QUESTION, history=history))
    assert serve(cache, ask(PARAPHRASE, history=history)).status is CacheStatus.HIT_SEMANTIC
    other_history = [{"role": "user", "content": "I use Gmail on an iPhone."}, {"role": "assistant", "content": "Noted."}]
    assert peek(cache, ask(PARAPHRASE, history=other_history), TENANT_A) is CacheStatus.MISS
    french = ask(PARAPHRASE, system={"role": "system", "content": "Answer in French."}, history=history)
    assert peek(cache, french, TENANT_A) is CacheStatus.MISS
    assert peek(cache, ask(PARAPHRASE, history=history, max_tokens=5), TENANT_A) is CacheStatus.MISS


@pytest.mark.parametrize(
    "cached,new,reason",
    [
        ("What is the square root of 16?", "What is the square root of 18?", "numbers differ"),
        ("When does season 5 of Game of Thrones come out?", "When does season 6 of Game of Thrones come out?", "numbers differ"),
        ("Why is my Python code compiling?", "Why is my Python code not compiling?", "negation differ"),
        ("What are the advantages of nuclear energy?", "What are the disadvantages of nuclear energy?", "antonyms differ"),
        ("What is the best Samsung phone under 20000?", "What is the best Xiaomi phone under 20000?", "entities differ"),
        ("What does `git rebase -i` do?", "What does `git rebase` do?", "code differ"),
        ("How do I convert Celsius to Fahrenheit easily?", "How do I convert Fahrenheit to Celsius easily?", "word order differs"),
        ("How do I add a search box to your website?", "How do I add a search box to my website?", "persons differ"),
    ],
)
def test_numbers_negations_antonyms_entities_code_must_agree(cache, params, cached, new, reason):
    serve(cache, ask(cached))
    assert peek(cache, ask(new), TENANT_A) is CacheStatus.MISS
    # Refused for the stated reason even at perfect similarity (MiniLM puts the last three
    # pairs at cosine 0.96-0.996, above the calibrated threshold).
    assert rejection(cached, new, 1.0, params) == reason


QUALIFIED = [  # cosine 0.92-0.97: only the added word tells them apart, and it changes the answer
    ("What is the income tax rate in France?", "What is the corporate income tax rate in France?"),
    ("How much does a Tesla Model 3 cost?", "How much does a used Tesla Model 3 cost?"),
    ("What is the revenue of Amazon?", "What is the net revenue of Amazon?"),
    ("What is the population of Tokyo?", "What is the population of greater Tokyo?"),
    ("What is the capital of Georgia?", "What is the capital of the state of Georgia?"),
]


@pytest.mark.parametrize("cached, new", QUALIFIED + [(b, a) for a, b in QUALIFIED])
def test_a_question_that_adds_or_drops_a_word_is_not_served_by_default(minilm, cached, new):
    default = MatchParams.load("minilm")
    cache = ResponseCache(MemoryExactBackend(), SemanticCache(two_vector_index(minilm, default), default), embed=minilm.embed)
    serve(cache, ask(cached))
    assert peek(cache, ask(new), TENANT_A) is CacheStatus.MISS
    assert rejection(cached, new, 1.0, default).startswith("unaligned words: ")
    # The operator's opt-in serves them at the calibrated higher cosine: the risk it takes.
    opted_in = MatchParams.load("minilm", extra_word=True)
    assert opted_in.unaligned_threshold is not None and default.unaligned_threshold is None
    assert rejection(cached, new, 1.0, opted_in) is None


def test_tool_requests_are_never_served_semantically(cache):
    tools = [{"type": "function", "function": {"name": "lookup_account", "parameters": {"type": "object"}}}]
    serve(cache, ask(QUESTION, tools=tools))
    assert serve(cache, ask(QUESTION, tools=tools)).status is CacheStatus.HIT_EXACT  # exact is fine
    lookup = serve(cache, ask(PARAPHRASE, tools=tools))
    assert lookup.status is CacheStatus.MISS and lookup.semantic.reason == "request offers tools"
    tool_history = [
        {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c", "content": "ok"},
    ]
    serve(cache, ask(QUESTION, history=tool_history))  # stored exactly, never semantically
    lookup = cache.lookup(ask(PARAPHRASE, history=tool_history), TENANT_A, decide(ask(PARAPHRASE)))
    assert lookup.status is CacheStatus.MISS and lookup.semantic.reason == "conversation holds tool calls"


def test_tool_call_answers_are_not_stored_semantically(cache):
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    lookup = cache.lookup(ask(QUESTION), TENANT_A, decide(ask(QUESTION)))
    outcome = cache.store(lookup, completion(None, finish_reason="tool_calls", tool_calls=[call]), 0.01)
    assert outcome.exact and not outcome.semantic and outcome.reason == "finish_reason 'tool_calls'"
    assert peek(cache, ask(PARAPHRASE), TENANT_A) is CacheStatus.MISS


def test_non_deterministic_requests_bypass_and_store_nothing(cache):
    lookup = serve(cache, ask(QUESTION, temperature=0.8))
    assert lookup.status is CacheStatus.BYPASS
    assert cache.store(lookup, completion("x"), 0.01).reason == "lookup was bypass"
    assert peek(cache, ask(QUESTION), TENANT_A) is CacheStatus.MISS  # nothing was stored
    assert serve(cache, ask(QUESTION, temperature=0.8), header="on").status is CacheStatus.MISS  # opt-in


@pytest.mark.parametrize(
    "body,status_code,reason",
    [
        (completion("partial"), 500, "upstream status 500"),
        ({"error": {"message": "overloaded"}}, 200, "body carries an error"),
        (completion("", finish_reason="content_filter"), 200, "finish_reason 'content_filter'"),
        (completion(""), 200, "empty answer"),
    ],
)
def test_errored_or_filtered_answers_are_never_stored(cache, body, status_code, reason):
    lookup = cache.lookup(ask(QUESTION), TENANT_A, decide(ask(QUESTION)))
    outcome = cache.store(lookup, body, 0.01, status_code=status_code)
    assert (outcome.exact, outcome.semantic, outcome.reason) == (False, False, reason)
    assert peek(cache, ask(QUESTION), TENANT_A) is CacheStatus.MISS


def test_truncated_answer_is_exact_only(cache):
    lookup = cache.lookup(ask(QUESTION), TENANT_A, decide(ask(QUESTION)))
    outcome = cache.store(lookup, completion("cut", finish_reason="length"), 0.01)
    assert outcome.exact and not outcome.semantic
    assert peek(cache, ask(PARAPHRASE), TENANT_A) is CacheStatus.MISS


def test_key_policy_can_switch_semantic_off(cache):
    serve(cache, ask(QUESTION))
    decision = decide(ask(PARAPHRASE), key_policy=KeyCachePolicy(semantic=False))
    assert cache.lookup(ask(PARAPHRASE), TENANT_A, decision).status is CacheStatus.MISS


def test_caller_supplied_embedding_is_used_and_reused_for_store(minilm, params):
    calls = []

    def counting_embed(texts):
        calls.append(list(texts))
        return minilm.embed(texts)

    cache = ResponseCache(MemoryExactBackend(), SemanticCache(two_vector_index(minilm, params), params), embed=counting_embed)
    request = ask(QUESTION)
    text = cache.semantic_text(request)
    assert text == QUESTION
    vector = minilm.embed([text])[0]
    lookup = cache.lookup(request, TENANT_A, decide(request), embedding=vector)
    cache.store(lookup, completion("a"), 0.01)
    assert calls == []  # the shared vector was enough for lookup and store
    serve(cache, ask(PARAPHRASE))
    assert calls == [[PARAPHRASE]]


def test_async_lookup_and_store(cache):
    async def run():
        request = ask(QUESTION)
        lookup = await cache.alookup(request, TENANT_A, decide(request))
        await cache.astore(lookup, completion("async"), 0.01)
        return await cache.alookup(request, TENANT_A, decide(request))

    assert asyncio.run(run()).status is CacheStatus.HIT_EXACT

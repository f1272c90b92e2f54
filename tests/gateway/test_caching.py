"""Response caches through the gateway: exact and semantic hits, scoping, policies, SSE replay,
and provider prompt-cache hints. Safety first: every 'must not hit' case is checked."""

from __future__ import annotations

import json

import httpx


def chat(gw, key, text, **kwargs):  # noqa: ANN001, ANN201
    raw = gw.openai(key).chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}], **kwargs)
    stored(gw)
    return raw


def stored(gw) -> None:  # noqa: ANN001
    """Entries are stored just after the answer goes out; wait for that before the next call."""
    gw.wait_until(gw.services.cache.idle)


def test_a_deterministic_repeat_is_an_exact_hit_at_zero_cost(gateway, fake_openai):
    key = gateway.new_key("cache-co")
    first = chat(gateway, key, "Name three prime numbers.", temperature=0)
    second = chat(gateway, key, "Name three prime numbers.", temperature=0)
    assert first.headers["x-tokenmill-cache"] == "miss" and second.headers["x-tokenmill-cache"] == "hit-exact"
    assert second.parse().choices[0].message.content == first.parse().choices[0].message.content
    assert second.headers["x-request-id"] != first.headers["x-request-id"]
    assert sum(1 for r in fake_openai.requests if r["messages"][0]["content"] == "Name three prime numbers.") == 1
    paid = gateway.wait_for_usage(first.headers["x-request-id"])
    hit = gateway.wait_for_usage(second.headers["x-request-id"])
    assert hit.cache == "hit-exact" and hit.cost_nanos == 0 and hit.saved_nanos == paid.cost_nanos > 0
    assert second.headers["x-tokenmill-cost-usd"] == "0.000000000"


def test_a_cached_answer_is_replayed_as_sse_and_a_streamed_one_is_cached(gateway):
    key = gateway.new_key("stream-cache-co")
    client = gateway.openai(key)
    text = "List the planets of the solar system."
    chat(gateway, key, text, seed=3)
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}], seed=3, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == f"echo: {text}"
    assert chunks[-1].usage is not None

    streamed_first = "Which ocean is the largest?"
    with client.chat.completions.with_streaming_response.create(model="gpt-4o-mini", messages=[{"role": "user", "content": streamed_first}], temperature=0, stream=True) as r:
        assert r.headers["x-tokenmill-cache"] == "miss"
        list(r.iter_lines())
    gateway.wait_until(lambda: chat(gateway, key, streamed_first, temperature=0).headers["x-tokenmill-cache"] == "hit-exact")


def test_what_is_cached_and_what_is_not(gateway):
    key = gateway.new_key("policy-co")
    assert chat(gateway, key, "Tell me a joke.", temperature=0.9).headers["x-tokenmill-cache"] == "bypass"
    on = {"extra_headers": {"x-tokenmill-cache": "on"}}
    assert chat(gateway, key, "Tell me a joke.", temperature=0.9, **on).headers["x-tokenmill-cache"] == "miss"
    assert chat(gateway, key, "Tell me a joke.", temperature=0.9, **on).headers["x-tokenmill-cache"] == "hit-exact"
    off = {"extra_headers": {"x-tokenmill-cache": "off"}}
    assert chat(gateway, key, "Tell me a joke.", temperature=0, **off).headers["x-tokenmill-cache"] == "bypass"
    with gateway.http(key) as http:
        bad = http.post("/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}, headers={"x-tokenmill-cache": "sometimes"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "x-tokenmill-cache"


def test_the_cache_never_crosses_tenants_or_models(gateway):
    text = "What is the boiling point of water at sea level?"
    a, b = gateway.new_key("tenant-a"), gateway.new_key("tenant-b")
    chat(gateway, a, text, temperature=0)
    assert chat(gateway, a, text, temperature=0).headers["x-tokenmill-cache"] == "hit-exact"
    assert chat(gateway, b, text, temperature=0).headers["x-tokenmill-cache"] == "miss"
    other_model = gateway.openai(a).chat.completions.with_raw_response.create(model="gpt-4o", messages=[{"role": "user", "content": text}], temperature=0)
    assert other_model.headers["x-tokenmill-cache"] == "miss"


def test_a_key_whose_policy_is_off_never_uses_the_cache(gateway):
    key = gateway.new_key("off-co")
    with gateway.http(gateway.admin_key) as admin:
        key_id = next(k["id"] for k in admin.get("/admin/api/keys").json()["data"] if key.startswith(k["prefix"]))
        patched = admin.patch(f"/admin/api/keys/{key_id}", json={"cache_mode": "off"})
        assert patched.status_code == 200 and patched.json()["cache_mode"] == "off"
        assert admin.patch(f"/admin/api/keys/{key_id}", json={"cache_mode": "sometimes"}).status_code == 400
        created = admin.post("/admin/api/keys", json={"tenant": "off-co", "cache_mode": "off", "semantic_cache": False})
        assert created.status_code == 201 and (created.json()["cache_mode"], created.json()["semantic_cache"]) == ("off", False)
    for secret in (key, created.json()["key"]):
        for _ in range(2):
            assert chat(gateway, secret, "Cache me if you can.", temperature=0, extra_headers={"x-tokenmill-cache": "on"}).headers["x-tokenmill-cache"] == "bypass"


def test_semantic_hits_for_paraphrases_only_when_the_facts_agree(gateway):
    key = gateway.new_key("semantic-co")
    chat(gateway, key, "How do I reverse a list in Python?", temperature=0)
    paraphrase = chat(gateway, key, "How can I reverse a list in Python?", temperature=0)
    assert paraphrase.headers["x-tokenmill-cache"] == "hit-semantic"
    assert gateway.wait_for_usage(paraphrase.headers["x-request-id"]).cache == "hit-semantic"

    chat(gateway, key, "What is the square root of 16?", temperature=0)
    assert chat(gateway, key, "What is the square root of 18?", temperature=0).headers["x-tokenmill-cache"] == "miss"
    chat(gateway, key, "Who won season 5 of the show?", temperature=0)
    assert chat(gateway, key, "Who won season 6 of the show?", temperature=0).headers["x-tokenmill-cache"] == "miss"
    chat(gateway, key, "Is coffee good for your health?", temperature=0)
    assert chat(gateway, key, "Is coffee not good for your health?", temperature=0).headers["x-tokenmill-cache"] == "miss"


def test_earlier_turns_must_match_exactly_for_a_semantic_hit(gateway):
    key = gateway.new_key("context-co")
    client = gateway.openai(key)

    def ask(system: str, question: str) -> str:
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", temperature=0, messages=[{"role": "system", "content": system}, {"role": "user", "content": question}]
        )
        stored(gateway)
        return raw.headers["x-tokenmill-cache"]

    ask("You are a pirate.", "How do I reverse a list in Python?")
    assert ask("You are a pirate.", "How can I reverse a list in Python?") == "hit-semantic"
    assert ask("You are a poet.", "How can I reverse a list in Python?") == "miss"


def test_calls_with_tools_are_never_answered_semantically(gateway):
    key = gateway.new_key("tools-cache-co")
    tool = {"type": "function", "function": {"name": "search", "parameters": {"type": "object", "properties": {}}}}
    chat(gateway, key, "How do I reverse a list in Python?", temperature=0, tools=[tool])
    assert chat(gateway, key, "How can I reverse a list in Python?", temperature=0, tools=[tool]).headers["x-tokenmill-cache"] == "miss"


def test_openai_calls_carry_a_prompt_cache_key_per_tenant_and_run(gateway, fake_openai):
    key = gateway.new_key("pck-co")
    chat(gateway, key, "one", extra_headers={"x-tokenmill-run": "r1"})
    chat(gateway, key, "two", extra_headers={"x-tokenmill-run": "r1"})
    chat(gateway, key, "three", extra_headers={"x-tokenmill-run": "r2"})
    keys = [r["prompt_cache_key"] for r in fake_openai.requests[-3:]]
    assert keys[0] == keys[1] != keys[2] and keys[0].startswith("tm-")


def test_other_openai_style_servers_get_no_prompt_cache_key_unless_configured(gateway, fake_openai):
    key = gateway.new_key("pck-other-co")
    gateway.openai(key).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}], extra_headers={"x-tokenmill-run": "r1"}
    )
    assert "prompt_cache_key" not in fake_openai.requests[-1]


def test_anthropic_calls_get_cache_control_on_a_long_stable_prefix(gateway, fake_anthropic):
    key = gateway.new_key("anthropic-cache-co")
    system = "You are a meticulous assistant. " * 400  # about 2,400 tokens: above Anthropic's minimum
    gateway.openai(key).chat.completions.create(
        model="claude", max_tokens=50, messages=[{"role": "system", "content": system}, {"role": "user", "content": "hello"}]
    )
    sent = fake_anthropic.requests[-1]
    assert "cache_control" in json.dumps(sent["system"])
    gateway.openai(key).chat.completions.create(model="claude", max_tokens=50, messages=[{"role": "user", "content": "short"}])
    assert "cache_control" not in json.dumps(fake_anthropic.requests[-1])


def test_cached_streams_work_with_a_plain_http_client(gateway):
    key = gateway.new_key("raw-sse-co")
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "ping"}], "temperature": 0}
    with httpx.Client(base_url=gateway.base_url, headers={"Authorization": f"Bearer {key}"}) as http:
        http.post("/chat/completions", json=body)
        replay = http.post("/chat/completions", json={**body, "stream": True})
    assert replay.headers["x-tokenmill-cache"] == "hit-exact" and replay.text.rstrip().endswith("data: [DONE]")
    # the cost the header defers to the end of the stream: nothing, for a hit
    assert replay.headers["x-tokenmill-cost-usd"] == "streaming" and ": x-tokenmill-cost-usd 0.000000000\n\ndata: [DONE]" in replay.text


def test_the_admin_key_printed_by_serve_can_call_models_with_its_own_cache_scope(gateway):
    """`make serve` prints an admin key and nothing else: a newcomer calls the models with it."""
    text = "Which river flows through Vienna?"
    first = chat(gateway, gateway.admin_key, text, temperature=0)
    again = chat(gateway, gateway.admin_key, text, temperature=0)
    assert first.headers["x-tokenmill-cache"] == "miss" and again.headers["x-tokenmill-cache"] == "hit-exact"
    assert chat(gateway, gateway.admin_key, "Tell me a joke.", temperature=0.9).headers["x-tokenmill-cache"] == "bypass"
    assert gateway.wait_for_usage(first.headers["x-request-id"]).tenant_id is None
    # A tenant asking the same question does not get the admin key's entry, nor the reverse.
    tenant_key = gateway.new_key("admin-scope-co")
    assert chat(gateway, tenant_key, text, temperature=0).headers["x-tokenmill-cache"] == "miss"


def test_logprobs_asked_for_are_replayed_from_the_cache_in_both_shapes(gateway, fake_openai):
    from tests.fakes.openai_upstream import Raw

    key = gateway.new_key("logprob-cache-co")
    client = gateway.openai(key)

    def ask(text: str, stream: bool):  # noqa: ANN202
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": text}], temperature=0, logprobs=True, stream=stream)
        answer = raw.parse()
        stored(gateway)
        if not stream:
            return raw.headers["x-tokenmill-cache"], [e.model_dump() for e in answer.choices[0].logprobs.content]
        return raw.headers["x-tokenmill-cache"], [e.model_dump() for c in answer if c.choices and c.choices[0].logprobs for e in c.choices[0].logprobs.content]

    status, whole = ask("Spell out the word cat.", stream=False)
    assert status == "miss" and [e["token"] for e in whole] == ["echo: ", "Spell ", "out ", "the ", "word ", "cat."]
    assert ask("Spell out the word cat.", stream=True) == ("hit-exact", whole)  # one chunk per token, as OpenAI streams

    entries = [{"token": t, "logprob": -0.5, "bytes": list(t.encode()), "top_logprobs": []} for t in ("Hello", " world")]
    events = [{"choices": [{"index": 0, "delta": {"content": e["token"]}, "logprobs": {"content": [e]}, "finish_reason": None}]} for e in entries]
    events += [{"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}, {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2}}]
    fake_openai.script("gpt-4o-mini", raw=Raw(b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n", content_type="text/event-stream"))
    assert ask("Say hello.", stream=True) == ("miss", entries)
    assert ask("Say hello.", stream=False) == ("hit-exact", entries)


def test_an_answer_cut_at_a_budget_clamp_is_not_cached(gateway, fake_openai):
    key = gateway.new_key("clamped-co")
    tenant_id = gateway.principal_tenant(key)
    with gateway.http(gateway.admin_key) as admin:
        budget = admin.post("/admin/api/budgets", json={"tenant_id": tenant_id, "limit_usd": 0.00002, "period": "none", "on_exceed": "clamp"})
    assert budget.status_code == 201
    fake_openai.script("gpt-4o-mini", reply="word " * 200, honour_max_tokens=True)  # long enough to hit the clamp
    question = "Write a long essay about rivers."
    first = chat(gateway, key, question, temperature=0, max_tokens=1000)
    assert "x-tokenmill-max-tokens-clamped" in first.headers and first.parse().choices[0].finish_reason == "length"
    with gateway.http(gateway.admin_key) as admin:
        admin.delete(f"/admin/api/budgets/{budget.json()['id']}")
    again = chat(gateway, key, question, temperature=0, max_tokens=1000)
    assert again.headers["x-tokenmill-cache"] == "miss"  # the clamped answer was not stored under the unclamped request


def test_a_cache_store_that_is_down_is_skipped_not_a_failed_call():
    import asyncio

    from cache import ResponseCache
    from cache.exact_redis import RedisExactBackend, RedisExactConfig
    from gateway.auth import Principal
    from gateway.cache_layer import CacheLayer

    dead = RedisExactBackend(RedisExactConfig(url="redis://127.0.0.1:1/0", namespace="t:", default_ttl_s=60))
    layer = CacheLayer(ResponseCache(dead, None))
    principal = Principal(key_id="k1", role="user", tenant_id="t1", tenant_name="t", allowed_models=frozenset())
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}
    lookup = asyncio.run(layer.lookup(principal, body, None, {}))
    assert lookup.status.value == "bypass" and not lookup.hit

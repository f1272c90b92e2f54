"""Chat completions through the gateway with the official openai SDK, against a fake upstream."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from billing.money import format_usd
from billing.prices import PriceBook
from billing.usage import TokenUsage
from tests.fakes.openai_upstream import prompt_tokens_of

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is the capital of France?"}]


def test_non_streaming_chat_is_answered_billed_and_recorded(gateway, fake_openai):
    client = gateway.openai()
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES, temperature=0, seed=7, user="u-1")
    completion = raw.parse()

    assert completion.choices[0].message.content == "echo: What is the capital of France?"
    sent = fake_openai.requests[-1]
    assert sent["model"] == "gpt-4o-mini" and sent["temperature"] == 0 and sent["seed"] == 7 and sent["user"] == "u-1"

    expected_usage = TokenUsage(prompt_tokens=prompt_tokens_of(sent), completion_tokens=7)
    assert completion.usage.prompt_tokens == expected_usage.prompt_tokens
    expected_cost = PriceBook().price_for("x", "openai/gpt-4o-mini").cost_nanos(expected_usage)
    assert expected_cost > 0
    assert raw.headers["x-tokenmill-cost-usd"] == format_usd(expected_cost)
    assert raw.headers["x-tokenmill-model"] == "gpt-4o-mini"
    assert "tier=cheap" in raw.headers["x-tokenmill-route"]

    row = gateway.wait_for_usage(raw.headers["x-request-id"])
    assert (row.prompt_tokens, row.completion_tokens, row.cost_nanos) == (expected_usage.prompt_tokens, 7, expected_cost)
    assert row.model_requested == "gpt-4o-mini" and row.deployment.startswith("gpt-4o-mini@") and row.status_code == 200
    assert row.tenant_id and row.key_id and not row.stream


def test_sampling_parameters_pass_through_untouched(gateway, fake_openai):
    client = gateway.openai()
    client.chat.completions.create(
        model="gpt-4o",
        messages=MESSAGES,
        n=2,
        stop=["\n\n", "END"],
        top_p=0.5,
        max_tokens=64,
        max_completion_tokens=64,
        logprobs=True,
        top_logprobs=2,
        response_format={"type": "json_schema", "json_schema": {"name": "capital", "schema": {"type": "object", "properties": {"city": {"type": "string"}}}}},
        presence_penalty=0.1,
        frequency_penalty=0.2,
        metadata={"purpose": "test"},
        extra_body={"vendor_specific": {"x": 1}},
    )
    sent = fake_openai.requests[-1]
    assert sent["n"] == 2 and sent["stop"] == ["\n\n", "END"] and sent["top_p"] == 0.5
    assert sent["max_tokens"] == 64 and sent["max_completion_tokens"] == 64
    assert sent["logprobs"] is True and sent["top_logprobs"] == 2
    assert sent["response_format"]["json_schema"]["name"] == "capital"
    assert sent["metadata"] == {"purpose": "test"} and sent["vendor_specific"] == {"x": 1}


def test_streaming_with_usage_ends_with_usage_chunk_and_cost_comment(gateway, fake_openai):
    client = gateway.openai()
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    ) as response:
        request_id = response.headers["x-request-id"]
        assert response.headers["x-tokenmill-cost-usd"] == "streaming"
        raw_lines = list(response.iter_lines())
    chunks = [json.loads(line[6:]) for line in raw_lines if line.startswith("data: {")]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "echo: What is the capital of France?"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 7
    cost_line = next(line for line in raw_lines if line.startswith(": x-tokenmill-cost-usd"))
    assert [line for line in raw_lines if line][-1] == "data: [DONE]"

    row = gateway.wait_for_usage(request_id)
    assert row.stream and row.completion_tokens == 7 and row.status_code == 200
    assert cost_line.split()[-1] == format_usd(row.cost_nanos) and row.cost_nanos > 0
    assert row.ttft_ms is not None and row.ttft_ms <= row.latency_ms


def test_streaming_without_usage_hides_the_injected_usage_chunk(gateway, fake_openai):
    client = gateway.openai()
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    chunks = list(stream)
    assert all(chunk.choices for chunk in chunks), "the client did not ask for a usage chunk"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "echo: What is the capital of France?"
    # ...but the gateway asked the upstream for one, so the bill uses the upstream's numbers.
    assert fake_openai.requests[-1]["stream_options"] == {"include_usage": True}


WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather for a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
}


def test_tool_calls_pass_through(gateway, fake_openai):
    client = gateway.openai()
    completion = client.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, tools=[WEATHER_TOOL], tool_choice="auto", parallel_tool_calls=False
    )
    call = completion.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris", "unit": "celsius"}
    sent = fake_openai.requests[-1]
    assert sent["tools"] == [WEATHER_TOOL] and sent["tool_choice"] == "auto" and sent["parallel_tool_calls"] is False

    # The follow-up turn carries the assistant's tool call and the tool's answer.
    follow_up = client.chat.completions.create(
        model="gpt-4o",
        messages=MESSAGES
        + [completion.choices[0].message.model_dump(exclude_none=True), {"role": "tool", "tool_call_id": call.id, "content": "18C and sunny"}],
    )
    assert follow_up.choices[0].message.content.startswith("echo:")


def test_streamed_tool_call_deltas_arrive_intact(gateway):
    client = gateway.openai()
    stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, tools=[WEATHER_TOOL], stream=True)
    name, arguments, finish = "", "", None
    for chunk in stream:
        for delta_call in chunk.choices[0].delta.tool_calls or []:
            name += delta_call.function.name or ""
            arguments += delta_call.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert name == "get_weather" and json.loads(arguments)["city"] == "Paris" and finish == "tool_calls"


def test_custom_tools_pass_through_whole_streamed_and_cached(gateway, fake_openai):
    # GPT-5's free-form tools (apply_patch and the like): type "custom", the call carries input text.
    patch_tool = {"type": "custom", "custom": {"name": "apply_patch", "description": "Apply a diff", "format": {"type": "text"}}}
    client = gateway.openai()
    whole = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES, tools=[patch_tool], temperature=0)
    call = whole.parse().choices[0].message.tool_calls[0]
    assert (call.type, call.custom.name, call.custom.input) == ("custom", "apply_patch", "*** Begin Patch\n*** End Patch")
    assert fake_openai.requests[-1]["tools"] == [patch_tool]
    assert gateway.wait_for_usage(whole.headers["x-request-id"]).completion_tokens > 0
    history = [*MESSAGES, whole.parse().choices[0].message.model_dump(exclude_none=True), {"role": "tool", "tool_call_id": call.id, "content": "applied"}]
    assert client.chat.completions.create(model="gpt-4o", messages=history).choices[0].message.content.startswith("echo:")
    # Streamed from the upstream, and replayed from the exact cache (the whole answer above), the input arrives whole.
    for seed, expect_cache in ((7, "miss"), (None, "hit-exact")):
        raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES, tools=[patch_tool], temperature=0, stream=True, seed=seed)
        assert raw.headers["x-tokenmill-cache"] == expect_cache
        deltas = [d.model_dump() for c in raw.parse() if c.choices for d in c.choices[0].delta.tool_calls or []]
        assert "".join((d.get("custom") or {}).get("input") or "" for d in deltas) == "*** Begin Patch\n*** End Patch"


@pytest.mark.parametrize("how", ["header", "metadata"])
def test_run_id_is_recorded_and_summed(gateway, how):
    key = gateway.new_key("runs-tenant")
    client = gateway.openai(key)
    run = f"run-{how}"
    request_ids = []
    for _ in range(3):
        if how == "header":
            raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES, extra_headers={"x-tokenmill-run": run})
        else:
            raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES, metadata={"run_id": run})
        request_ids.append(raw.headers["x-request-id"])
    rows = [gateway.wait_for_usage(r) for r in request_ids]
    assert {r.run_id for r in rows} == {run}
    with gateway.http(gateway.admin_key) as http:
        spend = http.get(f"/admin/api/runs/{run}").json()
    assert spend["calls"] == 3 and spend["cost_nanos"] == sum(r.cost_nanos for r in rows)


def test_control_characters_in_run_ids_and_model_names_do_not_lose_the_row(gateway):
    client = gateway.openai(gateway.new_key("nul-tenant"))
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES, metadata={"run_id": "run\x00-ctl\t"})
    assert gateway.wait_for_usage(raw.headers["x-request-id"]).run_id == "run-ctl"  # as the budget counters key it
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="gpt\x00-4o", messages=MESSAGES)
    row = gateway.wait_for_usage(missing.value.response.headers["x-request-id"])
    assert row.status_code == 404 and row.model_requested == "gpt\ufffd-4o"  # PostgreSQL text holds no NUL


def test_completions_and_embeddings(gateway, fake_openai):
    client = gateway.openai()
    completion = client.completions.create(model="instruct", prompt="Say hi", max_tokens=5)
    assert completion.choices[0].text == "echo: Say hi"
    streamed = "".join(c.choices[0].text for c in client.completions.create(model="instruct", prompt="Say hi", stream=True) if c.choices)
    assert streamed == "echo: Say hi"

    raw = client.embeddings.with_raw_response.create(model="embedder", input=["a", "b"])
    embeddings = raw.parse()
    assert len(embeddings.data) == 2 and len(embeddings.data[0].embedding) == 8
    row = gateway.wait_for_usage(raw.headers["x-request-id"])
    assert row.endpoint == "embeddings" and row.prompt_tokens == embeddings.usage.prompt_tokens and row.cost_nanos > 0


def test_models_lists_what_the_key_may_use(gateway):
    everything = {m.id for m in gateway.openai().models.list()}
    assert {"gpt-4o", "gpt-4o-mini", "claude", "embedder"} <= everything
    limited = gateway.openai(gateway.new_key(allowed_models=["gpt-4o-mini"]))
    assert [m.id for m in limited.models.list()] == ["gpt-4o-mini"]
    assert limited.models.retrieve("gpt-4o-mini").id == "gpt-4o-mini"


def test_anthropic_through_litellm_in_openai_shape(gateway, fake_anthropic):
    client = gateway.openai()
    raw = client.chat.completions.with_raw_response.create(model="claude", messages=MESSAGES, max_tokens=100)
    completion = raw.parse()
    assert completion.choices[0].message.content == "claude says: What is the capital of France?"
    assert completion.usage.completion_tokens == 8
    row = gateway.wait_for_usage(raw.headers["x-request-id"])
    assert row.provider == "anthropic" and row.completion_tokens == 8 and row.cost_nanos > 0

    stream = client.chat.completions.create(model="claude", messages=MESSAGES, max_tokens=100, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "claude says: What is the capital of France?"
    assert any(c.usage and c.usage.completion_tokens == 8 for c in chunks)
    # The client sees the gateway's price (the cost comment), never litellm's wholesale one.
    assert all("cost" not in (c.usage.model_extra or {}) for c in chunks if c.usage)


def test_client_fields_cannot_steer_where_litellm_sends_the_key(gateway, fake_openai, fake_anthropic):
    """litellm reads base_url, api_key, mock_response... as its own options: from a client's body
    they would send the deployment's Anthropic key to the client's host, or invent an answer."""
    before_anthropic, before_openai = len(fake_anthropic.requests), len(fake_openai.requests)
    extra = {"base_url": fake_openai.base_url, "api_base": fake_openai.base_url, "api_key": "sk-client", "mock_response": "free lunch",
             "custom_llm_provider": "openai", "extra_headers": {"x-api-key": "sk-client"}}
    reply = gateway.openai().chat.completions.create(model="claude", messages=MESSAGES, max_tokens=20, extra_body=extra)
    assert reply.choices[0].message.content == "claude says: What is the capital of France?"
    assert len(fake_anthropic.requests) == before_anthropic + 1 and len(fake_openai.requests) == before_openai


@pytest.mark.parametrize("extra", [{"n": 2}, {"logprobs": True}, {"logprobs": True, "top_logprobs": 3}])
def test_parameters_a_provider_lacks_are_refused_not_dropped(gateway, fake_anthropic, extra):
    """litellm would drop them: n=2 would come back as one choice, logprobs as none."""
    before = len(fake_anthropic.requests)
    with pytest.raises(openai.BadRequestError) as caught:
        gateway.openai().chat.completions.create(model="claude", messages=MESSAGES, max_tokens=20, **extra)
    error = caught.value.body
    assert error["code"] == "unsupported_parameter" and "does not support" in error["message"] and "anthropic" in error["message"]
    assert len(fake_anthropic.requests) == before
    row = gateway.wait_for_usage(caught.value.response.headers["x-request-id"])
    assert row.status_code == 400
    reply = gateway.openai().chat.completions.create(model="claude", messages=MESSAGES, max_tokens=20, n=1, logprobs=False)
    assert len(reply.choices) == 1  # n=1 and logprobs=false ask for nothing a provider could lack


def test_an_anthropic_stream_cut_before_its_stop_reason_ends_in_an_error_not_a_finish(gateway, fake_anthropic):
    """litellm would close it with finish_reason "stop": a truncated answer passed off as whole."""
    fake_anthropic.truncated_streams = 1
    key = gateway.new_key()
    with httpx.Client(base_url=gateway.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as http:
        body = {"model": "claude", "messages": MESSAGES, "max_tokens": 100, "stream": True}
        with http.stream("POST", "/chat/completions", json=body) as response:
            request_id = response.headers["x-request-id"]
            sent = b"".join(response.iter_bytes())
    events = [json.loads(line[6:]) for line in sent.decode().splitlines() if line.startswith("data: {")]
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e.get("choices"))
    assert text == "claude says: " and events[-1]["error"]["code"] == "upstream_stream_broken", sent
    assert not any(c.get("finish_reason") for e in events for c in e.get("choices") or ())
    row = gateway.wait_for_usage(request_id)
    assert row.status_code == 502 and row.error_type == "upstream_stream_broken" and row.completion_tokens > 0


def test_an_error_event_before_any_text_is_retried_like_an_error_status(gateway, fake_anthropic):
    fake_anthropic.overloaded_streams = 1
    before = len(fake_anthropic.requests)
    stream = gateway.openai().chat.completions.create(model="claude", messages=MESSAGES, max_tokens=100, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "claude says: What is the capital of France?"
    assert len(fake_anthropic.requests) == before + 2  # the overloaded stream, then the retry that answered

"""The embedded default end to end: the bundled SmolLM2 answers through the gateway."""

from __future__ import annotations

import json

import openai
import pytest

from tests.support.gateway import start_gateway


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):  # noqa: ANN201
    tmp = tmp_path_factory.mktemp("embedded")
    gw = start_gateway(f"sqlite:///{tmp}/embedded.db", str(tmp))  # no model_list: the embedded default
    yield gw
    gw.stop()


@pytest.mark.slow
def test_bundled_model_answers_a_chat_with_coherent_text(embedded):
    client = embedded.openai(timeout=300)
    raw = client.chat.completions.with_raw_response.create(
        model="tokenmill-local", messages=[{"role": "user", "content": "What is the capital of France?"}], temperature=0, max_tokens=24
    )
    reply = raw.parse()
    assert "Paris" in reply.choices[0].message.content
    assert raw.headers["x-tokenmill-model"] == "tokenmill-local" and "tier=local" in raw.headers["x-tokenmill-route"]
    row = embedded.wait_for_usage(raw.headers["x-request-id"])
    assert row.prompt_tokens == reply.usage.prompt_tokens > 0 and row.completion_tokens == reply.usage.completion_tokens > 0
    assert row.cost_nanos > 0  # local work is never free in the books

    chunks = list(
        client.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "Say hello."}], max_tokens=8, stream=True, stream_options={"include_usage": True}
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip()
    assert chunks[-1].usage.completion_tokens > 0
    with embedded.http() as http:
        assert http.get("/readyz").json()["local_engine"] == "ready" and http.get("/healthz").json() == {"status": "ok"}


@pytest.mark.slow
def test_bundled_embedder_serves_embeddings(embedded):
    result = embedded.openai().embeddings.create(model="tokenmill-embed", input=["first text", "second text"])
    assert len(result.data) == 2 and len(result.data[0].embedding) == 384 and result.usage.prompt_tokens > 0


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city", "unit"],
        },
    },
}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}}}
ASK = [{"role": "user", "content": "What's the weather in Paris right now?"}]


@pytest.mark.slow
@pytest.mark.parametrize("stream", [False, True])
def test_a_forced_tool_choice_makes_the_small_model_call_that_tool_with_fitting_arguments(embedded, stream):
    client = embedded.openai(timeout=300)
    forced = {"type": "function", "function": {"name": "get_weather"}}
    kwargs = {"model": "tokenmill-local", "messages": ASK, "tools": [TIME, WEATHER], "tool_choice": forced, "temperature": 0, "max_tokens": 60}
    if stream:
        chunks = list(client.chat.completions.create(stream=True, **kwargs))
        assert {c.model for c in chunks} == {"smollm2-135m-instruct"}  # the same name as a non-streamed reply
        deltas = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
        assert len(deltas) == 1 and chunks[-1].choices[0].finish_reason == "tool_calls"
        name, arguments = deltas[0].function.name, deltas[0].function.arguments
    else:
        reply = client.chat.completions.create(**kwargs)
        assert reply.model == "smollm2-135m-instruct" and reply.choices[0].finish_reason == "tool_calls"
        (call,) = reply.choices[0].message.tool_calls
        name, arguments = call.function.name, call.function.arguments
    args = json.loads(arguments)
    assert name == "get_weather" and set(args) == {"city", "unit"} and args["unit"] in ("celsius", "fahrenheit")


@pytest.mark.slow
def test_tool_choice_required_none_and_bad_choices(embedded):
    client = embedded.openai(timeout=300)
    base = {"model": "tokenmill-local", "messages": ASK, "temperature": 0, "max_tokens": 40}
    required = client.chat.completions.create(tools=[TIME, WEATHER], tool_choice="required", **base)
    assert required.choices[0].message.tool_calls[0].function.name in ("get_time", "get_weather")
    plain = client.chat.completions.create(tools=[TIME, WEATHER], tool_choice="none", **base)
    assert plain.choices[0].message.tool_calls is None and plain.choices[0].message.content
    for choice, message in (({"type": "function", "function": {"name": "nope"}}, "not among 'tools'"), ("sometimes", "tool_choice")):
        with pytest.raises(openai.BadRequestError, match=message):
            client.chat.completions.create(tools=[WEATHER], tool_choice=choice, **base)


def test_an_embedding_only_local_deployment_does_not_load_the_chat_model(tmp_path):
    embed_only = [{"model_name": "embed", "litellm_params": {"model": "local/all-minilm-l6-v2"}, "model_info": {"tier": "local", "mode": "embedding"}}]
    gw = start_gateway(f"sqlite:///{tmp_path}/embed.db", str(tmp_path), model_list=embed_only)
    try:
        result = gw.openai().embeddings.create(model="embed", input=["one text"])
        assert len(result.data[0].embedding) == 384
        with gw.http() as http:
            assert http.get("/readyz").json()["local_engine"] == "idle"  # no SmolLM2 in memory for nothing
    finally:
        gw.stop()


@pytest.mark.slow
def test_a_whole_answer_whose_client_left_stops_the_local_engine(embedded):
    import httpx

    engine = embedded.services.providers["local"]
    embedded.openai(timeout=300).chat.completions.create(model="tokenmill-local", messages=[{"role": "user", "content": "hi"}], max_tokens=1)
    body = {"model": "tokenmill-local", "messages": [{"role": "user", "content": "Count to a thousand."}], "max_tokens": 2000, "ignore_eos": True}
    with httpx.Client(base_url=embedded.url, headers={"Authorization": f"Bearer {embedded.new_key()}"}, timeout=1.0) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.post("/v1/chat/completions", json=body)
    embedded.wait_until(lambda: engine._engine.num_requests() == 0, timeout=5)  # 2,000 tokens would take minutes
    embedded.wait_until(lambda: any(r.error_type == "client_disconnected" for r in embedded.usage_rows(status_code=499)), timeout=5)

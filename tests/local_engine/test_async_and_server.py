"""AsyncEngine streaming and cancellation, and the OpenAI-compatible HTTP surface (tiny model)."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import numpy as np
import pytest

from local_engine.async_engine import AsyncEngine, GenerateRequest
from local_engine.config import EngineConfig
from local_engine.engine import RequestError
from local_engine.sequence import SamplingParams
from local_engine.server import build_app


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    folder, _ = tiny_model_dir("llama")
    eng = AsyncEngine(EngineConfig(model=str(folder), block_size=4, num_kv_blocks=128, served_model_name="tiny"))
    yield eng
    eng.shutdown()


def _client(engine) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=build_app(engine)), base_url="http://engine")


def test_streams_token_by_token_and_matches_sync_result(engine):
    params = SamplingParams(max_tokens=12, temperature=0, ignore_eos=True)

    async def run():
        deltas = [o async for o in engine.generate(GenerateRequest(params=params, prompt_token_ids=[5, 6, 7, 8]))]
        whole = await engine.complete(GenerateRequest(params=params, prompt_token_ids=[5, 6, 7, 8]))
        return deltas, whole

    deltas, whole = asyncio.run(run())
    assert deltas[-1].finished and deltas[-1].finish_reason == "length"
    assert sum(len(d.token_ids) for d in deltas) == 12 == whole.completion_tokens
    assert [t for d in deltas for t in d.token_ids] == whole.token_ids
    assert "".join(d.text for d in deltas) == whole.text


def test_concurrent_requests_are_batched(engine):
    params = SamplingParams(max_tokens=8, temperature=0, ignore_eos=True)

    async def run():
        reqs = [GenerateRequest(params=params, prompt_token_ids=[i + 1] * (3 + i)) for i in range(6)]
        return await asyncio.gather(*(engine.complete(r) for r in reqs))

    results = asyncio.run(run())
    assert [r.completion_tokens for r in results] == [8] * 6


def test_cancelling_a_stream_frees_its_blocks(engine):
    params = SamplingParams(max_tokens=400, temperature=0, ignore_eos=True)
    total = engine.engine.block_manager.num_blocks

    async def run():
        stream = engine.generate(GenerateRequest(params=params, prompt_token_ids=list(range(1, 30))))
        got = 0
        async for out in stream:
            got += len(out.token_ids)
            if got >= 3:
                break
        await stream.aclose()
        for _ in range(200):
            if engine.num_requests() == 0:
                break
            await asyncio.sleep(0.01)

    asyncio.run(run())
    assert engine.num_requests() == 0
    assert engine.engine.block_manager.num_free_blocks == total


def test_request_errors_surface(engine):
    async def run(req):
        return [o async for o in engine.generate(req)]

    with pytest.raises(RequestError, match="context") as too_long:
        asyncio.run(run(GenerateRequest(prompt_token_ids=[1] * 600)))
    assert too_long.value.code == "context_length_exceeded"  # so a gateway can try a larger model
    with pytest.raises(RequestError, match="token ids"):
        asyncio.run(run(GenerateRequest(prompt_token_ids=[10_000])))


def test_chat_completion_with_tools_and_usage(engine):
    tools = [{"type": "function", "function": {"name": "lookup_weather", "parameters": {"type": "object"}}}]

    async def run():
        async with _client(engine) as c:
            return await c.post(
                "/v1/chat/completions",
                json={
                    "model": "tiny",
                    "messages": [{"role": "user", "content": "hi"}],
                    "tools": tools,
                    "max_tokens": 5,
                    "temperature": 0,
                    "logprobs": True,
                    "top_logprobs": 2,
                },
            )

    r = asyncio.run(run())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion" and body["model"] == "tiny"
    assert body["choices"][0]["finish_reason"] in ("length", "stop")
    lp = body["choices"][0]["logprobs"]["content"]
    assert len(lp) == body["usage"]["completion_tokens"] and len(lp[0]["top_logprobs"]) == 2
    # the byte tokenizer's template ignores tools, so they were put in the system prompt: one token per byte
    plain = engine.tokenizer.encode_chat([{"role": "user", "content": "hi"}])
    assert body["usage"]["prompt_tokens"] > len(plain) + len("lookup_weather")


def test_chat_stream_sse(engine):
    async def run():
        async with _client(engine) as c:
            r = await c.post(
                "/v1/chat/completions",
                json={
                    "messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}]}],
                    "stream": True,
                    "max_tokens": 6,
                    "temperature": 0,
                    "stream_options": {"include_usage": True},
                    "ignore_eos": True,
                },
            )
            return r

    r = asyncio.run(run())
    lines = [ln[6:] for ln in r.text.split("\n\n") if ln.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    chunks = [json.loads(x) for x in lines[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["usage"]["completion_tokens"] == 6


def test_completions_models_health_and_errors(engine):
    async def run():
        async with _client(engine) as c:
            comp = await c.post("/v1/completions", json={"prompt": "abc", "max_tokens": 4, "temperature": 0, "seed": 3})
            models = await c.get("/v1/models")
            health = await c.get("/healthz")
            bad = await c.post("/v1/chat/completions", json={"messages": []})
            bad_n = await c.post("/v1/completions", json={"prompt": "x", "n": 2})
            bad_json = await c.post("/v1/completions", content=b"{nope")
            bad_seed = await c.post("/v1/completions", json={"prompt": "x", "seed": "abc"})
            bad_schema = await c.post(
                "/v1/chat/completions",
                json={
                    "messages": [{"role": "user", "content": "x"}],
                    "stream": True,
                    "response_format": {"type": "json_schema", "json_schema": {"schema": {"type": "no-such-type"}}},
                },
            )
            return comp, models, health, bad, bad_n, bad_json, bad_seed, bad_schema

    comp, models, health, *errors = asyncio.run(run())
    assert comp.status_code == 200 and comp.json()["usage"]["completion_tokens"] <= 4
    assert models.json()["data"][0]["id"] == "tiny"
    assert health.json()["status"] == "ok"
    for r in errors:
        assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error", r.text


def test_embeddings_route(engine):
    async def run():
        async with _client(engine) as c:
            ok = await c.post("/v1/embeddings", json={"input": ["a cat", "a dog"]})
            packed = await c.post("/v1/embeddings", json={"input": ["a cat", "a dog"], "encoding_format": "base64"})
            bad = [await c.post("/v1/embeddings", json={"input": ["x"], **extra})
                   for extra in ({"model": "nope"}, {"dimensions": 8}, {"encoding_format": "hex"})]
            return ok, packed, bad

    ok, packed, bad = asyncio.run(run())
    assert ok.status_code == 200, ok.text
    vecs = [d["embedding"] for d in ok.json()["data"]]
    assert len(vecs) == 2 and len(vecs[0]) == len(vecs[1]) > 0
    # base64 (the openai SDK's default request): little-endian float32, the same vectors
    unpacked = [np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in packed.json()["data"]]
    assert all(np.allclose(u, v, atol=1e-6) for u, v in zip(unpacked, vecs, strict=True))
    assert [r.status_code for r in bad] == [400, 400, 400]


def test_sampling_defaults_apply_only_where_the_request_is_silent(engine):
    from local_engine.openai_serving import FALLBACK_SAMPLING, OpenAIServing

    serving = OpenAIServing(engine)
    assert serving.sampling_defaults == (engine.engine.model_config.sampling_defaults or FALLBACK_SAMPLING)
    quiet = serving.chat_request({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}).gen.params
    assert (quiet.temperature, quiet.top_p) == (serving.sampling_defaults["temperature"], serving.sampling_defaults.get("top_p", 1.0))
    explicit = serving.chat_request({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, "temperature": 0, "top_p": 1}).gen.params
    assert (explicit.temperature, explicit.top_p) == (0.0, 1.0)
    custom = OpenAIServing(engine, sampling_defaults={"temperature": 0.7})
    assert custom.completion_request({"prompt": "x", "max_tokens": 2}).gen.params.temperature == 0.7


def test_no_request_can_break_the_engine_for_the_next_one(engine):
    """Values that once failed an engine step (and so every request after it): each is a 400, or
    is served; the engine answers a plain request afterwards."""
    chat = {"messages": [{"role": "user", "content": "x"}], "max_tokens": 3}
    refused = [{"seed": 10**30}, {"seed": -(2**64)}, {"stream_options": 1, "stream": True}, {"max_tokens": 1e400}, {"temperature": float("nan")}]
    served = [{"top_k": 10**30}, {"temperature": 1e-300, "seed": 5}, {"temperature": 1e-300}, {"seed": 2**64 - 1, "temperature": 1}]

    async def run():
        async with _client(engine) as c:
            statuses = []
            for extra in refused + served:
                body = json.dumps({**chat, **extra}, allow_nan=True)  # NaN and 1e400 (inf) as a lenient client sends them
                statuses.append((await c.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})).status_code)
            after = await c.post("/v1/chat/completions", json=chat)
            return statuses, after, await c.get("/healthz")

    statuses, after, health = asyncio.run(run())
    assert statuses == [400] * len(refused) + [200] * len(served)
    assert after.status_code == 200 and health.status_code == 200 and engine.failure is None


def test_a_failed_engine_loop_fails_its_requests_and_the_health_check(tiny_model_dir, monkeypatch):
    folder, _ = tiny_model_dir("llama")
    eng = AsyncEngine(EngineConfig(model=str(folder), block_size=4, num_kv_blocks=64, served_model_name="tiny"))

    def broken_step():  # a fault injected where a bug or an out-of-memory error would strike
        raise RuntimeError("CUDA out of memory (injected)")

    monkeypatch.setattr(eng.engine, "step", broken_step)

    async def run():
        async with _client(eng) as c:
            call = await c.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}], "max_tokens": 3})
            return call, await c.get("/healthz")

    try:
        call, health = asyncio.run(run())
    finally:
        eng.shutdown()
    assert call.status_code == 503 and "out of memory" in call.json()["error"]["message"]
    assert health.status_code == 503 and health.json()["status"] == "failed"


def test_a_stream_with_tools_carries_every_tokens_logprobs(engine):
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]  # the tiny model's context is short
    body = {"messages": [{"role": "user", "content": "f"}], "max_tokens": 8, "temperature": 0, "ignore_eos": True,
            "logprobs": True, "tools": tools, "stream_options": {"include_usage": True}}

    async def run():
        async with _client(engine) as c:
            streamed = await c.post("/v1/chat/completions", json={**body, "stream": True, "tool_choice": "required"})
            whole = await c.post("/v1/chat/completions", json={**body, "tool_choice": "required"})
            return streamed, whole

    streamed, whole = asyncio.run(run())
    assert whole.status_code == 200, whole.text
    chunks = [json.loads(x[6:]) for x in streamed.text.split("\n\n") if x.startswith("data: {")]
    entries = [e for c in chunks if c["choices"] and c["choices"][0]["logprobs"] for e in c["choices"][0]["logprobs"]["content"]]
    # the forced call is held back whole, its tokens' logprobs too: they arrive with the tool call
    assert [e["token"] for e in entries] == [e["token"] for e in whole.json()["choices"][0]["logprobs"]["content"]]
    assert len(entries) == chunks[-1]["usage"]["completion_tokens"] > 0

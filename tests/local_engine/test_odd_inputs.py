"""The engine's own OpenAI server: every field given values of the wrong type or out of range is a
400 (or is served), and no request leaves the engine unable to serve the next one."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from local_engine.async_engine import AsyncEngine
from local_engine.config import EngineConfig
from local_engine.server import build_app

ODD_VALUES: tuple[Any, ...] = (None, 0, -1, 1.5, "x", "", [], {}, [1], ["a"], [{"a": 1}], True, "\u0000", 10**30, 1e300)
CALLS: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "/v1/chat/completions": (
        {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2},
        ("messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "n", "stop", "stop_token_ids", "seed", "logprobs",
         "top_logprobs", "tools", "tool_choice", "response_format", "stream_options", "repetition_penalty", "presence_penalty", "frequency_penalty"),
    ),
    "/v1/completions": ({"prompt": "hi", "max_tokens": 2}, ("prompt", "max_tokens", "temperature", "seed", "logprobs", "stop", "echo")),
}
LONG = {"max_tokens", "max_completion_tokens"}  # huge values are legal: generation runs to the context's end


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    folder, _ = tiny_model_dir("llama")
    eng = AsyncEngine(EngineConfig(model=str(folder), block_size=4, num_kv_blocks=256, served_model_name="tiny"))
    yield eng
    eng.shutdown()


@pytest.mark.parametrize("path", list(CALLS))
def test_odd_field_values_never_break_the_engine(engine, path):
    base, fields = CALLS[path]

    async def run() -> list[tuple[str, str, int]]:
        failures = []
        transport = httpx.ASGITransport(app=build_app(engine))
        async with httpx.AsyncClient(transport=transport, base_url="http://engine", timeout=60) as client:
            for field in fields:
                for value in ODD_VALUES:
                    if field in LONG and isinstance(value, (int, float)) and value > 10**6:
                        continue
                    response = await client.post(path, json={**base, field: value})
                    if response.status_code >= 500 or (response.status_code >= 400 and "message" not in response.json().get("error", {})):
                        failures.append((field, repr(value)[:20], response.status_code))
            after = await client.post(path, json=base)
            failures += [("(a plain call after them)", "", after.status_code)] if after.status_code != 200 else []
        return failures

    assert asyncio.run(run()) == []
    assert engine.failure is None


def _calls(engine, *requests: tuple[str, str, dict[str, Any] | None]) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=build_app(engine))
        async with httpx.AsyncClient(transport=transport, base_url="http://engine", timeout=60) as client:
            return [await client.request(method, path, json=body) for method, path, body in requests]

    return asyncio.run(run())


def test_malformed_nested_fields_are_400s_and_nulls_mean_the_default(engine):
    chat = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": None}, {"role": "tool", "content": "x"}]
    responses = _calls(
        engine,
        ("POST", "/v1/chat/completions", {**chat, "response_format": {"type": "json_schema", "json_schema": "abc"}}),
        ("POST", "/v1/chat/completions", {**chat, "messages": [{**history[1], "tool_calls": 5}, history[0]]}),
        ("POST", "/v1/chat/completions", {**chat, "messages": [{**history[1], "tool_calls": [{"function": "oops"}]}, history[0]]}),
        ("POST", "/v1/chat/completions", {**chat, "n": None}),
        ("POST", "/v1/completions", {"prompt": "hi", "max_tokens": 2, "n": None}),
    )
    assert [r.status_code for r in responses] == [400, 400, 400, 200, 200]
    assert all(r.json()["error"]["type"] == "invalid_request_error" for r in responses[:3])


def test_unknown_routes_and_models_answer_in_openais_shape(engine):
    missing, wrong_method, card, other = _calls(
        engine, ("GET", "/v1/nothing", None), ("GET", "/v1/chat/completions", None), ("GET", "/v1/models/tiny", None), ("GET", "/v1/models/gpt-4o", None)
    )
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    assert (wrong_method.status_code, wrong_method.json()["error"]["code"]) == (405, "method_not_allowed")
    assert card.status_code == 200 and card.json()["id"] == "tiny"
    assert (other.status_code, other.json()["error"]["code"]) == (404, "model_not_found")


def test_logprobs_cover_exactly_the_returned_text(engine):
    from local_engine.async_engine import GenerateRequest
    from local_engine.sequence import SamplingParams

    def complete(**params: Any):  # noqa: ANN202
        request = GenerateRequest(params=SamplingParams(max_tokens=8, temperature=0, logprobs=True, ignore_eos=True, **params), prompt="hello world")
        return asyncio.run(engine.complete(request))

    free = complete()
    ids = free.token_ids
    assert len(free.logprobs) == len(ids) == 8
    # A stop token ends the reply without being part of its text: no logprob for it.
    cut = next(i for i in range(1, len(ids)) if ids[i] not in ids[:i])
    stopped = complete(stop_token_ids=[ids[cut]])
    assert stopped.finish_reason == "stop" and [lp.token_id for lp in stopped.logprobs] == ids[:cut]
    # A stop string cuts the text; the tokens past the cut lose their logprobs too.
    tok = engine.tokenizer
    at = next(i for i in range(1, len(ids)) if tok.decode(ids[i : i + 1]).strip() and tok.decode(ids[i : i + 1]) not in tok.decode(ids[:i]))
    by_string = complete(stop=[tok.decode(ids[at : at + 1])])
    assert by_string.text == tok.decode(ids[:at]) and [lp.token_id for lp in by_string.logprobs] == ids[:at]

    async def streamed() -> tuple[str, list[int]]:  # streamed, a token's logprob goes out with its text
        request = GenerateRequest(params=SamplingParams(max_tokens=8, temperature=0, logprobs=True, ignore_eos=True, stop=[tok.decode(ids[at : at + 1])]), prompt="hello world")
        text, sent = "", []
        async for out in engine.generate(request):
            text += out.text
            sent += [lp.token_id for lp in out.logprobs or ()]
            assert len(tok.decode(sent)) <= len(text)
        return text, sent

    assert asyncio.run(streamed()) == (tok.decode(ids[:at]), ids[:at])


def test_completion_logprobs_give_each_tokens_text_offset(engine):
    (reply,) = _calls(engine, ("POST", "/v1/completions", {"prompt": "hello world", "max_tokens": 6, "temperature": 0, "logprobs": 1, "ignore_eos": True}))
    lp = reply.json()["choices"][0]["logprobs"]
    assert len(lp["tokens"]) == 6 and lp["text_offset"] == [sum(len(t) for t in lp["tokens"][:i]) for i in range(6)]


def test_a_whole_answer_is_abandoned_when_its_client_goes_away(engine):
    import time

    from local_engine.openai_serving import OpenAIServing
    from local_engine.server import _unless_disconnected

    class GoneClient:
        async def is_disconnected(self) -> bool:
            return True

    serving = OpenAIServing(engine)
    prepared = serving.chat_request({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4000, "ignore_eos": True})

    steps = engine.engine.stats["steps"]

    async def run() -> Any:
        reply = await _unless_disconnected(GoneClient(), serving.chat(prepared), poll_seconds=0.001)
        deadline = time.monotonic() + 10
        while engine.num_requests() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return reply

    started = time.monotonic()
    reply = asyncio.run(run())
    assert reply.status_code == 499 and engine.num_requests() == 0 and time.monotonic() - started < 10
    assert engine.engine.stats["steps"] - steps < 100  # run out, it would take ~500 steps to the context's end


def test_a_message_role_that_is_not_a_string_is_a_400_and_flags_are_not_guessed(engine):
    chat = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    responses = _calls(
        engine,
        *[("POST", "/v1/chat/completions", {**chat, "messages": [{"role": role, "content": "hi"}]}) for role in (5, None, ["user"])],
        ("POST", "/v1/chat/completions", {**chat, "stream": "false"}),
        ("POST", "/v1/chat/completions", {**chat, "stream": None}),
    )
    assert [r.status_code for r in responses] == [400, 400, 400, 400, 200]
    assert all("role must be a string" in r.json()["error"]["message"] for r in responses[:3])
    assert responses[3].json()["error"]["message"] == "'stream' must be true or false"

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

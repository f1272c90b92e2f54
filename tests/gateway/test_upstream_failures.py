"""Retries with backoff, fallbacks, timeouts and upstream failures, as the client sees them."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest

from billing.tokens import count_text_tokens
from tests.fakes.openai_upstream import Failure

MESSAGES = [{"role": "user", "content": "hello there"}]


def test_5xx_is_retried_then_served(gateway, fake_openai):
    fake_openai.script("flaky-upstream", failures=[Failure(500), Failure(503)])
    raw = gateway.openai().chat.completions.with_raw_response.create(model="flaky", messages=MESSAGES)
    assert raw.parse().choices[0].message.content == "echo: hello there"
    assert len(fake_openai.requests) == 3
    assert gateway.wait_for_usage(raw.headers["x-request-id"]).status_code == 200


def test_429_honours_retry_after(gateway, fake_openai):
    fake_openai.script("flaky-upstream", failures=[Failure(429, retry_after=0.3)])
    started = time.perf_counter()
    gateway.openai().chat.completions.create(model="flaky", messages=MESSAGES)
    assert time.perf_counter() - started >= 0.3


def test_retries_exhausted_gives_502_with_the_envelope(gateway, fake_openai):
    fake_openai.script("flaky-upstream", failures=[Failure(500)] * 3)
    with pytest.raises(openai.APIStatusError) as failed:
        gateway.openai().chat.completions.create(model="flaky", messages=MESSAGES)
    assert failed.value.status_code == 502 and failed.value.code == "upstream_error"
    assert len(fake_openai.requests) == 3  # one try plus max_retries=2


def test_persistent_429_is_429_for_the_client(gateway, fake_openai):
    fake_openai.script("flaky-upstream", failures=[Failure(429, retry_after=0)] * 3)
    with pytest.raises(openai.RateLimitError):
        gateway.openai().chat.completions.create(model="flaky", messages=MESSAGES)


def test_fallback_serves_when_the_primary_fails(gateway, fake_openai):
    fake_openai.script("primary-upstream", failures=[Failure(503)])
    raw = gateway.openai().chat.completions.with_raw_response.create(model="primary", messages=MESSAGES)
    assert raw.headers["x-tokenmill-model"] == "backup"
    assert [r["model"] for r in fake_openai.requests] == ["primary-upstream", "backup-upstream"]
    row = gateway.wait_for_usage(raw.headers["x-request-id"])
    assert row.model_requested == "primary" and row.deployment.startswith("backup@")


def test_fallback_applies_to_streams_before_the_first_byte(gateway, fake_openai):
    fake_openai.script("primary-upstream", failures=[Failure(500)])
    chunks = list(gateway.openai().chat.completions.create(model="primary", messages=MESSAGES, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "echo: hello there"


def test_client_errors_from_upstream_pass_through_unretried(gateway, fake_openai):
    fake_openai.script("gpt-4o", failures=[Failure(400)])
    with pytest.raises(openai.BadRequestError) as bad:
        gateway.openai().chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert "scripted failure 400" in str(bad.value)
    assert len(fake_openai.requests) == 1


def test_first_byte_timeout_is_504(gateway, fake_openai):
    fake_openai.script("slow-upstream", first_byte_delay=1.0)
    with pytest.raises(openai.APIStatusError) as slow:
        gateway.openai().chat.completions.create(model="slow", messages=MESSAGES)
    assert slow.value.status_code == 504 and slow.value.code == "upstream_timeout"


def test_upstream_dying_mid_stream_ends_the_stream_with_an_error_and_bills_what_came(gateway, fake_openai):
    fake_openai.script("gpt-4o", reply="one two three four five six seven eight", die_after_chunks=4)
    key = gateway.new_key()
    with httpx.Client(base_url=gateway.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as http:
        with http.stream("POST", "/chat/completions", json={"model": "gpt-4o", "messages": MESSAGES, "stream": True}) as response:
            request_id = response.headers["x-request-id"]
            body = b"".join(response.iter_bytes())
    events = [json.loads(line[6:]) for line in body.decode().splitlines() if line.startswith("data: {")]
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e.get("choices"))
    assert text == "one two three " and events[-1]["error"]["code"] == "upstream_stream_broken", body
    row = gateway.wait_for_usage(request_id)
    assert row.error_type == "upstream_stream_broken" and row.status_code == 502
    assert row.completion_tokens == count_text_tokens("one two three ", "gpt-4o")
    assert row.prompt_tokens > 0 and row.cost_nanos > 0


def test_wrong_upstream_credentials_are_a_gateway_error_not_the_clients(gateway, fake_openai):
    fake_openai.api_key, real = "something-else", fake_openai.api_key
    try:
        with pytest.raises(openai.APIStatusError) as failed:
            gateway.openai().chat.completions.create(model="gpt-4o", messages=MESSAGES)
    finally:
        fake_openai.api_key = real
    assert failed.value.status_code == 502 and failed.value.code == "upstream_auth_failed"


def test_a_run_stays_on_the_instance_holding_its_prefix(gateway, fake_openai):
    client = gateway.openai()
    for _ in range(4):
        client.chat.completions.create(model="pool", messages=MESSAGES)
    assert {r["model"] for r in fake_openai.requests[-4:]} == {"pool-a", "pool-b"}  # shared in turn
    for _ in range(4):
        client.chat.completions.create(model="pool", messages=MESSAGES, extra_headers={"x-tokenmill-run": "agent-7"})
    assert len({r["model"] for r in fake_openai.requests[-4:]}) == 1  # one run, one warm instance

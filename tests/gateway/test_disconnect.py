"""A client that hangs up mid-stream is billed for the tokens generated, and the upstream stops."""

from __future__ import annotations

import httpx
import pytest


def test_client_disconnect_mid_stream_is_recorded_with_generated_tokens(gateway, fake_openai):
    words = " ".join(f"w{i}" for i in range(200))
    fake_openai.script("gpt-4o", reply=words, chunk_delay=0.01)
    key = gateway.new_key("disconnect-tenant")
    received = b""
    with httpx.Client(base_url=gateway.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as http:
        with http.stream("POST", "/chat/completions", json={"model": "gpt-4o", "messages": [{"role": "user", "content": "go"}], "stream": True}) as response:
            request_id = response.headers["x-request-id"]
            for piece in response.iter_bytes():
                received += piece
                if received.count(b"data: ") >= 20:
                    break  # hang up: the context manager closes the connection

    row = gateway.wait_for_usage(request_id)
    assert row.status_code == 499 and row.error_type == "client_disconnected"
    # At least what the client saw was billed; far less than the whole 200-word answer.
    assert 18 <= row.completion_tokens < 150, row.completion_tokens
    assert row.cost_nanos > 0
    gateway.wait_until(lambda: fake_openai.aborted_streams >= 1)


def test_a_remote_tokenmill_engine_stops_when_the_client_of_a_whole_answer_leaves(gateway, fake_openai):
    """Our own engine's compute is ours: the gateway hangs up on it too. (A paid upstream runs on.)"""
    fake_openai.script("local-small", reply="late", first_byte_delay=1.5)
    before = fake_openai.abandoned_requests
    key = gateway.new_key("disconnect-engine")
    with httpx.Client(base_url=gateway.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=0.5) as http:
        with pytest.raises(httpx.ReadTimeout):
            http.post("/chat/completions", json={"model": "local-small", "messages": [{"role": "user", "content": "go"}]})
    gateway.wait_until(lambda: any(r.error_type == "client_disconnected" for r in gateway.usage_rows(model_requested="local-small", status_code=499)))
    gateway.wait_until(lambda: fake_openai.abandoned_requests > before)


def test_a_stream_client_that_leaves_before_the_first_byte_is_recorded_as_gone(gateway, fake_openai):
    fake_openai.script("gpt-4o-mini", reply="late answer", first_byte_delay=1.5)
    key = gateway.new_key("disconnect-early")
    before = {r.request_id for r in gateway.usage_rows(model_requested="gpt-4o-mini")}
    with httpx.Client(base_url=gateway.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=0.5) as http:
        with pytest.raises(httpx.ReadTimeout):
            with http.stream("POST", "/chat/completions", json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "go"}], "stream": True}) as response:
                response.read()

    def new_rows() -> list:
        return [r for r in gateway.usage_rows(model_requested="gpt-4o-mini") if r.request_id not in before]

    gateway.wait_until(new_rows, timeout=5)
    (row,) = new_rows()
    assert row.status_code == 499 and row.error_type == "client_disconnected"

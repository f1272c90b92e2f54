"""Upstream replies that break the rules: what the client sees and what the ledger keeps.

Every case leaves one usage row with the right status, an OpenAI error envelope where the call
failed, and a stream any OpenAI client can read to its end.
"""

from __future__ import annotations

import json

import openai
import pytest

from billing.tokens import count_request_tokens
from tests.fakes.openai_upstream import Failure, Raw

MESSAGES = [{"role": "user", "content": "hello there"}]


def _chunk(delta: object, finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return b"data: " + json.dumps({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [choice]}).encode() + b"\n\n"


def _stream(*events: bytes) -> Raw:
    return Raw(b"".join(events), content_type="text/event-stream")


HELLO = _chunk({"role": "assistant", "content": "hello "})
WORLD = _chunk({"content": "world"})
STOP = _chunk({}, "stop")
USAGE = b'data: {"id": "c1", "object": "chat.completion.chunk", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}}\n\n'
DONE = b"data: [DONE]\n\n"


def _content(chunks: list) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_a_usage_the_gateway_cannot_read_is_counted_instead_not_a_500(gateway, fake_openai):
    reply = {"id": "x", "object": "chat.completion", "created": 1, "model": "m",
             "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
             "usage": {"prompt_tokens": "lots", "completion_tokens": 1}}
    fake_openai.script("flaky-upstream", raw=Raw(json.dumps(reply).encode()))
    raw = gateway.openai().chat.completions.with_raw_response.create(model="flaky", messages=MESSAGES)
    assert raw.parse().choices[0].message.content == "hi"
    row = gateway.wait_for_usage(raw.headers["x-request-id"])
    assert row.status_code == 200 and row.prompt_tokens == count_request_tokens("chat", {"messages": MESSAGES}, "flaky-upstream")
    assert row.completion_tokens == 1 and row.cost_nanos > 0


@pytest.mark.parametrize("stream", [False, True])
def test_an_html_404_from_the_upstream_is_a_502_in_the_envelope(gateway, fake_openai, stream):
    fake_openai.script("flaky-upstream", raw=Raw(b"<html><h1>404 Not Found</h1></html>", status=404, content_type="text/html"))
    with pytest.raises(openai.APIStatusError) as failed:
        result = gateway.openai().chat.completions.create(model="flaky", messages=MESSAGES, stream=stream)
        list(result) if stream else None
    error = failed.value
    assert error.status_code == 502 and error.code == "upstream_not_found" and "404 Not Found" in error.message
    row = gateway.wait_for_usage(error.response.headers["x-request-id"])
    assert row.status_code == 502 and row.deployment.startswith("flaky@")  # the row names who failed


@pytest.mark.parametrize("status", [401, 404])
def test_a_deployment_that_is_misconfigured_falls_back(gateway, fake_openai, status):
    fake_openai.script("primary-upstream", raw=Raw(b'{"detail": "no"}', status=status))
    raw = gateway.openai().chat.completions.with_raw_response.create(model="primary", messages=MESSAGES)
    assert raw.headers["x-tokenmill-model"] == "backup"
    assert [r["model"] for r in fake_openai.requests] == ["primary-upstream", "backup-upstream"]


def test_a_client_error_body_that_is_not_openais_becomes_the_envelope(gateway, fake_openai):
    fake_openai.script("flaky-upstream", raw=Raw(b'{"detail": "field required: messages.0.name"}', status=422))
    with pytest.raises(openai.APIStatusError) as failed:
        gateway.openai().chat.completions.create(model="flaky", messages=MESSAGES)
    error = failed.value
    assert error.status_code == 422 and error.code == "upstream_rejected" and "field required" in error.message
    assert error.response.json()["error"]["type"] == "invalid_request_error"
    assert len(fake_openai.requests) == 1  # the request itself was refused: no retry, no fallback


def test_an_upstream_refusal_keeps_its_own_code_for_the_client_and_the_ledger(gateway, fake_openai):
    refusal = {"error": {"message": "this prompt has 5000 tokens", "type": "invalid_request_error", "code": "context_length_exceeded"}}
    fake_openai.script("flaky-upstream", raw=Raw(json.dumps(refusal).encode(), status=400))
    with pytest.raises(openai.BadRequestError) as failed:
        gateway.openai().chat.completions.create(model="flaky", messages=MESSAGES)
    assert failed.value.code == "context_length_exceeded"
    row = gateway.wait_for_usage(failed.value.response.headers["x-request-id"])
    assert (row.status_code, row.error_type) == (400, "context_length_exceeded")


def test_the_upstreams_retry_after_reaches_the_client(gateway, fake_openai):
    fake_openai.script("slow-upstream", failures=[Failure(429, retry_after=7)])
    with pytest.raises(openai.RateLimitError) as failed:
        gateway.openai().chat.completions.create(model="slow", messages=MESSAGES)
    assert failed.value.response.headers["retry-after"] == "7"


def test_an_error_event_mid_stream_is_a_failed_call_in_the_ledger(gateway, fake_openai):
    error = b'data: {"error": {"message": "overloaded mid-stream", "type": "server_error"}}\n\n'
    fake_openai.script("flaky-upstream", raw=_stream(HELLO, error, DONE))
    raw = gateway.openai().chat.completions.with_raw_response.create(model="flaky", messages=MESSAGES, stream=True)
    with pytest.raises(openai.APIError, match="overloaded mid-stream"):
        list(raw.parse())
    row = gateway.wait_for_usage(raw.headers["x-request-id"])
    assert (row.status_code, row.error_type) == (502, "upstream_error") and row.stream and row.completion_tokens > 0


def test_a_chunk_no_client_could_read_is_dropped_not_passed_on(gateway, fake_openai):
    fake_openai.script("flaky-upstream", raw=_stream(HELLO, _chunk("oops"), b"data: {not json\n\n", WORLD, STOP, DONE))
    raw = gateway.openai().chat.completions.with_raw_response.create(model="flaky", messages=MESSAGES, stream=True)
    assert _content(list(raw.parse())) == "hello world"
    row = gateway.wait_for_usage(raw.headers["x-request-id"])
    assert row.status_code == 200 and row.error_type is None


def test_a_stream_cut_before_done_tells_the_client(gateway, fake_openai):
    fake_openai.script("flaky-upstream", raw=_stream(HELLO, WORLD))
    raw = gateway.openai().chat.completions.with_raw_response.create(model="flaky", messages=MESSAGES, stream=True)
    received: list = []
    with pytest.raises(openai.APIError, match="ended the stream before it was complete"):
        for chunk in raw.parse():
            received.append(chunk)
    assert _content(received) == "hello world"
    row = gateway.wait_for_usage(raw.headers["x-request-id"])
    assert (row.status_code, row.error_type, row.completion_tokens) == (502, "upstream_incomplete", 2)


def test_a_whole_answer_to_a_stream_request_is_replayed_as_a_stream(gateway, fake_openai):
    reply = {"id": "x", "object": "chat.completion", "created": 1, "model": "m",
             "choices": [{"index": 0, "message": {"role": "assistant", "content": "one piece"}, "finish_reason": "stop"}],
             "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}}
    fake_openai.script("flaky-upstream", raw=Raw(json.dumps(reply).encode()))
    raw = gateway.openai().chat.completions.with_raw_response.create(model="flaky", messages=MESSAGES, stream=True)
    assert _content(list(raw.parse())) == "one piece"
    row = gateway.wait_for_usage(raw.headers["x-request-id"])
    assert (row.status_code, row.prompt_tokens, row.completion_tokens) == (200, 10, 3)  # the upstream's own counts


def test_a_whole_answer_without_usage_replays_no_empty_choices_chunk(gateway, fake_openai):
    reply = {"id": "x", "object": "chat.completion", "created": 1, "model": "m",
             "choices": [{"index": 0, "message": {"role": "assistant", "content": "one piece"}, "finish_reason": "stop"}]}
    fake_openai.script("flaky-upstream", raw=Raw(json.dumps(reply).encode()))
    chunks = list(gateway.openai().chat.completions.create(model="flaky", messages=MESSAGES, stream=True))
    assert all(c.choices for c in chunks) and _content(chunks) == "one piece"  # `chunk.choices[0]` never fails


@pytest.mark.parametrize("body", [b'{"choices": "oops"}', b'{"choices": [1, 2]}', b'{"choices": [{"message": "text"}]}'])
def test_a_reply_whose_choices_are_not_objects_is_a_502_not_a_500(gateway, fake_openai, body):
    fake_openai.script("flaky-upstream", raw=Raw(body))
    with pytest.raises(openai.APIStatusError) as failed:
        gateway.openai().chat.completions.create(model="flaky", messages=MESSAGES)
    assert failed.value.status_code == 502 and failed.value.code == "upstream_bad_reply"


def test_an_upstream_envelope_missing_fields_reaches_the_client_complete(gateway, fake_openai):
    fake_openai.script("flaky-upstream", raw=Raw(b'{"error": {"message": "prompt too long", "detail": 3}}', status=400))
    with pytest.raises(openai.BadRequestError) as failed:
        gateway.openai().chat.completions.create(model="flaky", messages=MESSAGES)
    error = failed.value.response.json()["error"]
    assert error == {"message": "prompt too long", "type": "invalid_request_error", "param": None, "code": None, "detail": 3}


@pytest.mark.parametrize("tail", [b"\n", b": keep-alive\n\n", b"data: {}\n\n"])
def test_whatever_follows_done_is_dropped_and_the_stream_is_complete(gateway, fake_openai, tail):
    fake_openai.script("flaky-upstream", raw=_stream(HELLO, WORLD, STOP, USAGE, DONE + tail))
    raw = gateway.openai().chat.completions.with_raw_response.create(model="flaky", messages=MESSAGES, stream=True)
    sent = raw.http_response.read()
    assert sent.endswith(b"data: [DONE]\n\n") and b": x-tokenmill-cost-usd" in sent
    row = gateway.wait_for_usage(raw.headers["x-request-id"])
    assert (row.status_code, row.completion_tokens) == (200, 2)  # not a 499: the answer was whole


def test_done_without_a_space_still_ends_the_stream_properly(gateway, fake_openai):
    fake_openai.script("flaky-upstream", raw=_stream(HELLO, WORLD, STOP, USAGE, b"data:[DONE]\n\n"))
    client = gateway.openai()
    first = client.chat.completions.with_raw_response.create(model="flaky", messages=MESSAGES, stream=True, temperature=0)
    assert b": x-tokenmill-cost-usd" in first.http_response.read()
    again = client.chat.completions.with_raw_response.create(model="flaky", messages=MESSAGES, stream=True, temperature=0)
    assert again.headers["x-tokenmill-cache"] == "hit-exact" and _content(list(again.parse())) == "hello world"


def test_every_response_names_its_request(gateway):
    import httpx

    with httpx.Client(base_url=gateway.url) as http:
        answers = [
            http.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": MESSAGES}),  # no key: 401
            http.get("/v1/chat/completions", headers={"Authorization": f"Bearer {gateway.admin_key}"}),  # 405
            http.get("/v1/models", headers={"Authorization": f"Bearer {gateway.admin_key}"}),
            http.get("/v1/models/no-such-model", headers={"Authorization": f"Bearer {gateway.admin_key}"}),
            http.get("/healthz"),
        ]
    assert [r.status_code for r in answers] == [401, 405, 200, 404, 200]
    ids = [r.headers.get("x-request-id", "") for r in answers]
    assert all(i.startswith("req_") for i in ids) and len(set(ids)) == len(ids), ids

"""Bad input gets OpenAI's error envelope with the right status, never a 500; each is recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import openai
import pytest

MESSAGES = [{"role": "user", "content": "hi"}]


def assert_envelope(response, status: int, code: str | None = None, param: str | None = None) -> dict:  # noqa: ANN001
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "code"} and error["message"]
    if code is not None:
        assert error["code"] == code
    if param is not None:
        assert error["param"] == param
    return error


def test_missing_bad_and_revoked_keys_are_401(gateway):
    with gateway.http() as http:
        assert_envelope(http.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": MESSAGES}), 401, "invalid_api_key")
    with gateway.http("sk-tm-not-a-real-key") as http:
        assert_envelope(http.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": MESSAGES}), 401, "invalid_api_key")
        assert_envelope(http.get("/v1/models"), 401, "invalid_api_key")

    key = gateway.new_key()
    client = gateway.openai(key)
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    key_id = next(k["id"] for k in gateway.http(gateway.admin_key).get("/admin/api/keys").json()["data"] if key.startswith(k["prefix"]))
    assert gateway.http(gateway.admin_key).delete(f"/admin/api/keys/{key_id}").status_code == 200
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)


def test_expired_key_is_401(gateway):
    key = gateway.new_key(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    with gateway.http(key) as http:
        assert "expired" in assert_envelope(http.get("/v1/models"), 401, "invalid_api_key")["message"]


def test_unknown_model_is_404_and_forbidden_model_is_403(gateway):
    with pytest.raises(openai.NotFoundError) as not_found:
        gateway.openai().chat.completions.create(model="no-such-model", messages=MESSAGES)
    assert not_found.value.code == "model_not_found"
    limited = gateway.openai(gateway.new_key(allowed_models=["gpt-4o-mini"]))
    with pytest.raises(openai.PermissionDeniedError) as denied:
        limited.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert denied.value.code == "model_not_allowed"


@pytest.mark.parametrize(
    "body, param",
    [
        ({"model": "gpt-4o", "messages": MESSAGES, "temperature": "hot"}, "temperature"),
        ({"model": "gpt-4o", "messages": MESSAGES, "temperature": 3}, "temperature"),
        ({"model": "gpt-4o", "messages": MESSAGES, "max_tokens": "10"}, "max_tokens"),
        ({"model": "gpt-4o", "messages": MESSAGES, "n": 0}, "n"),
        ({"model": "gpt-4o", "messages": MESSAGES, "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"model": "gpt-4o", "messages": MESSAGES, "stream": "yes"}, "stream"),
        ({"model": "gpt-4o", "messages": []}, "messages"),
        ({"model": "gpt-4o", "messages": "hi"}, "messages"),
        ({"model": "gpt-4o", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"model": "gpt-4o", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"model": "gpt-4o", "messages": [{"role": "tool", "content": "x"}]}, "messages[0]"),
        ({"model": "gpt-4o", "messages": MESSAGES, "tools": [{"type": "function"}]}, "tools[0].function"),
        ({"model": "gpt-4o", "messages": MESSAGES, "tool_choice": "sometimes"}, "tool_choice"),
        ({"model": "gpt-4o", "messages": MESSAGES, "response_format": {"type": "yaml"}}, "response_format.type"),
        ({"messages": MESSAGES}, "model"),
        ({"model": 42, "messages": MESSAGES}, "model"),
    ],
)
def test_wrong_types_name_the_offending_param(gateway, body, param):
    with gateway.http(gateway.new_key()) as http:
        error = assert_envelope(http.post("/v1/chat/completions", json=body), 400, param=param)
    assert error["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    "raw, content_type",
    [
        (b"{not json", "application/json"),
        (b"", "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "\xff\xfe bad utf-8"}]}', "application/json"),
        (b"model=gpt-4o", "application/x-www-form-urlencoded"),
    ],
)
def test_malformed_bodies_are_400(gateway, raw, content_type):
    with gateway.http(gateway.new_key()) as http:
        assert_envelope(http.post("/v1/chat/completions", content=raw, headers={"content-type": content_type}), 400)


def test_huge_body_is_413_whether_declared_or_streamed(gateway):
    limit = gateway.settings.max_body_bytes
    huge = b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "' + b"x" * (limit + 10) + b'"}]}'
    with gateway.http(gateway.new_key()) as http:
        assert_envelope(http.post("/v1/chat/completions", content=huge), 413, "request_too_large")

        def chunks():  # no content-length: the limit is enforced while reading
            for start in range(0, len(huge), 1 << 20):
                yield huge[start : start + (1 << 20)]

        assert_envelope(http.post("/v1/chat/completions", content=chunks()), 413, "request_too_large")
        # The app's own JSON endpoints (feedback, admin API) hold the same limit, declared or streamed.
        feedback = b'{"request_id": "' + b"r" * (limit + 10) + b'", "score": 1}'
        assert_envelope(http.post("/v1/feedback", content=feedback), 413, "request_too_large")
        assert_envelope(http.post("/v1/feedback", content=iter([feedback[: limit // 2], feedback[limit // 2 :]])), 413, "request_too_large")
        small = http.post("/v1/feedback", json={"request_id": "req_unknown", "score": 1})
        assert small.status_code == 404  # read whole and served as before
    with gateway.http(gateway.admin_key) as admin:
        assert_envelope(admin.post("/admin/api/tenants", content=b'{"name": "' + b"t" * (limit + 10) + b'"}'), 413, "request_too_large")


def test_unknown_paths_and_methods_use_the_envelope(gateway):
    with gateway.http(gateway.new_key()) as http:
        assert_envelope(http.get("/v1/nothing-here"), 404)
        assert_envelope(http.get("/v1/chat/completions"), 405)


def test_embedding_model_on_chat_endpoint_is_400(gateway):
    with gateway.http(gateway.new_key()) as http:
        assert_envelope(http.post("/v1/chat/completions", json={"model": "embedder", "messages": MESSAGES}), 400, "wrong_endpoint", "model")


def test_rejected_requests_still_leave_a_usage_row(gateway):
    key = gateway.new_key("audit-tenant")
    with gateway.http(key) as http:
        response = http.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": MESSAGES, "temperature": "hot"})
        row = gateway.wait_for_usage(response.headers["x-request-id"])
        assert row.status_code == 400 and row.error_type == "invalid_request_error" and row.cost_nanos == 0
        response = http.post("/v1/chat/completions", json={"model": "nope", "messages": MESSAGES})
        assert gateway.wait_for_usage(response.headers["x-request-id"]).error_type == "model_not_found"

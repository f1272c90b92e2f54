"""Every field of the public and admin APIs, given values of the wrong type or out of range, gets a
4xx in OpenAI's error shape: never a 500, never a dropped connection."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.gateway import GatewayUnderTest

ODD_VALUES: tuple[Any, ...] = (None, 0, -1, 1.5, "x", "", [], {}, [1], ["a"], [{"a": 1}], True, "\u0000", 10**30, "2026-13-45")
CALLS: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "/v1/chat/completions": (
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2},
        ("messages", "model", "max_tokens", "max_completion_tokens", "temperature", "top_p", "n", "stop", "seed", "logprobs",
         "top_logprobs", "tools", "tool_choice", "response_format", "stream_options", "logit_bias", "user", "presence_penalty",
         "frequency_penalty", "metadata", "parallel_tool_calls"),
    ),
    "/v1/completions": ({"model": "instruct", "prompt": "hi", "max_tokens": 2}, ("prompt", "model", "max_tokens", "echo", "logprobs", "suffix", "best_of", "stop")),
    "/v1/embeddings": ({"model": "embedder", "input": "hi"}, ("input", "model", "dimensions", "encoding_format", "user")),
    "/v1/batches": ({"input_file_id": "file-x", "endpoint": "/v1/chat/completions", "completion_window": "24h"},
                    ("input_file_id", "endpoint", "completion_window", "metadata")),
    "/v1/feedback": ({"request_id": "r", "score": 1}, ("request_id", "score", "thumbs", "label")),
    "/admin/api/tenants": ({"name": "odd-co", "timezone": "UTC", "markup": 0.1}, ("name", "timezone", "markup")),
    "/admin/api/keys": ({"tenant": "odd-inputs-co", "role": "user"}, ("tenant", "role", "models", "expires_at", "cache_mode", "name")),
    "/admin/api/budgets": ({"limit_usd": 10, "period": "monthly"},
                           ("tenant_id", "key_id", "run_id", "model", "limit_usd", "limit_tokens", "period", "soft", "on_exceed", "alert_webhook")),
    "/admin/api/rate-limits": ({"rpm": 10, "tpm": 1000}, ("tenant_id", "key_id", "rpm", "tpm")),
}


def _bad(response: httpx.Response) -> str | None:
    if response.status_code >= 500:
        return f"{response.status_code}: {response.text[:200]}"
    if response.status_code >= 400:
        error = response.json().get("error")
        if not isinstance(error, dict) or not {"message", "type", "code"} <= error.keys():
            return f"{response.status_code} without the OpenAI error shape: {response.text[:200]}"
    return None


@pytest.mark.parametrize("path", list(CALLS))
def test_odd_field_values_are_client_errors(gateway: GatewayUnderTest, path: str) -> None:
    base, fields = CALLS[path]
    gateway.new_key("odd-inputs-co")
    if path in ("/admin/api/budgets", "/admin/api/rate-limits"):
        with gateway.http(gateway.admin_key) as http:
            tenant = next(t["id"] for t in http.get("/admin/api/tenants").json()["data"] if t["name"] == "odd-inputs-co")
        base = {**base, "tenant_id": tenant}
    key = gateway.admin_key if path.startswith("/admin") else gateway.new_key("odd-inputs-co")
    failures = []
    with gateway.http(key) as http:
        for field in fields:
            for value in ODD_VALUES:
                body = {**base, field: value}
                if path == "/admin/api/tenants" and field == "name" and isinstance(value, str):
                    body["name"] = f"{value}-{len(failures)}-{ODD_VALUES.index(value)}"
                try:
                    problem = _bad(http.post(path, json=body))
                except httpx.TransportError as exc:  # the server dropped the connection
                    problem = f"connection lost: {exc!r}"
                if problem:
                    failures.append((field, repr(value)[:30], problem))
    assert failures == []


DEEP = b'{"model": "gpt-4o-mini", "temperature": 0, "messages": [{"role": "user", "content": "x"}], "extra": ' + b"[" * 300 + b"]" * 300 + b"}"


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b"null", b"\xff\xfe", b'{"model": "gpt-4o-mini"}', b"[" * 5000 + b"]" * 5000, DEEP])
def test_bodies_that_are_not_a_json_object_are_client_errors(gateway: GatewayUnderTest, raw: bytes) -> None:
    with gateway.http(gateway.new_key("odd-bodies-co")) as http:
        for path in ("/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/batches"):
            response = http.post(path, content=raw, headers={"content-type": "application/json"})
            assert 400 <= response.status_code < 500 and _bad(response) is None, (path, response.text[:200])

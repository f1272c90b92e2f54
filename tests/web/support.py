"""Helpers for the admin UI tests: a signed-in HTTP client and the gateway they run against."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.fakes.openai_upstream import FakeOpenAI

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def model_list(fake: FakeOpenAI) -> list[dict[str, Any]]:
    def model(name: str, tier: str) -> dict[str, Any]:
        params = {"model": f"openai/{name}", "api_base": fake.base_url, "api_key": fake.api_key, "max_retries": 0}
        return {"model_name": name, "litellm_params": params, "model_info": {"tier": tier}}

    return [model("gpt-4o-mini", "cheap"), model("gpt-4o", "strong")]


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


class AdminClient:
    """A browser-like HTTP client: keeps cookies, reads CSRF tokens from forms, never follows redirects."""

    def __init__(self, base_url: str):
        self.http = httpx.Client(base_url=base_url, timeout=30, follow_redirects=False)
        self.csrf: str | None = None

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = self.http.get(path, **kwargs)
        match = CSRF_RE.search(response.text) if response.headers.get("content-type", "").startswith("text/html") else None
        if match:
            self.csrf = match.group(1)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, csrf: bool = True) -> httpx.Response:
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf_token", self.csrf)
        return self.http.post(path, data=form)

    def sign_in(self, key: str) -> httpx.Response:
        self.get("/admin/login")
        response = self.post("/admin/login", {"api_key": key})
        assert response.status_code == 303, response.text
        self.get(response.headers["location"])
        return response


def ledger_row(tenant_id: str | None, **overrides: Any) -> dict[str, Any]:
    """A complete usage row (every column the ledger writes), for seeding the real ledger."""
    import uuid
    from datetime import UTC, datetime

    row: dict[str, Any] = {
        "request_id": "req_" + uuid.uuid4().hex[:24],
        "created_at": datetime.now(UTC),
        "tenant_id": tenant_id,
        "key_id": None,
        "run_id": None,
        "endpoint": "chat",
        "model_requested": "gpt-4o-mini",
        "model_served": "gpt-4o-mini",
        "deployment": "gpt-4o-mini@openai/gpt-4o-mini",
        "provider": "openai",
        "tier": "cheap",
        "route_reason": "explicit-model",
        "route_score": None,
        "cache": "miss",
        "prompt_tokens": 100,
        "completion_tokens": 20,
        "cached_tokens": 0,
        "cache_write_tokens": 0,
        "reasoning_tokens": 0,
        "cost_nanos": 1000,
        "saved_nanos": 0,
        "latency_ms": 12.5,
        "ttft_ms": None,
        "stream": False,
        "status_code": 200,
        "error_type": None,
    }
    row.update(overrides)
    return row

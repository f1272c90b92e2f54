"""Everything known about one request as it moves through the pipeline; becomes its usage row."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from billing.budgets.ticket import Ticket
from billing.money import format_usd
from billing.usage import TokenUsage
from gateway.auth import Principal
from gateway.providers.base import ClientGone
from gateway.providers.dispatcher import Attempts
from gateway.settings import Deployment

# A cascade's local attempt that was escalated is billed on a row of its own: request id + this.
CASCADE_ATTEMPT_SUFFIX = ".local"


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


@dataclass
class RequestContext:
    principal: Principal
    endpoint: str
    request_id: str = field(default_factory=new_request_id)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started: float = field(default_factory=time.perf_counter)
    run_id: str | None = None
    model_requested: str = ""
    deployment: Deployment | None = None
    route_reason: str = "explicit-model"
    route_score: float | None = None
    route_threshold: float | None = None
    route_tier: str | None = None  # the tier the router chose (the header's, before any deployment answered)
    local_first_allowed: bool = True  # a cascade may try the local tier first (no agent flag sent the call up)
    tools_offered: bool = False  # the routed call offers tools it may call: the cascade's local try must be able to
    cache_status: str = ""
    cache_header: str | None = None  # the caller's x-tokenmill-cache (on | off | auto)
    usage: TokenUsage = field(default_factory=TokenUsage)
    cost_nanos: int = 0
    saved_nanos: int = 0
    stream: bool = False
    first_token_at: float | None = None
    status_code: int = 200
    error_type: str | None = None
    # Budget reservations and rate-limit places taken by admission; settled in Pipeline._finish.
    ticket: Ticket | None = None
    # The deployments tried: a failed call's row names the last one.
    attempts: Attempts = field(default_factory=Attempts)
    # For a non-streamed call over HTTP: awaited, returns once its client has disconnected.
    client_gone: ClientGone | None = None
    # Work shared by routing and caching, computed at most once per request.
    scratch: dict[str, Any] = field(default_factory=dict)

    def headers(self, streaming: bool = False) -> dict[str, str]:
        headers = {"x-request-id": self.request_id}
        if self.deployment is not None:
            headers["x-tokenmill-model"] = self.deployment.model_name
        if self.deployment is not None or self.route_tier is not None:
            headers["x-tokenmill-route"] = self.route_header()
        # A stream's cost is only known at its end: it arrives as an SSE comment before [DONE].
        headers["x-tokenmill-cost-usd"] = "streaming" if streaming else format_usd(self.cost_nanos)
        if self.cache_status:
            headers["x-tokenmill-cache"] = self.cache_status
        if self.ticket is not None:
            headers.update(self.ticket.headers)
        return headers

    def route_header(self) -> str:
        parts = [f"tier={self.deployment.tier if self.deployment else self.route_tier or ''}"]
        if self.route_score is not None:
            parts.append(f"score={self.route_score:.3f}")
        if self.route_threshold is not None:
            parts.append(f"threshold={self.route_threshold:.3f}")
        parts.append(f"reason={self.route_reason}")
        return "; ".join(parts)

    def served_by(self, deployment: Deployment) -> None:
        """`deployment` answered; the route reason names the ones that failed before it."""
        self.deployment = deployment
        failed = [d for d in dict.fromkeys(self.attempts.tried) if d != deployment.id]
        if failed:
            self.route_reason += ";fallback-from=" + ",".join(failed)

    def usage_row(self) -> dict[str, Any]:
        now = time.perf_counter()
        d = self.deployment
        return {
            "request_id": self.request_id,
            "created_at": self.created_at,
            "tenant_id": self.principal.tenant_id,
            "key_id": self.principal.key_id,
            "run_id": self.run_id,
            "endpoint": self.endpoint,
            "model_requested": self.model_requested[:200],
            "model_served": d.litellm_params.upstream_model if d else "",
            "deployment": d.id if d else "",
            "provider": d.provider if d else "",
            "tier": d.tier if d else self.route_tier or "",  # a refused call: the tier the router chose, as its header says
            "route_reason": self.route_reason[:500],
            "route_score": self.route_score,
            "route_threshold": self.route_threshold,
            "cache": self.cache_status,
            "prompt_tokens": self.usage.prompt_tokens,
            "completion_tokens": self.usage.completion_tokens,
            "cached_tokens": self.usage.cached_tokens,
            "cache_write_tokens": self.usage.cache_write_tokens,
            "reasoning_tokens": self.usage.reasoning_tokens,
            "cost_nanos": self.cost_nanos,
            "saved_nanos": self.saved_nanos,
            "latency_ms": (now - self.started) * 1000.0,
            "ttft_ms": (self.first_token_at - self.started) * 1000.0 if self.first_token_at else None,
            "stream": self.stream,
            "status_code": self.status_code,
            "error_type": self.error_type,
        }

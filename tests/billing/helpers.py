"""Shared pieces for billing tests: a database with a tenant and key, deployments and prices."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from billing import accounts
from billing.budgets.definitions import set_budget
from billing.db import create_db_engine, db_session, upgrade_schema
from billing.ledger import insert_usage
from billing.models import Tenant
from billing.prices import Price
from gateway.auth import Principal
from gateway.context import RequestContext
from gateway.settings import Deployment

PRICE = Price(input=1e-5, output=3e-5, max_output_tokens=1000)  # $10 / $30 per million tokens
DEAR = Price(input=2e-5, output=6e-5, max_output_tokens=2000)


def deployment(name: str = "metered", upstream: str = "metered-upstream", **info: Any) -> Deployment:
    return Deployment(
        model_name=name,
        litellm_params={"model": f"openai/{upstream}", "api_base": "http://127.0.0.1:9/v1", "rpm": info.pop("rpm", None), "tpm": info.pop("tpm", None)},
        model_info={"max_output_tokens": 1000, **info},
    )


@dataclass
class Account:
    engine: Engine
    tenant_id: str
    key_id: str
    principal: Principal

    def budget(self, **kwargs: Any) -> str:
        with db_session(self.engine) as session:
            return set_budget(session, tenant_id=self.tenant_id, **kwargs).id

    def other_key(self) -> Principal:
        with db_session(self.engine) as session:
            tenant = session.get(Tenant, self.tenant_id)
            key = accounts.create_key(session, tenant).key
        return Principal(key_id=key.id, role="user", tenant_id=self.tenant_id, tenant_name=tenant.name, allowed_models=frozenset(), timezone=tenant.timezone)


def make_account(url: str, name: str = "acme", timezone: str = "UTC", markup: float = 0.0) -> Account:
    engine = create_db_engine(url)
    upgrade_schema(engine)
    with db_session(engine) as session:
        tenant = accounts.create_tenant(session, name, timezone=timezone, markup=markup)
        key = accounts.create_key(session, tenant).key
    principal = Principal(key_id=key.id, role="user", tenant_id=tenant.id, tenant_name=name, allowed_models=frozenset(), markup=markup, timezone=timezone)
    return Account(engine, tenant.id, key.id, principal)


_ids = itertools.count(1)


def ctx(principal: Principal, model: str = "metered", run_id: str | None = None, endpoint: str = "chat") -> RequestContext:
    return RequestContext(principal=principal, endpoint=endpoint, model_requested=model, run_id=run_id, request_id=f"req_test{next(_ids):06d}")


def body(text: str = "hello there", max_tokens: int | None = 100, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"model": "metered", "messages": [{"role": "user", "content": text}], **extra}
    if max_tokens is not None:
        out["max_tokens"] = max_tokens
    return out


def ledger_row(request_id: str, tenant_id: str, cost_nanos: int, tokens: tuple[int, int] = (10, 5), when: datetime | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "request_id": request_id, "created_at": when or datetime.now(UTC), "tenant_id": tenant_id, "key_id": extra.pop("key_id", None),
        "run_id": extra.pop("run_id", None), "endpoint": extra.pop("endpoint", "chat"), "model_requested": extra.pop("model_requested", "metered"),
        "model_served": extra.pop("model_served", "metered-upstream"), "deployment": extra.pop("deployment", "metered@openai/metered-upstream"),
        "provider": "openai", "tier": "strong", "route_reason": "", "route_score": None, "cache": extra.pop("cache", ""),
        "prompt_tokens": tokens[0], "completion_tokens": tokens[1], "cached_tokens": extra.pop("cached_tokens", 0), "cache_write_tokens": 0,
        "reasoning_tokens": 0, "cost_nanos": cost_nanos, "saved_nanos": extra.pop("saved_nanos", 0), "latency_ms": 1.0, "ttft_ms": None,
        "stream": False, "status_code": extra.pop("status_code", 200), "error_type": None, **extra,
    }


def add_rows(engine: Engine, *rows: dict[str, Any]) -> None:
    insert_usage(engine, list(rows))

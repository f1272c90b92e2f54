"""Admin JSON API: tenants, keys and usage. Tenant admins see and change only their tenant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlmodel import Session, select

from billing import accounts
from billing.db import db_session
from billing.models import ApiKey, Tenant, UsageRecord
from billing.money import nanos_to_usd
from billing.sql_totals import bigint_total
from cache import CacheMode
from gateway.auth import Principal
from gateway.deps import AdminDep, ServicesDep
from gateway.errors import APIError, invalid_request

router = APIRouter(prefix="/admin/api")


class TenantIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    timezone: str = "UTC"
    markup: float = Field(default=0.0, ge=accounts.MARKUP_MIN, le=accounts.MARKUP_MAX)


class KeyIn(BaseModel):
    tenant: str | None = Field(default=None, description="tenant name; created if missing (global admins only)")
    tenant_id: str | None = None
    name: str = ""
    role: str = "user"
    allowed_models: list[str] = Field(default_factory=list)
    expires_at: datetime | None = None
    cache_mode: CacheMode = Field(default=CacheMode.AUTO, description="auto: deterministic calls only; on: every call; off: never")
    semantic_cache: bool = True


class KeyPatch(BaseModel):
    allowed_models: list[str] | None = None
    name: str | None = None
    cache_mode: CacheMode | None = None
    semantic_cache: bool | None = None


def tenant_out(t: Tenant) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "timezone": t.timezone, "markup": t.markup, "created_at": t.created_at.isoformat()}


def key_out(k: ApiKey) -> dict[str, Any]:
    return {
        "id": k.id,
        "tenant_id": k.tenant_id,
        "role": k.role,
        "name": k.name,
        "prefix": k.prefix,
        "allowed_models": k.allowed_models,
        "cache_mode": k.cache_mode,
        "semantic_cache": k.semantic_cache,
        "expires_at": k.expires_at.isoformat() if k.expires_at else None,
        "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
        "created_at": k.created_at.isoformat(),
    }


def _forbidden() -> APIError:
    return APIError(403, "A tenant admin key can only manage its own tenant.", type="permission_error", code="forbidden")


def _scoped_tenant_id(principal: Principal, requested: str | None) -> str | None:
    if principal.is_admin:
        return requested
    if requested not in (None, principal.tenant_id):
        raise _forbidden()
    return principal.tenant_id


def _account_error(exc: accounts.AccountError) -> APIError:
    return invalid_request(str(exc))


@router.get("/tenants")
def list_tenants(principal: AdminDep, services: ServicesDep) -> dict[str, Any]:
    with db_session(services.db) as session:
        tenants = accounts.list_tenants(session)
    if not principal.is_admin:
        tenants = [t for t in tenants if t.id == principal.tenant_id]
    return {"object": "list", "data": [tenant_out(t) for t in tenants]}


@router.post("/tenants", status_code=201)
def create_tenant(body: TenantIn, principal: AdminDep, services: ServicesDep) -> dict[str, Any]:
    if not principal.is_admin:
        raise _forbidden()
    with db_session(services.db) as session:
        try:
            return tenant_out(accounts.create_tenant(session, body.name, body.timezone, body.markup))
        except accounts.AccountError as exc:
            raise _account_error(exc) from None


@router.get("/keys")
def list_keys(principal: AdminDep, services: ServicesDep, tenant_id: str | None = None) -> dict[str, Any]:
    with db_session(services.db) as session:
        keys = accounts.list_keys(session, _scoped_tenant_id(principal, tenant_id))
    return {"object": "list", "data": [key_out(k) for k in keys]}


@router.post("/keys", status_code=201)
def create_key(body: KeyIn, principal: AdminDep, services: ServicesDep) -> dict[str, Any]:
    with db_session(services.db) as session:
        try:
            if body.tenant_id:
                tenant = session.get(Tenant, _scoped_tenant_id(principal, body.tenant_id))
            elif body.tenant and principal.is_admin:
                tenant = accounts.ensure_tenant(session, body.tenant)
            elif not principal.is_admin:
                tenant = session.get(Tenant, principal.tenant_id)
                if body.tenant not in (None, tenant.name):
                    raise _forbidden()  # a key for another tenant: refused, not quietly made in this one
            else:
                raise invalid_request("Name the key's tenant with `tenant` or `tenant_id`.", param="tenant")
            if tenant is None:
                raise invalid_request("No such tenant.", param="tenant_id")
            if body.role == "admin" or (body.role == "tenant_admin" and not principal.is_admin and principal.role != "tenant_admin"):
                raise _forbidden()
            created = accounts.create_key(
                session, tenant, name=body.name, role=body.role, allowed_models=body.allowed_models, expires_at=body.expires_at,
                cache_mode=body.cache_mode, semantic_cache=body.semantic_cache,
            )
        except accounts.AccountError as exc:
            raise _account_error(exc) from None
        return {**key_out(created.key), "key": created.secret}


def _owned_key(session: Session, principal: Principal, key_id: str) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None or (not principal.is_admin and key.tenant_id != principal.tenant_id):
        raise APIError(404, f"No key {key_id!r}.", code="not_found")
    return key


@router.delete("/keys/{key_id}")
def revoke_key(key_id: str, principal: AdminDep, services: ServicesDep) -> dict[str, Any]:
    with db_session(services.db) as session:
        key = _owned_key(session, principal, key_id)
        key = accounts.revoke_key(session, key.id)
        services.keys.forget(key.key_hash)
        return key_out(key)


@router.patch("/keys/{key_id}")
def update_key(key_id: str, body: KeyPatch, principal: AdminDep, services: ServicesDep) -> dict[str, Any]:
    with db_session(services.db) as session:
        key = accounts.update_key(
            session, _owned_key(session, principal, key_id), allowed_models=body.allowed_models, name=body.name,
            cache_mode=body.cache_mode, semantic_cache=body.semantic_cache,
        )
        services.keys.forget(key.key_hash)
        return key_out(key)


@router.get("/usage")
def list_usage(
    principal: AdminDep,
    services: ServicesDep,
    tenant_id: str | None = None,
    run_id: str | None = None,
    key_id: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    query = select(UsageRecord).order_by(UsageRecord.id.desc()).limit(max(1, min(limit, 1000)))
    scoped = _scoped_tenant_id(principal, tenant_id)
    if scoped:
        query = query.where(UsageRecord.tenant_id == scoped)
    if run_id:
        query = query.where(UsageRecord.run_id == run_id)
    if key_id:
        query = query.where(UsageRecord.key_id == key_id)
    with db_session(services.db) as session:
        rows = session.exec(query).all()
    return {"object": "list", "data": [{**r.model_dump(), "cost_usd": nanos_to_usd(r.cost_nanos)} for r in rows]}


@router.get("/runs/{run_id:path}")  # run ids are the client's own: "agent/42" is one
def run_spend(run_id: str, principal: AdminDep, services: ServicesDep, tenant_id: str | None = None) -> dict[str, Any]:
    scoped = _scoped_tenant_id(principal, tenant_id)
    query = sa.select(
        sa.func.count(), bigint_total(UsageRecord.cost_nanos),
        bigint_total(UsageRecord.prompt_tokens), bigint_total(UsageRecord.completion_tokens),
    ).where(UsageRecord.run_id == run_id)
    if scoped:
        query = query.where(UsageRecord.tenant_id == scoped)
    with db_session(services.db) as session:
        calls, cost, prompt, completion = session.execute(query).one()
    return {"run_id": run_id, "calls": calls, "cost_usd": nanos_to_usd(int(cost)), "cost_nanos": int(cost), "prompt_tokens": int(prompt), "completion_tokens": int(completion)}

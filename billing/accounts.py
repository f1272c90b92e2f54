"""Tenants and API keys: plain functions over a SQLModel session."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from billing.keys import hash_key, new_id, new_secret
from billing.models import ApiKey, Tenant, utcnow
from billing.periods import PeriodError, zone

ROLES = ("user", "tenant_admin", "admin")
MARKUP_MIN, MARKUP_MAX = -1.0, 10.0  # a tenant's markup: from free to eleven times the price


class AccountError(ValueError):
    """A request about tenants or keys that cannot be carried out (unknown name, bad role...)."""


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    secret: str  # shown once, never stored


def get_tenant_by_name(session: Session, name: str) -> Tenant | None:
    return session.exec(select(Tenant).where(Tenant.name == name)).first()


def create_tenant(session: Session, name: str, timezone: str = "UTC", markup: float = 0.0) -> Tenant:
    if not name or len(name) > 200:
        raise AccountError("tenant name must be 1-200 characters")
    if get_tenant_by_name(session, name):
        raise AccountError(f"tenant {name!r} already exists")
    if not isinstance(markup, int | float) or not math.isfinite(markup) or not MARKUP_MIN <= markup <= MARKUP_MAX:
        raise AccountError(f"markup must be a number from {MARKUP_MIN:g} to {MARKUP_MAX:g} (0.1 = +10%), not {markup!r}")
    try:
        zone(timezone)  # every period, invoice and chart of the tenant is cut in it
    except PeriodError:
        raise AccountError(f"unknown time zone {timezone!r} (use an IANA name such as Europe/Paris)") from None
    tenant = Tenant(id=new_id("ten"), name=name, timezone=timezone, markup=markup)
    session.add(tenant)
    session.commit()
    session.refresh(tenant)
    return tenant


def ensure_tenant(session: Session, name: str) -> Tenant:
    return get_tenant_by_name(session, name) or create_tenant(session, name)


def list_tenants(session: Session) -> list[Tenant]:
    return list(session.exec(select(Tenant).order_by(Tenant.created_at)))


def create_key(
    session: Session,
    tenant: Tenant | None,
    *,
    name: str = "",
    role: str = "user",
    allowed_models: list[str] | None = None,
    expires_at: datetime | None = None,
    secret: str | None = None,
    cache_mode: str = "auto",
    semantic_cache: bool = True,
) -> CreatedKey:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    _check_cache_mode(cache_mode)
    if (role == "admin") != (tenant is None):
        raise AccountError("an admin key has no tenant; every other key has one")
    fresh = new_secret(admin=role == "admin")
    if secret is not None:  # a key the operator chose (TOKENMILL_ADMIN_KEY)
        fresh = type(fresh)(secret=secret, prefix=secret[:18], key_hash=hash_key(secret))
    key = ApiKey(
        id=new_id("key"),
        tenant_id=tenant.id if tenant else None,
        role=role,
        name=name,
        prefix=fresh.prefix,
        key_hash=fresh.key_hash,
        allowed_models=list(allowed_models or []),
        expires_at=expires_at,
        cache_mode=cache_mode,
        semantic_cache=semantic_cache,
    )
    session.add(key)
    session.commit()
    session.refresh(key)
    return CreatedKey(key=key, secret=fresh.secret)


def find_key_by_secret(session: Session, secret: str) -> ApiKey | None:
    return session.exec(select(ApiKey).where(ApiKey.key_hash == hash_key(secret))).first()


def list_keys(session: Session, tenant_id: str | None = None) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.created_at)
    if tenant_id is not None:
        query = query.where(ApiKey.tenant_id == tenant_id)
    return list(session.exec(query))


CACHE_MODES = ("auto", "on", "off")  # cache.policy.CacheMode: auto = deterministic calls only


def _check_cache_mode(mode: str) -> None:
    if mode not in CACHE_MODES:
        raise AccountError(f"cache_mode must be one of {', '.join(CACHE_MODES)}")


def update_key(
    session: Session, key: ApiKey, *, allowed_models: list[str] | None = None, name: str | None = None,
    cache_mode: str | None = None, semantic_cache: bool | None = None,
) -> ApiKey:
    """Change what a key may use (empty list = every model), its label or its cache policy."""
    if allowed_models is not None:
        key.allowed_models = list(allowed_models)
    if name is not None:
        key.name = name
    if cache_mode is not None:
        _check_cache_mode(cache_mode)
        key.cache_mode = cache_mode
    if semantic_cache is not None:
        key.semantic_cache = semantic_cache
    session.add(key)
    session.commit()
    session.refresh(key)
    return key


def revoke_key(session: Session, key_id: str) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise AccountError(f"no key {key_id!r}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
        session.commit()
        session.refresh(key)
    return key


def has_admin_key(session: Session) -> bool:
    return session.exec(select(ApiKey.id).where(ApiKey.role == "admin", ApiKey.revoked_at.is_(None))).first() is not None

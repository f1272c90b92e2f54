"""API key -> Principal, with a short in-process cache so the hot path skips the database."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from billing.accounts import find_key_by_secret
from billing.db import db_session
from billing.keys import hash_key
from billing.models import Tenant
from gateway.errors import APIError, invalid_api_key, model_not_allowed


@dataclass(frozen=True)
class Principal:
    key_id: str
    role: str  # user | tenant_admin | admin
    tenant_id: str | None
    tenant_name: str | None
    allowed_models: frozenset[str]  # empty = every model
    markup: float = 0.0
    timezone: str = "UTC"
    expires_at: datetime | None = None
    cache_mode: str = "auto"  # auto | on | off, from the key
    semantic_cache: bool = True

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def isolation_scope(self) -> str:
        """What caches and run state are kept apart by: the tenant, or for a key without one (the
        platform admin key) the key itself. Tenant ids never contain ':' (billing.keys.new_id)."""
        return self.tenant_id or f"key:{self.key_id}"

    def may_use(self, model: str) -> bool:
        return not self.allowed_models or model in self.allowed_models

    def check_model(self, model: str) -> None:
        if not self.may_use(model):
            raise model_not_allowed(model)


def bearer_secret(authorization: str | None, x_api_key: str | None = None) -> str:
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    if x_api_key:
        return x_api_key.strip()
    raise invalid_api_key("You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY'.")


class KeyStore:
    """Looks keys up by hash. Revocations made through this process apply at once; elsewhere
    within `ttl` seconds (the cache's lifetime)."""

    def __init__(self, engine: Engine, ttl: float = 10.0, max_entries: int = 100_000):
        self._engine = engine
        self._ttl = ttl
        self._max_entries = max_entries
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    async def authenticate(self, secret: str) -> Principal:
        digest = hash_key(secret)
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            principal = hit[1]
        else:
            try:
                principal = await asyncio.to_thread(self._load, secret)
            except SQLAlchemyError as exc:
                # Database down: a key seen before keeps working; a new one cannot be checked.
                if hit is not None and hit[1] is not None:
                    return hit[1]
                raise APIError(503, "Cannot verify the API key right now; try again shortly.", type="server_error", code="auth_unavailable") from exc
            if len(self._cache) >= self._max_entries:
                self._cache.clear()
            # Unknown keys are remembered briefly too, so a client hammering a bad key stays cheap.
            self._cache[digest] = (now + (self._ttl if principal else min(self._ttl, 2.0)), principal)
        if principal is None:
            raise invalid_api_key()
        if principal.expires_at is not None and principal.expires_at <= datetime.now(UTC):
            raise APIError(401, "This API key has expired.", code="invalid_api_key")
        return principal

    def forget(self, secret_hash: str | None = None) -> None:
        if secret_hash is None:
            self._cache.clear()
        else:
            self._cache.pop(secret_hash, None)

    def _load(self, secret: str) -> Principal | None:
        with db_session(self._engine) as session:
            key = find_key_by_secret(session, secret)
            if key is None or key.revoked_at is not None:
                return None
            tenant = session.get(Tenant, key.tenant_id) if key.tenant_id else None
            return Principal(
                key_id=key.id,
                role=key.role,
                tenant_id=key.tenant_id,
                tenant_name=tenant.name if tenant else None,
                allowed_models=frozenset(key.allowed_models or ()),
                markup=tenant.markup if tenant else 0.0,
                timezone=tenant.timezone if tenant else "UTC",
                expires_at=key.expires_at,
                cache_mode=key.cache_mode,
                semantic_cache=key.semantic_cache,
            )

"""The key a batch runs as: a snapshot taken when the batch was accepted, still checked against
the key's row when each chunk starts (a revoked or expired key stops the batch's remaining lines)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from billing.batch_models import Batch
from billing.db import db_session
from billing.models import ApiKey
from gateway.auth import Principal
from gateway.errors import APIError

_FIELDS = {f.name for f in dataclasses.fields(Principal)}


def snapshot(principal: Principal) -> dict[str, Any]:
    out = dataclasses.asdict(principal)
    out["allowed_models"] = sorted(principal.allowed_models)
    out["expires_at"] = principal.expires_at.isoformat() if principal.expires_at else None
    return out


def restore(data: dict[str, Any]) -> Principal:
    values = {k: v for k, v in data.items() if k in _FIELDS}
    values["allowed_models"] = frozenset(values.get("allowed_models") or ())
    if values.get("expires_at"):
        values["expires_at"] = datetime.fromisoformat(values["expires_at"])
    return Principal(**values)


def usable_principal(engine: Engine, batch: Batch) -> Principal | APIError:
    with db_session(engine) as session:
        key = session.get(ApiKey, batch.key_id)
    if key is None or key.revoked_at is not None:
        return APIError(401, "The API key that created this batch was revoked.", code="invalid_api_key")
    expires = key.expires_at
    if expires is not None and (expires if expires.tzinfo else expires.replace(tzinfo=UTC)) <= datetime.now(UTC):
        return APIError(401, "The API key that created this batch has expired.", code="invalid_api_key")
    return restore(batch.principal)

"""SQLModel tables: tenants, API keys and the append-only usage ledger.

Schema changes go through Alembic (billing/migrations); tests check the two agree.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class Tenant(SQLModel, table=True):
    __tablename__ = "tenants"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(sa_column=sa.Column(sa.String(200), unique=True, nullable=False))
    timezone: str = Field(default="UTC", max_length=64)
    # Billing adjustment applied to every priced call: 0.1 = +10%, -0.05 = 5% discount.
    markup: float = Field(default=0.0)
    created_at: datetime = Field(default_factory=utcnow)


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: str = Field(primary_key=True, max_length=40)
    # None for the global admin key; set for user and tenant-admin keys.
    tenant_id: str | None = Field(default=None, foreign_key="tenants.id", index=True, max_length=40)
    role: str = Field(default="user", max_length=20)  # user | tenant_admin | admin
    name: str = Field(default="", max_length=200)
    prefix: str = Field(max_length=20)  # the visible start of the secret, for people to recognise it
    key_hash: str = Field(sa_column=sa.Column(sa.String(64), unique=True, nullable=False))
    allowed_models: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    # Response-cache policy for this key: auto (deterministic calls), on, off; semantic matching on/off.
    cache_mode: str = Field(default="auto", max_length=8)
    semantic_cache: bool = True


class UsageRecord(SQLModel, table=True):
    """One row per request, never updated. Costs are integer nano-dollars."""

    __tablename__ = "usage_records"
    __table_args__ = (
        sa.Index("ix_usage_tenant_time", "tenant_id", "created_at"),
        sa.Index("ix_usage_run", "tenant_id", "run_id"),
    )

    id: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True))
    request_id: str = Field(sa_column=sa.Column(sa.String(64), unique=True, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    tenant_id: str | None = Field(default=None, max_length=40)
    key_id: str | None = Field(default=None, max_length=40)
    run_id: str | None = Field(default=None, max_length=128)
    endpoint: str = Field(default="chat", max_length=32)  # chat | completions | embeddings | batch
    model_requested: str = Field(default="", max_length=200)
    model_served: str = Field(default="", max_length=200)
    deployment: str = Field(default="", max_length=200)
    provider: str = Field(default="", max_length=64)
    tier: str = Field(default="", max_length=16)
    route_reason: str = Field(default="", max_length=500)
    route_score: float | None = None
    route_threshold: float | None = None
    cache: str = Field(default="", max_length=16)  # hit-exact | hit-semantic | miss | bypass | ''
    # 64-bit: an upstream may report more tokens than a 32-bit column holds.
    prompt_tokens: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False, default=0))
    completion_tokens: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False, default=0))
    cached_tokens: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False, default=0))
    cache_write_tokens: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False, default=0))
    reasoning_tokens: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False, default=0))
    cost_nanos: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False, default=0))
    saved_nanos: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False, default=0))
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    stream: bool = False
    status_code: int = 200
    error_type: str | None = Field(default=None, max_length=64)

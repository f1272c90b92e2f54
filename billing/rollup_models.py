"""Daily usage rollups: what reports and invoices read instead of the raw ledger."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from billing.models import utcnow


class UsageDaily(SQLModel, table=True):
    """Ledger rows summed per tenant-local day, key, run, endpoint and deployment."""

    __tablename__ = "usage_daily"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "day", "key_id", "run_id", "endpoint", "deployment", "model_served", name="uq_usage_daily_line"),
    )

    id: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True))
    tenant_id: str = Field(default="", max_length=40)
    day: date
    key_id: str = Field(default="", max_length=40)
    run_id: str = Field(default="", max_length=128)
    endpoint: str = Field(default="", max_length=32)
    deployment: str = Field(default="", max_length=200)
    model_served: str = Field(default="", max_length=200)
    calls: int = 0
    errors: int = 0
    cache_hits: int = 0
    prompt_tokens: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False, default=0))
    completion_tokens: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False, default=0))
    cached_tokens: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False, default=0))
    cache_write_tokens: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False, default=0))
    reasoning_tokens: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False, default=0))
    cost_nanos: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False, default=0))
    saved_nanos: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False, default=0))
    computed_at: datetime = Field(default_factory=utcnow)


class RollupState(SQLModel, table=True):
    """How far the rollup job has read the ledger (by usage row id)."""

    __tablename__ = "rollup_state"

    name: str = Field(primary_key=True, max_length=40)
    last_row_id: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False, default=0))
    updated_at: datetime = Field(default_factory=utcnow)

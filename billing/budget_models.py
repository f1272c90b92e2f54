"""SQLModel tables for budgets, their alerts, and rate-limit rules (the durable definitions).

Hot counters (spent, reserved, token buckets) live in a counter store, never here; the usage
ledger stays the truth those counters are rebuilt from.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from billing.models import utcnow


class Budget(SQLModel, table=True):
    """A spending wall on a scope: a tenant, optionally narrowed to one key or one agent run
    (run_id '*' = every run gets its own wall), optionally to one model."""

    __tablename__ = "budgets"

    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(foreign_key="tenants.id", index=True, max_length=40)
    key_id: str | None = Field(default=None, max_length=40)
    run_id: str | None = Field(default=None, max_length=128)
    model: str | None = Field(default=None, max_length=200)
    # tenant|key|run|model, unique: one budget per scope (NULLs would not collide in a unique index).
    scope: str = Field(sa_column=sa.Column(sa.String(420), unique=True, nullable=False))
    limit_nanos: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    limit_tokens: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    period: str = Field(default="monthly", max_length=16)  # none | daily | weekly | monthly
    soft_fraction: float | None = Field(default=0.8)  # alert once per period at this share
    on_exceed: str = Field(default="refuse", max_length=16)  # refuse | clamp
    alert_webhook: str | None = Field(default=None, max_length=1000)
    # Set by the operator (a global admin, the CLI): a tenant admin may not raise or remove it.
    set_by_operator: bool = Field(default=False, sa_column=sa.Column(sa.Boolean, nullable=False, server_default=sa.false()))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class BudgetAlert(SQLModel, table=True):
    """A soft threshold crossed: at most one row per budget and period (and run, for '*')."""

    __tablename__ = "budget_alerts"
    __table_args__ = (sa.UniqueConstraint("budget_id", "period_label", "run_id", name="uq_budget_alert_once"),)

    id: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True))
    budget_id: str = Field(max_length=40, index=True)
    tenant_id: str = Field(max_length=40)
    period_label: str = Field(max_length=16)
    run_id: str = Field(default="", max_length=128)
    spent_nanos: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False, default=0))
    spent_tokens: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False, default=0))
    limit_nanos: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    limit_tokens: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    webhook: str | None = Field(default=None, max_length=1000)
    fired_at: datetime = Field(default_factory=utcnow)
    delivered_at: datetime | None = None
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)


class RateLimitRule(SQLModel, table=True):
    """Requests and tokens per minute for a tenant (key_id NULL) or one of its keys."""

    __tablename__ = "rate_limits"

    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(foreign_key="tenants.id", index=True, max_length=40)
    key_id: str | None = Field(default=None, max_length=40)
    scope: str = Field(sa_column=sa.Column(sa.String(100), unique=True, nullable=False))
    rpm: int | None = None
    tpm: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    set_by_operator: bool = Field(default=False, sa_column=sa.Column(sa.Boolean, nullable=False, server_default=sa.false()))
    created_at: datetime = Field(default_factory=utcnow)

"""Routing outcomes reported by clients, and the per-tenant thresholds recalibrated from them."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from billing.models import utcnow


class RouteFeedback(SQLModel, table=True):
    __tablename__ = "route_feedback"
    __table_args__ = (sa.Index("ix_route_feedback_tenant_time", "tenant_id", "created_at"),)

    id: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True))
    request_id: str = Field(sa_column=sa.Column(sa.String(64), unique=True, nullable=False))
    tenant_id: str | None = Field(default=None, max_length=40)
    score: float  # the outcome in [0, 1]: 1 = good answer
    label: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow)


class TenantRouteThreshold(SQLModel, table=True):
    """A tenant's recalibrated strong-tier threshold for one route (overrides the shipped one)."""

    __tablename__ = "tenant_route_thresholds"

    tenant_id: str = Field(primary_key=True, max_length=40)
    route: str = Field(primary_key=True, max_length=100)
    threshold: float
    samples: int = 0
    updated_at: datetime = Field(default_factory=utcnow)

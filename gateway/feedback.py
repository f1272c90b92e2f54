"""Outcomes reported by clients (POST /v1/feedback) and per-tenant threshold recalibration.

Feedback on calls that the router kept on a cheaper tier tells how often such calls go wrong
at a given difficulty score; `recalibrate` moves each tenant's strong threshold so the failure
rate of kept calls stays under the bar (routing.recalibrate_from_feedback does the maths).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from billing.db import db_session
from billing.feedback_models import RouteFeedback, TenantRouteThreshold
from billing.models import Tenant, UsageRecord, utcnow
from routing import recalibrate_from_feedback

CHEAP_TIERS = ("local", "cheap")


class FeedbackError(ValueError):
    pass


def record_feedback(engine: Engine, tenant_id: str | None, request_id: str, score: float, label: str | None) -> RouteFeedback:
    """Store one outcome for a call of this tenant (a later report for the same call replaces it)."""
    with db_session(engine) as session:
        owned = session.execute(
            sa.select(UsageRecord.id).where(UsageRecord.request_id == request_id, UsageRecord.tenant_id == tenant_id)
        ).first()
        if owned is None:
            raise FeedbackError(f"no call {request_id!r} for this tenant (usage rows arrive within a second of the answer)")
        existing = session.execute(sa.select(RouteFeedback).where(RouteFeedback.request_id == request_id)).scalar_one_or_none()
        row = existing or RouteFeedback(request_id=request_id, tenant_id=tenant_id, score=score)
        row.score, row.label, row.created_at = score, label, utcnow()
        session.add(row)
        try:
            session.commit()
        except IntegrityError:  # a concurrent report for the same call won; keep it
            session.rollback()
            row = session.execute(sa.select(RouteFeedback).where(RouteFeedback.request_id == request_id)).scalar_one()
        return row


@dataclass(frozen=True)
class DefaultThresholds:
    """The configured (calibrated) strong thresholds: global routes by name, and per tenant name
    its own routes, which shadow a global route of the same name for that tenant."""

    routes: dict[str, float]
    tenant_routes: dict[str, dict[str, float]] = field(default_factory=dict)

    def names(self) -> set[str]:
        return set(self.routes).union(*self.tenant_routes.values())

    def for_tenant(self, tenant_name: str | None, route: str) -> float | None:
        own = self.tenant_routes.get(tenant_name or "", {})
        return own.get(route, self.routes.get(route))


@dataclass(frozen=True)
class Recalibration:
    tenant_id: str
    route: str
    samples: int
    old_threshold: float
    new_threshold: float


def recalibrate(engine: Engine, defaults: DefaultThresholds, max_failure_rate: float = 0.25, min_samples: int = 50) -> list[Recalibration]:
    """Recompute every (tenant, route) threshold that has enough feedback on cheaper-tier calls.
    Calls made without a tenant (the operator's admin key) have no threshold to tune."""
    query = (
        sa.select(UsageRecord.tenant_id, UsageRecord.model_requested, UsageRecord.route_score, RouteFeedback.score)
        .join(RouteFeedback, RouteFeedback.request_id == UsageRecord.request_id)
        .where(
            UsageRecord.tier.in_(CHEAP_TIERS), UsageRecord.route_score.is_not(None), UsageRecord.tenant_id.is_not(None),
            UsageRecord.model_requested.in_(sorted(defaults.names())),
        )
    )
    samples: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    with db_session(engine) as session:
        for tenant_id, route, route_score, outcome in session.execute(query):
            samples[(tenant_id, route)].append((float(route_score), float(outcome)))
        current = {(r.tenant_id, r.route): r for r in session.execute(sa.select(TenantRouteThreshold)).scalars()}
        names = dict(session.execute(sa.select(Tenant.id, Tenant.name)).all())
        changes = []
        for (tenant_id, route), pairs in samples.items():
            default = defaults.for_tenant(names.get(tenant_id), route)
            if len(pairs) < min_samples or default is None:  # None: another tenant's route of that name
                continue
            row = current.get((tenant_id, route))
            old = row.threshold if row else default
            new = recalibrate_from_feedback(pairs, old, max_failure_rate=max_failure_rate, min_samples=min_samples)
            row = row or TenantRouteThreshold(tenant_id=tenant_id, route=route, threshold=new)
            row.threshold, row.samples, row.updated_at = new, len(pairs), utcnow()
            session.add(row)
            changes.append(Recalibration(tenant_id, route, len(pairs), old, new))
        session.commit()
    return changes

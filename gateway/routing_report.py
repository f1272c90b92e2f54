"""`tokenmill routing report`: per tenant, the tier mix, the spend, and the quality to expect."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from billing.db import db_session
from billing.feedback_models import RouteFeedback
from billing.models import Tenant, UsageRecord
from billing.money import nanos_to_usd
from billing.sql_totals import bigint_total
from gateway.context import CASCADE_ATTEMPT_SUFFIX
from routing import ReferenceCurve, get_router


@dataclass
class TenantRouting:
    tenant: str
    calls: int = 0  # answered calls; a cascade's escalated local attempt is not one
    routed_calls: int = 0  # calls that asked for a route (auto, auto-*) and were routed
    tiers: dict[str, int] = field(default_factory=dict)  # local | cheap | strong | cache (answered from a cache)
    cascade_attempts: int = 0  # local attempts escalated by the cascade: billed, counted in cost_usd only
    cost_usd: float = 0.0
    strong_share: float | None = None  # among routed calls
    expected_quality_kept: float | None = None  # from the router's reference curve at that share
    feedback_samples: int = 0
    feedback_mean: float | None = None


def routing_report(engine: Engine, days: float = 30.0) -> list[TenantRouting]:
    since = datetime.now(UTC) - timedelta(days=days)
    curve = ReferenceCurve.from_dict(get_router().model.reference_curve)
    routed = UsageRecord.route_score.is_not(None)
    served_from = sa.case((UsageRecord.cache.like("hit-%"), "cache"), else_=UsageRecord.tier)
    attempt = UsageRecord.request_id.like("%" + CASCADE_ATTEMPT_SUFFIX)
    answered = UsageRecord.status_code == 200  # calls count answered rows; the spend counts every billed one (a stream cut short too)
    tier_query = (
        sa.select(
            UsageRecord.tenant_id, served_from, attempt, sa.func.sum(sa.case((answered, 1), else_=0)),
            sa.func.sum(sa.case((answered & routed, 1), else_=0)), bigint_total(UsageRecord.cost_nanos),
        )
        .where(UsageRecord.created_at >= since)
        .group_by(UsageRecord.tenant_id, served_from, attempt)
    )
    feedback_query = (
        sa.select(RouteFeedback.tenant_id, sa.func.count(), sa.func.avg(RouteFeedback.score))
        .where(RouteFeedback.created_at >= since)
        .group_by(RouteFeedback.tenant_id)
    )
    with db_session(engine) as session:
        names = dict(session.execute(sa.select(Tenant.id, Tenant.name)).all())
        reports: dict[str, TenantRouting] = {}
        strong_routed: dict[str, int] = {}
        for tenant_id, tier, is_attempt, calls, routed_calls, cost in session.execute(tier_query):
            r = reports.setdefault(tenant_id, TenantRouting(tenant=names.get(tenant_id, tenant_id or "-")))
            r.cost_usd += nanos_to_usd(int(cost or 0))
            calls = int(calls or 0)
            if is_attempt:
                r.cascade_attempts += calls
                continue
            r.calls += calls
            r.routed_calls += int(routed_calls or 0)
            if calls:
                r.tiers[tier or "-"] = r.tiers.get(tier or "-", 0) + calls
            if tier == "strong":
                strong_routed[tenant_id] = strong_routed.get(tenant_id, 0) + int(routed_calls or 0)
        for tenant_id, samples, mean in session.execute(feedback_query):
            if tenant_id in reports:
                reports[tenant_id].feedback_samples, reports[tenant_id].feedback_mean = samples, float(mean)
    for tenant_id, r in reports.items():
        if r.routed_calls:
            r.strong_share = strong_routed.get(tenant_id, 0) / r.routed_calls
            r.expected_quality_kept = curve.quality_kept(r.strong_share)
    return sorted(reports.values(), key=lambda r: -r.cost_usd)


def format_report(reports: list[TenantRouting]) -> str:
    lines = [f"{'TENANT':<24} {'CALLS':>7} {'LOCAL':>6} {'CHEAP':>6} {'STRONG':>6} {'CACHE':>6} {'COST USD':>12} {'STRONG%':>8} {'QUALITY':>8} {'FEEDBACK':>9}"]
    for r in reports:
        share = f"{r.strong_share:.0%}" if r.strong_share is not None else "-"
        quality = f"{r.expected_quality_kept:.1%}" if r.expected_quality_kept is not None else "-"
        feedback = f"{r.feedback_mean:.2f}/{r.feedback_samples}" if r.feedback_mean is not None else "-"
        t = r.tiers
        lines.append(
            f"{r.tenant[:24]:<24} {r.calls:>7} {t.get('local', 0):>6} {t.get('cheap', 0):>6} {t.get('strong', 0):>6} {t.get('cache', 0):>6} "
            f"{r.cost_usd:>12.6f} {share:>8} {quality:>8} {feedback:>9}"
        )
    lines.append("QUALITY: expected share of the strong model's quality kept at that strong share (router reference curve).")
    return "\n".join(lines)


def as_dicts(reports: list[TenantRouting]) -> list[dict]:
    return [asdict(r) for r in reports]

"""Aggregates for the overview: spend, savings versus always-strong, caches, tiers, runs, charts."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from billing.models import UsageRecord
from web.formatting import zone
from web.timebuckets import local_day_sums

U = UsageRecord.__table__.c
CACHE_HITS = ("hit-exact", "hit-semantic")


@dataclass(frozen=True)
class Window:
    """The periods the overview reports on, in one time zone."""

    tz: str
    now: datetime

    @property
    def today_start(self) -> datetime:
        local = self.now.astimezone(zone(self.tz))
        return local.replace(hour=0, minute=0, second=0, microsecond=0)

    @property
    def month_start(self) -> datetime:
        return self.today_start.replace(day=1)

    def days_back(self, days: int) -> datetime:
        return self.today_start - timedelta(days=days - 1)


@dataclass(frozen=True)
class Totals:
    calls: int = 0
    cost_nanos: int = 0
    saved_nanos: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    errors: int = 0


def _where(tenant_id: str | None, since: datetime | None) -> list[sa.ColumnElement[bool]]:
    out = []
    if tenant_id:
        out.append(U.tenant_id == tenant_id)
    if since:
        out.append(U.created_at >= since)
    return out


def totals(engine: Engine, tenant_id: str | None, since: datetime | None) -> Totals:
    query = sa.select(
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(U.cost_nanos), 0),
        sa.func.coalesce(sa.func.sum(U.saved_nanos), 0),
        sa.func.coalesce(sa.func.sum(U.prompt_tokens), 0),
        sa.func.coalesce(sa.func.sum(U.completion_tokens), 0),
        sa.func.coalesce(sa.func.sum(U.cached_tokens), 0),
        sa.func.coalesce(sa.func.sum(sa.case((U.status_code >= 400, 1), else_=0)), 0),
    ).where(*_where(tenant_id, since))
    with engine.connect() as conn:
        return Totals(*(int(v) for v in conn.execute(query).one()))


@dataclass(frozen=True)
class CacheRates:
    calls: int
    hits_exact: int
    hits_semantic: int
    prompt_tokens: int
    cached_tokens: int

    @property
    def hits(self) -> int:
        return self.hits_exact + self.hits_semantic


def cache_rates(engine: Engine, tenant_id: str | None, since: datetime | None) -> CacheRates:
    query = sa.select(
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(sa.case((U.cache == "hit-exact", 1), else_=0)), 0),
        sa.func.coalesce(sa.func.sum(sa.case((U.cache == "hit-semantic", 1), else_=0)), 0),
        sa.func.coalesce(sa.func.sum(U.prompt_tokens), 0),
        sa.func.coalesce(sa.func.sum(U.cached_tokens), 0),
    ).where(*_where(tenant_id, since), U.endpoint != "embeddings")
    with engine.connect() as conn:
        return CacheRates(*(int(v) for v in conn.execute(query).one()))


def tier_mix(engine: Engine, tenant_id: str | None, since: datetime | None) -> list[dict[str, Any]]:
    query = (
        sa.select(U.tier, sa.func.count().label("calls"), sa.func.coalesce(sa.func.sum(U.cost_nanos), 0).label("cost_nanos"),
                  sa.func.coalesce(sa.func.sum(U.prompt_tokens + U.completion_tokens), 0).label("tokens"))
        .where(*_where(tenant_id, since), U.tier != "")
        .group_by(U.tier)
        .order_by(sa.func.count().desc())
    )
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def top_runs(engine: Engine, tenant_id: str | None, since: datetime | None, limit: int = 10) -> list[dict[str, Any]]:
    query = (
        sa.select(U.tenant_id, U.run_id, sa.func.count().label("calls"), sa.func.sum(U.cost_nanos).label("cost_nanos"),
                  sa.func.sum(U.prompt_tokens + U.completion_tokens).label("tokens"))
        .where(*_where(tenant_id, since), U.run_id.is_not(None), U.run_id != "")
        .group_by(U.tenant_id, U.run_id)
        .order_by(sa.func.sum(U.cost_nanos).desc(), sa.func.count().desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def daily_spend_by_model(engine: Engine, tenant_id: str | None, window: Window, days: int) -> dict[str, Any]:
    """Chart data: one label per local day, one series (cost in USD) per model that served."""
    start = window.days_back(days)
    model = sa.case((U.model_served != "", U.model_served), else_=U.model_requested)
    sums = local_day_sums(engine, U.cost_nanos, _where(tenant_id, start), window.tz, group=model)
    labels = [(start.date() + timedelta(days=i)) for i in range(days)]
    index = {day: i for i, day in enumerate(labels)}
    series: dict[str, list[float]] = defaultdict(lambda: [0.0] * days)
    for (day, name), cost in sums.items():
        slot = index.get(day)
        if slot is not None:
            series[name or "(unknown)"][slot] += cost / 1e9
    ordered = sorted(((k, v) for k, v in series.items() if any(v)), key=lambda item: -sum(item[1]))
    return {"labels": [d.isoformat() for d in labels], "series": [{"label": k, "data": [round(v, 9) for v in vals]} for k, vals in ordered]}

"""Daily rollups of the usage ledger (per tenant-local day), and their reconciliation.

The job reads only ledger rows newer than its bookmark (plus a small overlap: PostgreSQL may
commit a lower id after a higher one), and recomputes each tenant-day those rows touch from
scratch, so running it twice, or concurrently, gives the same table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from billing.budgets.ledger_sums import tenant_timezones
from billing.models import UsageRecord, utcnow
from billing.periods import PeriodError, day_bounds, zone
from billing.rollup_models import RollupState, UsageDaily
from billing.sql_totals import BIGINT_MAX, bigint_total

log = logging.getLogger(__name__)

BOOKMARK = "usage_daily"
OVERLAP_ROWS = 1000

U = UsageRecord.__table__.c
D = UsageDaily.__table__.c
_LINE = (U.key_id, U.run_id, U.endpoint, U.deployment, U.model_served)
_SUMS = {
    "calls": sa.func.count(),
    "errors": sa.func.sum(sa.case((U.status_code >= 400, 1), else_=0)),
    "cache_hits": sa.func.sum(sa.case((U.cache.like("hit%"), 1), else_=0)),
    "prompt_tokens": bigint_total(U.prompt_tokens),
    "completion_tokens": bigint_total(U.completion_tokens),
    "cached_tokens": bigint_total(U.cached_tokens),
    "cache_write_tokens": bigint_total(U.cache_write_tokens),
    "reasoning_tokens": bigint_total(U.reasoning_tokens),
    "cost_nanos": bigint_total(U.cost_nanos),
    "saved_nanos": bigint_total(U.saved_nanos),
}
CHECKED = ("calls", "prompt_tokens", "completion_tokens", "cost_nanos")


@dataclass
class RollupReport:
    rows_read: int = 0
    days: int = 0
    last_row_id: int = 0


def _tenant_clause(tenant_id: str):  # noqa: ANN202 - a SQL expression
    return U.tenant_id.is_(None) if tenant_id == "" else U.tenant_id == tenant_id


def _tz(timezones: dict[str, str], tenant_id: str) -> str:
    name = timezones.get(tenant_id, "UTC")
    try:
        zone(name)
        return name
    except PeriodError:
        return "UTC"


def _local_day(moment: datetime, tz: str) -> date:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone(tz)).date()


def recompute_day(engine: Engine, tenant_id: str, tz: str, day: date) -> int:
    """Replace one tenant-day's rollup lines with sums over the ledger; returns the lines."""
    start, end = day_bounds(day, tz)
    query = sa.select(*_LINE, *_SUMS.values()).where(_tenant_clause(tenant_id), U.created_at >= start, U.created_at < end).group_by(*_LINE)
    for attempt in range(3):
        try:
            with engine.begin() as conn:
                lines = [
                    {"tenant_id": tenant_id, "day": day, "key_id": r[0] or "", "run_id": r[1] or "", "endpoint": r[2], "deployment": r[3],
                     "model_served": r[4], **{name: int(r[5 + i] or 0) for i, name in enumerate(_SUMS)}, "computed_at": utcnow()}
                    for r in conn.execute(query)
                ]
                conn.execute(sa.delete(UsageDaily.__table__).where(D.tenant_id == tenant_id, D.day == day))
                if lines:
                    conn.execute(sa.insert(UsageDaily.__table__), _merge(lines))
                return len(lines)
        except IntegrityError:  # another job wrote the same day between our delete and insert
            if attempt == 2:
                raise
    return 0


def _merge(lines: list[dict]) -> list[dict]:
    """Rows with NULL and '' key/run ids fall into one line."""
    merged: dict[tuple, dict] = {}
    for line in lines:
        k = (line["key_id"], line["run_id"], line["endpoint"], line["deployment"], line["model_served"])
        if k in merged:
            for name in _SUMS:
                merged[k][name] = min(merged[k][name] + line[name], BIGINT_MAX)
        else:
            merged[k] = line
    return list(merged.values())


def _bookmark(conn: Connection) -> int:
    return conn.execute(sa.select(RollupState.__table__.c.last_row_id).where(RollupState.__table__.c.name == BOOKMARK)).scalar() or 0


def _save_bookmark(engine: Engine, row_id: int) -> None:
    table = RollupState.__table__
    with engine.begin() as conn:
        updated = conn.execute(sa.update(table).where(table.c.name == BOOKMARK).values(last_row_id=row_id, updated_at=utcnow())).rowcount
        if not updated:
            conn.execute(sa.insert(table).values(name=BOOKMARK, last_row_id=row_id, updated_at=utcnow()))


def rollup(engine: Engine, overlap_rows: int = OVERLAP_ROWS) -> RollupReport:
    """Bring usage_daily up to date with the ledger."""
    with engine.connect() as conn:
        last = _bookmark(conn)
        top = conn.execute(sa.select(sa.func.max(U.id))).scalar() or 0
        if top <= last:
            return RollupReport(last_row_id=last)
        touched = conn.execute(
            sa.select(U.tenant_id, sa.func.min(U.created_at), sa.func.max(U.created_at), sa.func.count())
            .where(U.id > max(0, last - overlap_rows), U.id <= top)
            .group_by(U.tenant_id)
        ).all()
        timezones = tenant_timezones(conn)
    report = RollupReport(last_row_id=top)
    for tenant_id, first, latest, count in touched:
        tenant = tenant_id or ""
        tz = _tz(timezones, tenant)
        day, last_day = _local_day(first, tz), _local_day(latest, tz)
        report.rows_read += count
        while day <= last_day:
            recompute_day(engine, tenant, tz, day)
            report.days += 1
            day += timedelta(days=1)
    _save_bookmark(engine, top)
    return report


@dataclass
class RollupDifference:
    tenant_id: str
    day: date
    field: str
    ledger: int
    rollup: int


@dataclass
class RollupCheck:
    days_checked: int = 0
    differences: list[RollupDifference] = field(default_factory=list)


def check_rollups(engine: Engine, days: int = 35, fix: bool = False) -> RollupCheck:
    """Compare each tenant-day of the last `days` days in usage_daily with the ledger."""
    check = RollupCheck()
    with engine.connect() as conn:
        timezones = tenant_timezones(conn)
        tenants = sorted({t or "" for (t,) in conn.execute(sa.select(U.tenant_id).distinct())} | set(timezones))
    for tenant in tenants:
        tz = _tz(timezones, tenant)
        today = _local_day(datetime.now(UTC), tz)
        first = today - timedelta(days=days - 1)
        with engine.connect() as conn:
            rolled = {
                r[0]: dict(zip(CHECKED, (int(v or 0) for v in r[1:]), strict=True))
                for r in conn.execute(
                    sa.select(D.day, *(bigint_total(getattr(D, name)) for name in CHECKED)).where(D.tenant_id == tenant, D.day >= first).group_by(D.day)
                )
            }
            for offset in range(days):
                day = first + timedelta(days=offset)
                start, end = day_bounds(day, tz)
                row = conn.execute(
                    sa.select(*(_SUMS[name] for name in CHECKED)).where(_tenant_clause(tenant), U.created_at >= start, U.created_at < end)
                ).one()
                ledger = dict(zip(CHECKED, (int(v or 0) for v in row), strict=True))
                have = rolled.get(day, dict.fromkeys(CHECKED, 0))
                check.days_checked += 1
                wrong = [RollupDifference(tenant, day, name, ledger[name], have[name]) for name in CHECKED if ledger[name] != have[name]]
                check.differences.extend(wrong)
                if wrong and fix:
                    recompute_day(engine, tenant, tz, day)
    return check

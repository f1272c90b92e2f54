"""Ledger sums per local day, the same way on SQLite and PostgreSQL.

Rows are grouped by UTC hour in SQL; the hours then fall into the viewer's (or tenant's) local
days here, which is right for every time zone whose offset is a whole number of hours.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from billing.models import UsageRecord
from billing.sql_totals import bigint_total
from web.formatting import zone

U = UsageRecord.__table__.c


def hour_bucket(engine: Engine) -> sa.ColumnElement[str]:
    """The UTC hour of a row as 'YYYY-MM-DD HH' (SQLite stores UTC text; PostgreSQL a timestamptz)."""
    if engine.dialect.name == "postgresql":
        return sa.func.to_char(sa.func.timezone("UTC", U.created_at), "YYYY-MM-DD HH24")
    return sa.func.substr(sa.cast(U.created_at, sa.String), 1, 13)


def local_day_sums(engine: Engine, value: Any, where: list[Any], tz: str, group: Any | None = None) -> dict[tuple[date, Any], int]:
    """sum(value) per (local day, group) over the rows matching `where`."""
    bucket = hour_bucket(engine).label("hour")
    columns = [bucket] + ([group] if group is not None else [])
    query = sa.select(*columns, bigint_total(value)).where(*where).group_by(*columns)
    local = zone(tz)
    out: dict[tuple[date, Any], int] = defaultdict(int)
    with engine.connect() as conn:
        for row in conn.execute(query):
            hour = datetime.strptime(row[0], "%Y-%m-%d %H").replace(tzinfo=UTC)
            key = row[1] if group is not None else None
            out[(hour.astimezone(local).date(), key)] += int(row[-1] or 0)
    return out

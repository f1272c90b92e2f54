"""Read-only queries over the usage ledger: filters, sorted pages, CSV rows, the calls of a run."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from billing.csv_export import safe_cell
from billing.models import UsageRecord
from billing.money import format_usd
from billing.sql_totals import bigint_total, tokens_total
from web.formatting import zone

U = UsageRecord.__table__.c

SORTS: dict[str, Any] = {
    "time": U.created_at,
    "cost": U.cost_nanos,
    "tokens": U.prompt_tokens + U.completion_tokens,
    "latency": U.latency_ms,
    "model": U.model_served,
    "tenant": U.tenant_id,
    "status": U.status_code,
}


class FilterError(ValueError):
    """A filter value that cannot be read (a malformed time); the message says which."""


@dataclass(frozen=True)
class UsageFilter:
    tenant_id: str | None = None
    key_id: str | None = None
    run_id: str | None = None
    model: str | None = None  # matches the model asked for or the model that served
    since: datetime | None = None
    until: datetime | None = None  # exclusive
    errors_only: bool = False

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        out: list[sa.ColumnElement[bool]] = []
        if self.tenant_id:
            out.append(U.tenant_id == self.tenant_id)
        if self.key_id:
            out.append(U.key_id == self.key_id)
        if self.run_id:
            out.append(U.run_id == self.run_id)
        if self.model:
            out.append(sa.or_(U.model_requested == self.model, U.model_served == self.model))
        if self.since:
            out.append(U.created_at >= self.since)
        if self.until:
            out.append(U.created_at < self.until)
        if self.errors_only:
            out.append(U.status_code >= 400)
        return out

    def scoped(self, tenant_id: str | None) -> UsageFilter:
        return self if tenant_id is None else replace(self, tenant_id=tenant_id)


def parse_moment(text: str | None, tz: str, inclusive_end: bool = False) -> datetime | None:
    """'2025-01-31' or '2025-01-31T14:05' in the viewer's zone -> an aware datetime.

    With `inclusive_end` the result is the end of the day or minute named, so 'until 14:05'
    includes the calls made during 14:05, as a person reading the filter expects.
    """
    text = (text or "").strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            day = datetime.strptime(text, "%Y-%m-%d")
            moment = datetime.combine(day.date() + timedelta(days=1 if inclusive_end else 0), time())
        else:
            moment = datetime.fromisoformat(text)
            if inclusive_end and len(text) == 16:  # YYYY-MM-DDTHH:MM, as <input type=datetime-local> sends
                moment += timedelta(minutes=1)
        moment = moment.replace(tzinfo=zone(tz)) if moment.tzinfo is None else moment
        moment.astimezone(UTC)  # the query compares in UTC: year 1 east of Greenwich, or 9999-12-31 + 1 day, does not exist
    except ValueError:
        raise FilterError(f"{text!r} is not a date (YYYY-MM-DD) or a time (YYYY-MM-DDTHH:MM)") from None
    except OverflowError:
        raise FilterError(f"{text!r} is outside the dates this filter can take") from None
    return moment


@dataclass
class SortOrder:
    key: str = "time"
    descending: bool = True

    @classmethod
    def parse(cls, key: str | None, direction: str | None) -> SortOrder:
        key = key if key in SORTS else "time"
        return cls(key=key, descending=direction != "asc")

    def clauses(self) -> list[Any]:
        column = SORTS[self.key]
        tie = U.id.desc() if self.descending else U.id.asc()
        return [column.desc() if self.descending else column.asc(), tie]


@dataclass
class UsagePage:
    rows: list[Mapping[str, Any]]
    total: int
    page: int
    page_size: int
    totals: dict[str, int] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def usage_page(engine: Engine, filters: UsageFilter, order: SortOrder, page: int, page_size: int) -> UsagePage:
    where = filters.conditions()
    summary = sa.select(
        sa.func.count().label("calls"),
        bigint_total(U.cost_nanos).label("cost_nanos"),
        bigint_total(U.prompt_tokens).label("prompt_tokens"),
        bigint_total(U.completion_tokens).label("completion_tokens"),
    ).where(*where)
    with engine.connect() as conn:
        totals = dict(conn.execute(summary).mappings().one())
        total = int(totals["calls"])
        pages = max(1, -(-total // page_size))
        page = min(max(1, page), pages)
        query = sa.select(UsageRecord.__table__).where(*where).order_by(*order.clauses()).limit(page_size).offset((page - 1) * page_size)
        rows = list(conn.execute(query).mappings())
    return UsagePage(rows=rows, total=total, page=page, page_size=page_size, totals={k: int(v) for k, v in totals.items()})


def distinct_models(engine: Engine, tenant_id: str | None) -> list[str]:
    query = sa.select(U.model_requested).distinct().where(U.model_requested != "")
    if tenant_id:
        query = query.where(U.tenant_id == tenant_id)
    with engine.connect() as conn:
        return sorted(conn.execute(query.limit(500)).scalars())


# -- CSV export --------------------------------------------------------------------------

CSV_COLUMNS = [
    "created_at", "request_id", "tenant_id", "key_id", "run_id", "endpoint", "model_requested", "model_served",
    "deployment", "tier", "route_reason", "route_score", "route_threshold", "cache", "prompt_tokens", "completion_tokens",
    "cached_tokens", "reasoning_tokens", "cost_usd", "saved_usd", "latency_ms", "ttft_ms", "stream",
    "status_code", "error_type",
]
def csv_lines(engine: Engine, filters: UsageFilter, order: SortOrder, chunk: int = 1000) -> Iterator[str]:
    """The whole filtered ledger as CSV, read and written a chunk at a time. The first piece (the
    header and the first chunk) comes only once the query ran and its first rows were read: a
    caller that takes it before the response starts answers a filter the database refuses with
    an error status, not with a download cut off after its header."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    query = sa.select(UsageRecord.__table__).where(*filters.conditions()).order_by(*order.clauses())
    with engine.connect() as conn:
        parts = conn.execution_options(yield_per=chunk).execute(query).mappings().partitions()
        first = next(parts, [])
        writer.writerow(CSV_COLUMNS)
        for part in itertools.chain([first], parts):
            for row in part:
                values = {**row, "cost_usd": format_usd(row["cost_nanos"]), "saved_usd": format_usd(row["saved_nanos"])}
                writer.writerow([safe_cell(values[name]) for name in CSV_COLUMNS])
            yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


# -- agent runs --------------------------------------------------------------------------


def run_calls(engine: Engine, run_id: str, tenant_id: str | None, limit: int = 5000) -> list[Mapping[str, Any]]:
    """Every call of a run, oldest first."""
    query = sa.select(UsageRecord.__table__).where(U.run_id == run_id).order_by(U.created_at, U.id).limit(limit)
    if tenant_id:
        query = query.where(U.tenant_id == tenant_id)
    with engine.connect() as conn:
        return list(conn.execute(query).mappings())


def recent_runs(engine: Engine, tenant_id: str | None, since: datetime | None = None, limit: int = 50) -> list[Mapping[str, Any]]:
    query = (
        sa.select(
            U.tenant_id,
            U.run_id,
            sa.func.count().label("calls"),
            bigint_total(U.cost_nanos).label("cost_nanos"),
            tokens_total(U.prompt_tokens, U.completion_tokens).label("tokens"),
            sa.func.min(U.created_at).label("first_at"),
            sa.func.max(U.created_at).label("last_at"),
        )
        .where(U.run_id.is_not(None), U.run_id != "")
        .group_by(U.tenant_id, U.run_id)
        .order_by(sa.func.max(U.created_at).desc())
        .limit(limit)
    )
    if tenant_id:
        query = query.where(U.tenant_id == tenant_id)
    if since:
        query = query.where(U.created_at >= since)
    with engine.connect() as conn:
        return list(conn.execute(query).mappings())

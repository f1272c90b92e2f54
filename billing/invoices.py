"""Invoices per tenant and period, read from the daily rollups (never the raw ledger).

Line items by model and by agent run; savings shown twice: provider prompt caching (cached
prompt tokens billed at the cache-read price instead of the input price) and Tokenmill's own
response cache (calls answered without going upstream). Amounts are exact nano-dollars;
CSV and JSON print them as USD with nine decimals.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from billing.csv_export import safe_cell
from billing.models import Tenant
from billing.money import format_usd
from billing.periods import local_days, window_from_label
from billing.prices import Price
from billing.rollup_models import UsageDaily
from billing.sql_totals import bigint_total

D = UsageDaily.__table__.c
NO_RUN = "(no run)"


@dataclass
class Line:
    name: str
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_nanos: int = 0
    prompt_cache_savings_nanos: int = 0
    response_cache_savings_nanos: int = 0

    def add(self, other: Line) -> None:
        for name in ("calls", "prompt_tokens", "completion_tokens", "cached_tokens", "cost_nanos", "prompt_cache_savings_nanos", "response_cache_savings_nanos"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Invoice:
    tenant_id: str
    tenant_name: str
    period: str
    start: datetime
    end: datetime
    timezone: str
    markup: float
    by_model: list[Line] = field(default_factory=list)
    by_run: list[Line] = field(default_factory=list)
    total: Line = field(default_factory=lambda: Line("total"))
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def prompt_cache_savings(price: Price | None, cached_tokens: int, markup: float) -> int:
    if price is None or not cached_tokens:
        return 0
    read = price.input if price.cache_read is None else price.cache_read
    return max(0, round(cached_tokens * (price.input - read) * (1.0 + markup) * 1_000_000_000))


def build_invoice(engine: Engine, tenant: Tenant, period: str, prices: Mapping[str, Price | None]) -> Invoice:
    """The tenant's invoice for a period label ('2026-11', '2026-W48' or '2026-11-26')."""
    window = window_from_label(period, tenant.timezone)
    days = local_days(window, tenant.timezone)
    query = (
        sa.select(D.deployment, D.model_served, D.run_id, sa.func.sum(D.calls), bigint_total(D.prompt_tokens), bigint_total(D.completion_tokens),
                  bigint_total(D.cached_tokens), bigint_total(D.cost_nanos), bigint_total(D.saved_nanos))
        .where(D.tenant_id == tenant.id, D.day >= days[0], D.day <= days[-1])
        .group_by(D.deployment, D.model_served, D.run_id)
    )
    invoice = Invoice(tenant.id, tenant.name, period, window.start, window.end, tenant.timezone, tenant.markup)
    by_model: dict[str, Line] = {}
    by_run: dict[str, Line] = {}
    with engine.connect() as conn:
        for deployment, model, run, calls, prompt, completion, cached, cost, saved in conn.execute(query):
            cached = int(cached or 0)
            part = Line(
                "", int(calls or 0), int(prompt or 0), int(completion or 0), cached, int(cost or 0),
                prompt_cache_savings(prices.get(deployment), cached, tenant.markup), int(saved or 0),
            )
            model_name = model or deployment or "(none)"
            by_model.setdefault(model_name, Line(model_name)).add(part)
            run_name = run or NO_RUN
            by_run.setdefault(run_name, Line(run_name)).add(part)
            invoice.total.add(part)
    invoice.by_model = sorted(by_model.values(), key=lambda line: -line.cost_nanos)
    invoice.by_run = sorted(by_run.values(), key=lambda line: -line.cost_nanos)
    return invoice


def _line_json(line: Line) -> dict[str, Any]:
    out = asdict(line)
    for name in ("cost", "prompt_cache_savings", "response_cache_savings"):
        out[f"{name}_usd"] = format_usd(out[f"{name}_nanos"])
    return out


def invoice_json(invoice: Invoice) -> dict[str, Any]:
    return {
        "object": "invoice",
        "tenant": {"id": invoice.tenant_id, "name": invoice.tenant_name},
        "period": invoice.period,
        "start": invoice.start.isoformat(),
        "end": invoice.end.isoformat(),
        "timezone": invoice.timezone,
        "currency": "USD",
        "markup": invoice.markup,
        "lines_by_model": [_line_json(line) for line in invoice.by_model],
        "lines_by_run": [_line_json(line) for line in invoice.by_run],
        "total": _line_json(invoice.total),
        "generated_at": invoice.generated_at.isoformat(),
    }


CSV_COLUMNS = ["section", "name", "calls", "prompt_tokens", "completion_tokens", "cached_tokens", "cost_usd", "prompt_cache_savings_usd", "response_cache_savings_usd"]


def invoice_csv(invoice: Invoice) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["# invoice", safe_cell(invoice.tenant_name), invoice.period, invoice.start.isoformat(), invoice.end.isoformat(), invoice.timezone])
    writer.writerow(CSV_COLUMNS)
    for section, lines in (("model", invoice.by_model), ("run", invoice.by_run), ("total", [invoice.total])):
        for line in lines:
            writer.writerow([
                section, safe_cell(line.name), line.calls, line.prompt_tokens, line.completion_tokens, line.cached_tokens,
                format_usd(line.cost_nanos), format_usd(line.prompt_cache_savings_nanos), format_usd(line.response_cache_savings_nanos),
            ])
    return buffer.getvalue()

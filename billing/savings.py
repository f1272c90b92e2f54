"""What a tenant's traffic cost, against what it would have cost had every chat call gone to
one strong default model (same tokens, that model's price, no caches). Reads daily rollups."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from billing.models import Tenant
from billing.money import format_usd
from billing.periods import local_days, window_from_label
from billing.prices import Price
from billing.rollup_models import UsageDaily
from billing.sql_totals import bigint_total
from billing.usage import TokenUsage

D = UsageDaily.__table__.c
GENERATIVE = ("chat", "completions")


@dataclass
class ModelSavings:
    model: str
    calls: int
    actual_nanos: int
    baseline_nanos: int


@dataclass
class SavingsReport:
    tenant_id: str
    period: str
    baseline_model: str
    actual_nanos: int = 0
    baseline_nanos: int = 0
    by_model: list[ModelSavings] = field(default_factory=list)

    @property
    def saved_nanos(self) -> int:
        return self.baseline_nanos - self.actual_nanos

    @property
    def saved_share(self) -> float:
        return self.saved_nanos / self.baseline_nanos if self.baseline_nanos else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "object": "savings_report",
            "tenant_id": self.tenant_id,
            "period": self.period,
            "baseline_model": self.baseline_model,
            "actual_usd": format_usd(self.actual_nanos),
            "baseline_usd": format_usd(self.baseline_nanos),
            "saved_usd": format_usd(self.saved_nanos),
            "saved_share": round(self.saved_share, 4),
            "by_model": [
                {"model": m.model, "calls": m.calls, "actual_usd": format_usd(m.actual_nanos), "baseline_usd": format_usd(m.baseline_nanos)}
                for m in self.by_model
            ],
        }


def savings_report(engine: Engine, tenant: Tenant, period: str, baseline_model: str, baseline: Price) -> SavingsReport:
    window = window_from_label(period, tenant.timezone)
    days = local_days(window, tenant.timezone)
    query = (
        sa.select(D.model_served, sa.func.sum(D.calls), bigint_total(D.prompt_tokens), bigint_total(D.completion_tokens),
                  bigint_total(D.reasoning_tokens), bigint_total(D.cost_nanos))
        .where(D.tenant_id == tenant.id, D.day >= days[0], D.day <= days[-1], D.endpoint.in_(GENERATIVE))
        .group_by(D.model_served)
    )
    report = SavingsReport(tenant.id, period, baseline_model)
    with engine.connect() as conn:
        for model, calls, prompt, completion, reasoning, cost in conn.execute(query):
            usage = TokenUsage(prompt_tokens=int(prompt or 0), completion_tokens=int(completion or 0), reasoning_tokens=int(reasoning or 0))
            line = ModelSavings(model or "(none)", int(calls or 0), int(cost or 0), baseline.cost_nanos(usage, tenant.markup))
            report.by_model.append(line)
            report.actual_nanos += line.actual_nanos
            report.baseline_nanos += line.baseline_nanos
    report.by_model.sort(key=lambda m: -m.baseline_nanos)
    return report

"""Budgets as the pages show them: billing's own status (live counters, else the ledger), plus
the projection and burn-down drawn from it. No budget arithmetic of its own beyond the line."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from billing.budgets.definitions import BudgetDef
from billing.budgets.ledger_sums import counter_sums, spec_for
from billing.budgets.status import CounterStatus
from billing.models import UsageRecord
from billing.periods import Window, day_bounds, local_days, window_for, zone
from web import burndown
from web.timebuckets import local_day_sums

U = UsageRecord.__table__.c
RECENT_DAYS = 30  # a budget without a period: its rate, and its chart, look at the last 30 days


@dataclass(frozen=True)
class BudgetView:
    budget: BudgetDef
    window: Window
    timezone: str
    counter: CounterStatus | None  # for an each-run budget: the run nearest its wall
    projection: burndown.Projection | None

    @property
    def unit(self) -> str:
        return "usd" if self.budget.limit_nanos is not None else "tokens"

    @property
    def spent_nanos(self) -> int:
        return self.counter.spent_nanos if self.counter else 0

    @property
    def spent_tokens(self) -> int:
        return self.counter.spent_tokens if self.counter else 0

    @property
    def reserved(self) -> int:
        if self.counter is None:
            return 0
        value = self.counter.reserved_nanos if self.unit == "usd" else self.counter.reserved_tokens
        return value or 0

    @property
    def run_id(self) -> str | None:
        return self.counter.run_id if self.counter else None

    @property
    def used(self) -> int:
        return self.spent_nanos if self.unit == "usd" else self.spent_tokens

    @property
    def limit(self) -> int:
        value = self.budget.limit_nanos if self.unit == "usd" else self.budget.limit_tokens
        return value or 0

    @property
    def soft(self) -> int | None:
        return None if self.budget.soft_fraction is None else int(self.limit * self.budget.soft_fraction)

    @property
    def share(self) -> float:
        return self.used / self.limit if self.limit else 1.0

    @property
    def level(self) -> str:
        if self.used >= self.limit:
            return "over"
        if self.soft is not None and self.used >= self.soft:
            return "warn"
        return "ok"


def _recent_window(timezone: str, now: datetime) -> Window:
    today = now.astimezone(zone(timezone)).date()
    return Window("recent", day_bounds(today - timedelta(days=RECENT_DAYS - 1), timezone)[0], None)


def view(engine: Engine, budget: BudgetDef, counters: list[CounterStatus], timezone: str, now: datetime) -> BudgetView:
    """One budget's card: its fullest counter, and where the line through this period leads."""
    window = window_for(budget.period, timezone, now)
    key = (lambda c: c.spent_nanos) if budget.limit_nanos is not None else (lambda c: c.spent_tokens)
    counter = max(counters, key=key, default=None)
    shell = BudgetView(budget, window, timezone, counter, None)
    if budget.per_run or not shell.limit:
        return shell
    if window.start is not None:
        rate = burndown.average_per_day(shell.used, window.start, now)
    else:  # period 'none': the rate of the last 30 days
        recent = _recent_window(timezone, now)
        with engine.connect() as conn:
            (sums,) = counter_sums(conn, [spec_for(budget, recent, None)], now)
        rate = burndown.average_per_day(sums.nanos if shell.unit == "usd" else sums.tokens, recent.start, now)
    projection = burndown.project(shell.used, shell.limit, rate, now, window.end)
    return BudgetView(budget, window, timezone, counter, projection)


def burndown_chart(engine: Engine, v: BudgetView, now: datetime | None = None) -> dict[str, Any]:
    """Cumulative use per local day of the period (for period 'none': the last and next 30 days)."""
    now = now or datetime.now(UTC)
    today = now.astimezone(zone(v.timezone)).date()
    if v.window.start is not None and v.window.end is not None:
        days, shown = local_days(v.window, v.timezone), v.window
    else:
        shown = _recent_window(v.timezone, now)
        first = today - timedelta(days=RECENT_DAYS - 1)
        days = [first + timedelta(days=i) for i in range(2 * RECENT_DAYS)]
    spec = spec_for(v.budget, shown, v.run_id)
    value = U.cost_nanos if v.unit == "usd" else U.prompt_tokens + U.completion_tokens
    daily: dict[date, float] = {day: float(n) for (day, _), n in local_day_sums(engine, value, spec.where(), v.timezone).items()}
    # Use before the first day drawn (period 'none' only) starts the line where it stands.
    before = 0.0 if shown is v.window else max(float(v.used) - sum(daily.values()), 0.0)
    rate = v.projection.rate_per_day if v.projection else 0.0
    return burndown.chart(days, daily, before, today, float(v.limit), rate, 1e9 if v.unit == "usd" else 1.0)

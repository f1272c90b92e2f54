"""A budget's burn-down: cumulative use per local day, a straight-line projection, the run-out date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

MAX_PROJECTION_DAYS = 36_500  # a run-out further ahead than a century is none (and past year 9999 is no date)


@dataclass(frozen=True)
class Projection:
    rate_per_day: float  # average use per day so far this period (USD nanos or tokens)
    run_out: datetime | None  # when use reaches the limit at that rate; None: not before the period ends
    exhausted: bool  # the limit is already reached


def average_per_day(amount: float, start: datetime, now: datetime) -> float:
    # At least an hour elapsed, so the first minutes of a period do not project wildly.
    elapsed_days = max((now - start).total_seconds(), 3600.0) / 86400.0
    return amount / elapsed_days


def project(used: float, limit: float, rate_per_day: float, now: datetime, end: datetime | None) -> Projection:
    """Straight line from `used` at `rate_per_day` until the limit.

    A run-out after the period's end is no run-out (the budget resets first); a period with
    no end (period 'none') may run out any time in the next century.
    """
    if used >= limit:
        return Projection(rate_per_day=rate_per_day, run_out=None, exhausted=True)
    if rate_per_day <= 0:
        return Projection(rate_per_day=0.0, run_out=None, exhausted=False)
    days_left = (limit - used) / rate_per_day
    if (end is not None and days_left >= (end - now).total_seconds() / 86400.0) or days_left > MAX_PROJECTION_DAYS:
        return Projection(rate_per_day=rate_per_day, run_out=None, exhausted=False)
    run_out = now + timedelta(days=days_left)
    return Projection(rate_per_day=rate_per_day, run_out=run_out, exhausted=False)


def chart(days: list[date], daily: dict[date, float], before: float, today: date, limit: float, rate_per_day: float, scale: float) -> dict:
    """Chart.js data: cumulative use up to today, then the projection to the period's last day.

    `before` is use earlier than the first day shown; values are divided by `scale` (1e9 for USD).
    """
    spent: list[float | None] = []
    projected: list[float | None] = []
    running = before
    for day in days:
        if day <= today:
            running += daily.get(day, 0.0)
            spent.append(round(running / scale, 9))
            projected.append(round(running / scale, 9) if day == today else None)
        else:
            ahead = (day - today).days
            spent.append(None)
            projected.append(round((running + ahead * rate_per_day) / scale, 9))
    return {"labels": [d.isoformat() for d in days], "spent": spent, "projected": projected, "limit": round(limit / scale, 9)}

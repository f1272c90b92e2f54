"""Budget and invoice periods, calendar-aligned in a tenant's time zone.

A period is named by a label ("2026-11" a month, "2026-W48" an ISO week, "2026-11-26" a day,
"all" for no period); its bounds are the local midnights, converted to UTC, so days that
gain or lose an hour to daylight saving time are handled by zoneinfo rather than by arithmetic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PERIODS = ("none", "daily", "weekly", "monthly")


class PeriodError(ValueError):
    """An unknown period kind, time zone or label."""


@dataclass(frozen=True)
class Window:
    """One period: [start, end) in UTC; both None for the period that never ends."""

    label: str
    start: datetime | None
    end: datetime | None

    def contains(self, moment: datetime) -> bool:
        return (self.start is None or moment >= self.start) and (self.end is None or moment < self.end)


ALL_TIME = Window("all", None, None)


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PeriodError(f"unknown time zone {name!r}") from exc


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def window_for(period: str, timezone: str, moment: datetime) -> Window:
    """The period of kind `period` that contains `moment` (an aware datetime), in `timezone`."""
    if period == "none":
        return ALL_TIME
    tz = zone(timezone)
    local = moment.astimezone(tz).date()
    if period == "daily":
        start, end = local, local + timedelta(days=1)
        label = local.isoformat()
    elif period == "weekly":
        start = local - timedelta(days=local.weekday())
        end = start + timedelta(days=7)
        year, week, _ = start.isocalendar()
        label = f"{year}-W{week:02d}"
    elif period == "monthly":
        start, end = _month_start(local), _next_month(local)
        label = f"{start.year}-{start.month:02d}"
    else:
        raise PeriodError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    return Window(label, _local_midnight(start, tz), _local_midnight(end, tz))


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def window_from_label(label: str, timezone: str) -> Window:
    """Parse '2026-11', '2026-W48', '2026-11-26' or 'all' into the period's UTC bounds."""
    tz = zone(timezone)
    try:
        if label == "all":
            return ALL_TIME
        if m := _MONTH.match(label):
            start = date(int(m[1]), int(m[2]), 1)
            return Window(label, _local_midnight(start, tz), _local_midnight(_next_month(start), tz))
        if m := _WEEK.match(label):
            start = date.fromisocalendar(int(m[1]), int(m[2]), 1)
            return Window(label, _local_midnight(start, tz), _local_midnight(start + timedelta(days=7), tz))
        if m := _DAY.match(label):
            start = date(int(m[1]), int(m[2]), int(m[3]))
            return Window(label, _local_midnight(start, tz), _local_midnight(start + timedelta(days=1), tz))
    except ValueError as exc:
        raise PeriodError(f"bad period {label!r}: {exc}") from exc
    except OverflowError:  # year 1 east of Greenwich, or the end of year 9999
        raise PeriodError(f"bad period {label!r}: outside the dates this gateway can count") from None
    raise PeriodError(f"bad period {label!r}: use YYYY-MM, YYYY-Www, YYYY-MM-DD or 'all'")


def local_days(window: Window, timezone: str) -> list[date]:
    """The tenant-local calendar days a bounded window covers."""
    if window.start is None or window.end is None:
        raise PeriodError("an unbounded period has no list of days")
    tz = zone(timezone)
    first = window.start.astimezone(tz).date()
    last = (window.end - timedelta(microseconds=1)).astimezone(tz).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    tz = zone(timezone)
    return _local_midnight(day, tz), _local_midnight(day + timedelta(days=1), tz)


class WindowCache:
    """window_for() memoised per (period, zone) until the cached window ends: the hot path
    asks for the current period on every call and the answer changes once a day at most."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], Window] = {}

    def current(self, period: str, timezone: str, moment: datetime) -> Window:
        key = (period, timezone)
        hit = self._cache.get(key)
        if hit is not None and hit.contains(moment):
            return hit
        window = window_for(period, timezone, moment)
        self._cache[key] = window
        return window

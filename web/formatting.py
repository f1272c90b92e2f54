"""Jinja filters: money, token counts, shares and times as people read them."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from billing.money import NANOS_PER_USD, format_usd


def usd(nanos: int | float | None) -> str:
    """'$12.34' from a dollar up; below, every place down to the nano-dollar ('$0.005971715',
    '$0.01'), so the small lines of an invoice add up to its total as shown."""
    if nanos is None:
        return "–"
    value = nanos / NANOS_PER_USD
    sign = "-" if value < 0 else ""
    if abs(value) >= 1:
        return f"{sign}${abs(value):,.2f}"
    whole, _, places = f"{abs(value):.9f}".rstrip("0").partition(".")
    return f"{sign}${whole}.{places.ljust(2, '0')}"


def usd_plain(nanos: int) -> str:
    """Exact dollars for a form field: '2.5', '0.00001' (never rounded away)."""
    text = format_usd(nanos)
    return text.rstrip("0").rstrip(".") if "." in text else text


def count(value: int | float | None) -> str:
    return "–" if value is None else f"{int(value):,}"


def share(part: float, whole: float) -> str:
    return "–" if not whole else f"{100.0 * part / whole:.1f}%"


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(moment: datetime | None, tz: str = "UTC", with_seconds: bool = True) -> str:
    if moment is None:
        return "–"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone(tz)).strftime("%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d %H:%M")


def millis(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


FILTERS = {"usd": usd, "usd_plain": usd_plain, "count": count, "local_time": local_time, "millis": millis}

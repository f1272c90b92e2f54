"""Jinja filters: money, token counts, shares and times as people read them."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote, urlencode
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
    try:
        moment = moment.astimezone(zone(tz))
    except OverflowError:  # a date at the edge of the calendar (an expiry of 9999-12-31) shown in UTC
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d %H:%M")


def run_href(run_id: str, tenant_id: str | None = None) -> str:
    """The admin UI's link to a run, after the prefix. A run id is the client's own text: it is
    one path segment however many slashes it holds, and "." or ".." (which a browser would
    resolve away) go in the query."""
    query = {"tenant": tenant_id} if tenant_id else {}
    if run_id.strip(".") == "":
        path, query = "/runs", {"run": run_id, **query}
    else:
        path = "/runs/" + quote(run_id, safe="")
    return path + ("?" + urlencode(query) if query else "")


def millis(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


FILTERS = {"usd": usd, "usd_plain": usd_plain, "count": count, "local_time": local_time, "millis": millis, "run_href": run_href}

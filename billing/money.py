"""Money is kept as integer nano-dollars (1e-9 USD): exact sums, atomic integer counters."""

from __future__ import annotations

NANOS_PER_USD = 1_000_000_000


def usd_to_nanos(usd: float) -> int:
    return round(usd * NANOS_PER_USD)


def nanos_to_usd(nanos: int) -> float:
    return nanos / NANOS_PER_USD


def format_usd(nanos: int) -> str:
    """A header-friendly decimal string with 9 places, e.g. '0.000123450'."""
    sign = "-" if nanos < 0 else ""
    whole, frac = divmod(abs(nanos), NANOS_PER_USD)
    return f"{sign}{whole}.{frac:09d}"

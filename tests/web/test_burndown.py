"""The burn-down projection: a straight line through the period so far."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from web.burndown import average_per_day, chart, project

START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 12, 1, tzinfo=UTC)


def test_run_out_date_follows_the_average_rate() -> None:
    now = START + timedelta(days=10)
    rate = average_per_day(40, START, now)
    assert rate == 4.0
    p = project(used=40, limit=100, rate_per_day=rate, now=now, end=END)
    assert p.run_out == now + timedelta(days=15) and not p.exhausted  # 60 left at 4 a day


def test_no_run_out_when_the_period_ends_first_or_nothing_is_spent() -> None:
    now = START + timedelta(days=10)
    assert project(used=10, limit=100, rate_per_day=1.0, now=now, end=END).run_out is None  # 90 days away
    assert project(used=10, limit=100, rate_per_day=1.0, now=now, end=None).run_out == now + timedelta(days=90)
    idle = project(used=0, limit=100, rate_per_day=0.0, now=now, end=END)
    assert idle.run_out is None and not idle.exhausted


def test_exhausted_and_early_period() -> None:
    assert project(used=100, limit=100, rate_per_day=5.0, now=START + timedelta(days=3), end=END).exhausted
    # Minutes into a period the elapsed time counts as an hour, so the line does not explode.
    assert average_per_day(1, START, START + timedelta(minutes=1)) == 24.0


def test_chart_is_cumulative_then_projected() -> None:
    days = [date(2026, 11, d) for d in range(1, 6)]
    data = chart(days, {days[0]: 2e9, days[2]: 1e9}, before=0.0, today=days[2], limit=10e9, rate_per_day=1e9, scale=1e9)
    assert data["spent"] == [2.0, 2.0, 3.0, None, None]
    assert data["projected"] == [None, None, 3.0, 4.0, 5.0]
    assert data["limit"] == 10.0 and data["labels"][0] == "2026-11-01"


def test_money_is_shown_to_the_nano_dollar_below_a_cent() -> None:
    from web.formatting import usd, usd_plain

    assert [usd(n) for n in (0, 250, 6_600, 12_340_000_000, -5_000_000_000, 1_000_000_000_000)] == [
        "$0.00", "$0.00000025", "$0.0000066", "$12.34", "-$5.00", "$1,000.00"]
    assert [usd_plain(n) for n in (10_000, 2_500_000_000, 3_000_000_000)] == ["0.00001", "2.5", "3"]


def test_a_trickle_of_spend_projects_no_run_out_instead_of_overflowing() -> None:
    # $0.0000024 of $100 in a day: the line reaches the limit some 40 million days ahead.
    now = START + timedelta(days=1)
    assert project(used=2_400, limit=100e9, rate_per_day=2_400.0, now=now, end=END).run_out is None
    assert project(used=2_400, limit=100e9, rate_per_day=2_400.0, now=now, end=None).run_out is None

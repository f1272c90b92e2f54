"""Budget periods roll over at the tenant's local midnight, month ends and DST included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from billing.budgets.memory_store import MemoryStore
from billing.periods import PeriodError, local_days, window_for, window_from_label
from billing.usage import TokenUsage
from gateway.admission import Admission
from gateway.settings import BillingSettings
from tests.billing.helpers import PRICE, add_rows, body, ctx, deployment, ledger_row, make_account


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(
    ("moment", "tz", "label", "start", "end"),
    [
        # The same instant is still November in Los Angeles and already December in Tokyo.
        ("2026-12-01T05:00:00+00:00", "America/Los_Angeles", "2026-11", "2026-11-01T07:00:00+00:00", "2026-12-01T08:00:00+00:00"),
        ("2026-11-30T16:00:00+00:00", "Asia/Tokyo", "2026-12", "2026-11-30T15:00:00+00:00", "2026-12-31T15:00:00+00:00"),
        ("2026-11-30T23:59:59+00:00", "UTC", "2026-11", "2026-11-01T00:00:00+00:00", "2026-12-01T00:00:00+00:00"),
        # February of a non-leap year, and a leap year, in a zone east of UTC (Auckland is +13 in summer).
        ("2027-02-28T10:59:59+00:00", "Pacific/Auckland", "2027-02", "2027-01-31T11:00:00+00:00", "2027-02-28T11:00:00+00:00"),
        ("2027-02-28T11:00:00+00:00", "Pacific/Auckland", "2027-03", "2027-02-28T11:00:00+00:00", "2027-03-31T11:00:00+00:00"),
        ("2028-02-29T12:00:00+00:00", "UTC", "2028-02", "2028-02-01T00:00:00+00:00", "2028-03-01T00:00:00+00:00"),
    ],
)
def test_monthly_windows_follow_the_tenant_calendar(moment, tz, label, start, end):
    window = window_for("monthly", tz, at(moment))
    assert (window.label, window.start, window.end) == (label, at(start), at(end))
    assert window_from_label(label, tz) == window


def test_days_with_a_daylight_saving_change_are_23_or_25_hours():
    fall_back = window_for("daily", "Europe/Berlin", at("2026-10-25T12:00:00+00:00"))
    spring = window_for("daily", "America/New_York", at("2026-03-08T12:00:00+00:00"))
    assert fall_back.end - fall_back.start == timedelta(hours=25)
    assert spring.end - spring.start == timedelta(hours=23)
    assert spring.label == "2026-03-08" and spring.start == at("2026-03-08T05:00:00+00:00")


def test_weeks_are_iso_weeks_starting_monday_across_the_year_end():
    window = window_for("weekly", "UTC", at("2027-01-01T12:00:00+00:00"))  # a Friday in ISO week 2026-W53
    assert window.label == "2026-W53" and window.start == at("2026-12-28T00:00:00+00:00") and window.end == at("2027-01-04T00:00:00+00:00")
    assert window_from_label("2026-W53", "UTC") == window
    assert len(local_days(window, "UTC")) == 7


def test_bad_periods_and_zones_are_clear_errors():
    for label in ("2026-13", "2026-W60", "yesterday"):
        with pytest.raises(PeriodError):
            window_from_label(label, "UTC")
    with pytest.raises(PeriodError, match="time zone"):
        window_for("monthly", "Mars/Olympus", datetime.now(UTC))
    with pytest.raises(PeriodError, match="period must be one of"):
        window_for("hourly", "UTC", datetime.now(UTC))
    assert window_for("none", "UTC", datetime.now(UTC)).label == "all"


@pytest.mark.anyio
async def test_a_budget_resets_at_local_midnight_of_the_first(tmp_path):
    """Frozen clock: spend up to the wall on 30 November in Auckland; at local midnight the
    December counter starts from the ledger's December rows (none), not from November's."""
    account = make_account(f"sqlite:///{tmp_path}/p.db", timezone="Pacific/Auckland")
    budget = account.budget(limit_usd=0.003, period="monthly")
    metered = deployment()
    prices = {metered.id: PRICE}
    last_minute = datetime.fromisoformat("2026-11-30T23:59:00+13:00")
    with time_machine.travel(last_minute, tick=True):
        admission = Admission(MemoryStore(), account.engine, BillingSettings(reap_interval_seconds=0), [metered])
        await admission.start()
        first = await admission.admit(ctx(account.principal), [metered], prices, body(max_tokens=20))
        assert first.charges[0].counter_id == f"{budget}:2026-11"
        admission.settle(first, 2_900_000, TokenUsage(10, 10))
        add_rows(account.engine, ledger_row(first.request_id, account.tenant_id, 2_900_000, when=datetime.now(UTC)))
        with pytest.raises(Exception, match="insufficient|Budget exceeded"):
            await admission.admit(ctx(account.principal), [metered], prices, body(max_tokens=20))
    with time_machine.travel(datetime.fromisoformat("2026-12-01T00:00:01+13:00"), tick=True):
        fresh = await admission.admit(ctx(account.principal), [metered], prices, body(max_tokens=20))
        counter = fresh.charges[0].counter_id
        assert counter == f"{budget}:2026-12"
        assert (await admission.store.read([counter]))[counter].spent_nanos == 0
        await admission.close()
    # 30 November 23:59 in Auckland is 10:59 UTC: the UTC calendar would still say November.
    assert window_for("monthly", "UTC", datetime.fromisoformat("2026-12-01T00:00:01+13:00")).label == "2026-11"


def test_periods_past_the_ends_of_the_calendar_are_period_errors():
    for label, tz in (("0001-01", "Asia/Tokyo"), ("9999-12", "UTC"), ("9999-W52", "UTC"), ("9999-12-31", "America/New_York")):
        with pytest.raises(PeriodError):
            window_from_label(label, tz)

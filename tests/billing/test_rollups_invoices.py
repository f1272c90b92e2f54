"""Daily rollups per tenant-local day, invoices and the savings report read from them."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa

from billing import rollups
from billing.invoices import build_invoice, invoice_csv, invoice_json
from billing.models import Tenant
from billing.prices import Price
from billing.rollup_models import UsageDaily
from billing.savings import savings_report
from billing.usage import TokenUsage
from tests.billing.helpers import add_rows, ledger_row, make_account

METERED = Price(input=1e-5, output=3e-5, cache_read=2.5e-6)
STRONG = Price(input=5e-5, output=1.5e-4)
PRICES = {"metered@openai/metered-upstream": METERED}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_rollups_follow_local_days_and_catch_late_rows(db_url):
    account = make_account(db_url, timezone="America/New_York", markup=0.2)
    t = account.tenant_id
    add_rows(
        account.engine,
        ledger_row("a", t, 1_000, when=at("2026-11-03T03:00:00+00:00")),  # 2 Nov, 22:00 in New York
        ledger_row("b", t, 2_000, when=at("2026-11-03T15:00:00+00:00"), run_id="run-1"),
        ledger_row("c", t, 4_000, when=at("2026-11-03T16:00:00+00:00"), run_id="run-1", status_code=502),
    )
    report = rollups.rollup(account.engine)
    assert report.rows_read == 3 and report.days == 2
    assert rollups.rollup(account.engine).rows_read == 0  # nothing new

    def day_totals() -> dict[date, tuple[int, int, int]]:
        d = UsageDaily.__table__.c
        with account.engine.connect() as conn:
            query = sa.select(d.day, sa.func.sum(d.calls), sa.func.sum(d.errors), sa.func.sum(d.cost_nanos)).where(d.tenant_id == t).group_by(d.day)
            return {row[0]: tuple(int(v) for v in row[1:]) for row in conn.execute(query)}

    assert day_totals() == {date(2026, 11, 2): (1, 0, 1_000), date(2026, 11, 3): (2, 1, 6_000)}
    # A row replayed late from a spool carries its old time: the job recomputes that day.
    add_rows(account.engine, ledger_row("late", t, 8_000, when=at("2026-11-02T18:00:00+00:00")))
    rollups.rollup(account.engine)
    assert day_totals()[date(2026, 11, 2)] == (2, 0, 9_000)
    assert rollups.check_rollups(account.engine, days=400).differences == []


def test_invoice_lines_cached_savings_and_the_savings_report(db_url):
    account = make_account(db_url, timezone="Europe/Paris", markup=0.1)
    t = account.tenant_id
    usage1, usage2 = TokenUsage(1000, 200, cached_tokens=600), TokenUsage(300, 100)
    cost1, cost2 = METERED.cost_nanos(usage1, 0.1), METERED.cost_nanos(usage2, 0.1)
    add_rows(
        account.engine,
        ledger_row("a", t, cost1, tokens=(1000, 200), cached_tokens=600, run_id="run-1", when=at("2026-11-10T10:00:00+00:00")),
        ledger_row("b", t, cost2, tokens=(300, 100), run_id="run-2", when=at("2026-11-30T23:30:00+00:00")),  # 00:30 on 1 Dec in Paris
        ledger_row("c", t, 0, tokens=(300, 100), saved_nanos=5_000, cache="hit-exact", when=at("2026-11-11T10:00:00+00:00")),
    )
    rollups.rollup(account.engine)
    with account.engine.connect() as conn:
        tenant = conn.execute(sa.select(Tenant.__table__).where(Tenant.__table__.c.id == t)).one()
    tenant = Tenant(**tenant._mapping)
    invoice = build_invoice(account.engine, tenant, "2026-11", PRICES)
    assert invoice.total.calls == 2 and invoice.total.cost_nanos == cost1  # 'b' is a December call in Paris
    assert invoice.total.prompt_cache_savings_nanos == round(600 * (1e-5 - 2.5e-6) * 1.1 * 1e9)
    assert invoice.total.response_cache_savings_nanos == 5_000
    assert [line.name for line in invoice.by_run] == ["run-1", "(no run)"]
    assert invoice_json(invoice)["total"]["cost_usd"] == f"0.{cost1:09d}"
    assert invoice_csv(invoice).splitlines()[-1].startswith("total,total,2,1300,300,600,")
    december = build_invoice(account.engine, tenant, "2026-12", PRICES)
    assert december.total.cost_nanos == cost2

    report = savings_report(account.engine, tenant, "2026-11", "strong", STRONG)
    expected_baseline = STRONG.cost_nanos(TokenUsage(1300, 300), 0.1)
    assert (report.actual_nanos, report.baseline_nanos) == (cost1, expected_baseline)
    assert report.saved_nanos == expected_baseline - cost1 and 0 < report.saved_share < 1

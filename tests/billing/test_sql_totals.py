"""Ledger totals past 64 bits: each row fits a BIGINT, their sum may not; every report over them
still answers, exactly below the cap and at the cap beyond it."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from billing import rollups
from billing.budgets.ledger_sums import CounterSpec, sums_now
from billing.invoices import build_invoice
from billing.models import Tenant, UsageRecord
from billing.periods import ALL_TIME
from billing.rollup_models import UsageDaily
from billing.sql_totals import BIGINT_MAX, bigint_total
from tests.billing.helpers import add_rows, ledger_row, make_account
from web.usage_query import recent_runs

WHEN = datetime(2026, 11, 3, 12, tzinfo=UTC)


def test_totals_stop_at_the_largest_bigint_instead_of_failing(db_url):
    account = make_account(db_url)
    t = account.tenant_id
    huge = 2**62
    add_rows(account.engine, *(ledger_row(f"huge-{i}", t, huge, tokens=(huge, huge), when=WHEN, run_id="r") for i in range(3)))
    spec = CounterSpec("c", t, None, None, None, ALL_TIME)
    [counter] = sums_now(account.engine, [spec])
    assert (counter.nanos, counter.tokens) == (BIGINT_MAX, BIGINT_MAX)
    assert rollups.rollup(account.engine).rows_read == 3
    d = UsageDaily.__table__.c
    with account.engine.connect() as conn:
        assert conn.execute(sa.select(d.cost_nanos, d.prompt_tokens).where(d.tenant_id == t)).one() == (BIGINT_MAX, BIGINT_MAX)
    assert rollups.check_rollups(account.engine, days=400).differences == []
    with account.engine.connect() as conn:
        tenant = conn.execute(sa.select(Tenant.__table__).where(Tenant.__table__.c.id == t)).one()
    invoice = build_invoice(account.engine, Tenant(**tenant._mapping), "2026-11", {})
    assert invoice.total.cost_nanos == BIGINT_MAX
    [run] = recent_runs(account.engine, t)
    assert (run["cost_nanos"], run["tokens"]) == (BIGINT_MAX, BIGINT_MAX)


def test_totals_below_the_cap_are_exact_integers(db_url):
    account = make_account(db_url)
    t = account.tenant_id
    add_rows(account.engine, ledger_row("big", t, 2**60 + 1, when=WHEN), ledger_row("small", t, 3, when=WHEN))
    with account.engine.connect() as conn:
        total = conn.execute(sa.select(bigint_total(UsageRecord.cost_nanos)).where(UsageRecord.tenant_id == t)).scalar_one()
        nothing = conn.execute(sa.select(bigint_total(UsageRecord.cost_nanos)).where(UsageRecord.tenant_id == "nobody")).scalar_one()
    assert (total, nothing) == (2**60 + 4, 0)  # a float sum would give 2**60
    assert isinstance(total, int)

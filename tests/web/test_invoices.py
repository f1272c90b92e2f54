"""Invoices through the admin pages, on billing's invoice builder, against hand-summed ledger rows."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta

from billing import accounts
from billing.db import db_session
from billing.ledger import insert_usage
from tests.support.gateway import GatewayUnderTest
from tests.web.support import AdminClient, ledger_row
from web.formatting import usd


def test_invoice_page_and_csv(admin_gateway: GatewayUnderTest, admin: AdminClient) -> None:
    gw = admin_gateway
    with db_session(gw.db) as session:
        tenant = accounts.create_tenant(session, f"billed-{uuid.uuid4().hex[:6]}", timezone="America/New_York")
        other = accounts.create_tenant(session, f"other-{uuid.uuid4().hex[:6]}")
        tenant_admin = accounts.create_key(session, tenant, role="tenant_admin").secret
    june = datetime(2025, 6, 10, 15, tzinfo=UTC)
    rows = [
        ledger_row(tenant.id, run_id="agent-1", cost_nanos=1_000_000, created_at=june),
        ledger_row(tenant.id, run_id="agent-1", cost_nanos=2_000_000, model_served="gpt-4o", deployment="gpt-4o@openai/gpt-4o", created_at=june + timedelta(hours=1)),
        ledger_row(tenant.id, run_id=None, cost_nanos=0, cache="hit-exact", saved_nanos=700_000, created_at=june + timedelta(days=1)),
        # 1 July 02:00 UTC is still 30 June in New York: it belongs to June's invoice.
        ledger_row(tenant.id, run_id="agent-2", cost_nanos=4_000_000, created_at=datetime(2025, 7, 1, 2, tzinfo=UTC)),
        ledger_row(tenant.id, cost_nanos=8_000_000, created_at=datetime(2025, 7, 1, 5, tzinfo=UTC)),  # July in New York
        ledger_row(other.id, cost_nanos=16_000_000, created_at=june),
    ]
    insert_usage(gw.db, rows)

    page = admin.get(f"/admin/invoices?tenant={tenant.id}&period=2025-06")
    assert page.status_code == 200
    assert re.search(r'data-testid="invoice-total">([^<]+)<', page.text).group(1) == usd(7_000_000)
    assert "agent-1" in page.text and "agent-2" in page.text and "(no run)" in page.text
    assert usd(700_000) in page.text  # response-cache savings
    download = admin.get(f"/admin/invoices.csv?tenant={tenant.id}&period=2025-06")
    assert download.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(download.text)))
    by_key = {(r[0], r[1]): r for r in lines[2:]}
    assert by_key[("total", "total")][6] == "0.007000000"
    assert by_key[("model", "gpt-4o")][6] == "0.002000000"
    assert by_key[("run", "agent-1")][2] == "2"

    summary = admin.get("/admin/invoices?period=2025-06")
    assert tenant.name in summary.text and other.name in summary.text and usd(16_000_000) in summary.text
    assert admin.get(f"/admin/invoices?tenant={tenant.id}&period=June").status_code == 400
    assert admin.get(f"/admin/invoices.csv?tenant={tenant.id}&period=2025-13").status_code == 400
    # dates at the ends of the calendar are refused like any bad period, never a server error
    for period in ("9999-12", "9999-W52", "9999-12-31"):
        assert admin.get(f"/admin/invoices?period={period}").status_code == 400, period
        assert admin.get(f"/admin/invoices.csv?tenant={tenant.id}&period={period}").status_code == 400, period
    for since, until in (("", "9999-12-31"), ("", "9999-12-31T23:59")):
        assert admin.get(f"/admin/usage?tenant={tenant.id}&since={since}&until={until}").status_code == 400, (since, until)

    client = AdminClient(gw.url)
    client.sign_in(tenant_admin)
    own = client.get("/admin/invoices?period=2025-06")
    assert re.search(r'data-testid="invoice-total">([^<]+)<', own.text).group(1) == usd(7_000_000)
    assert other.name not in own.text
    assert client.get(f"/admin/invoices?tenant={other.id}&period=2025-06").status_code == 403
    assert client.get(f"/admin/invoices.csv?tenant={other.id}&period=2025-06").status_code == 403
    assert client.get("/admin/invoices.csv?period=2025-06").text == download.text  # its own tenant by default
    client.close()

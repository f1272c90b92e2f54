"""Budgets through the admin pages, on billing's own functions, and their effect on real calls."""

from __future__ import annotations

import re
import uuid

import openai
import pytest

from billing import accounts
from billing.budget_models import Budget
from billing.budgets.definitions import list_budgets
from billing.db import db_session
from billing.ledger import insert_usage
from tests.support.gateway import GatewayUnderTest
from tests.web.support import AdminClient, ledger_row


def _tenant(gw: GatewayUnderTest, prefix: str) -> accounts.Tenant:
    with db_session(gw.db) as session:
        return accounts.create_tenant(session, f"{prefix}-{uuid.uuid4().hex[:6]}")


def _budgets(gw: GatewayUnderTest, tenant_id: str) -> list[Budget]:
    with db_session(gw.db) as session:
        return list_budgets(session, tenant_id)


def _card(html: str, budget_id: str) -> str:
    match = re.search(rf'<article class="card budget budget-(\w+)" data-budget="{budget_id}">(.*?)</article>', html, re.S)
    assert match, f"budget {budget_id} is not on the page"
    return match.group(1) + " " + match.group(2)


def test_create_edit_and_delete_through_the_form(admin_gateway: GatewayUnderTest, admin: AdminClient) -> None:
    gw = admin_gateway
    tenant = _tenant(gw, "budgeted")
    form = {"tenant_id": tenant.id, "limit_usd": "2.50", "period": "monthly", "soft_percent": "75", "on_exceed": "refuse"}
    saved = admin.post("/admin/budgets", form)
    assert saved.status_code == 303 and "Budget saved." in admin.get(saved.headers["location"]).text
    (budget,) = _budgets(gw, tenant.id)
    assert (budget.limit_nanos, budget.soft_fraction, budget.period, budget.key_id, budget.run_id) == (2_500_000_000, 0.75, "monthly", None, None)

    insert_usage(gw.db, [ledger_row(tenant.id, cost_nanos=500_000_000), ledger_row(tenant.id, cost_nanos=1_500_000_000)])
    card = _card(admin.get(f"/admin/budgets?tenant={tenant.id}").text, budget.id)
    assert card.startswith("warn ") and "$2.00 of $2.50" in card and "80%" in card and "alert at 75%" in card
    assert '<meter min="0" max="2500000000" low="1875000000" high="2500000000" optimum="0" value="2000000000"' in card

    # Editing the same scope replaces its limits (billing.set_budget), same budget id.
    assert admin.post("/admin/budgets", {**form, "limit_usd": "1.00", "limit_tokens": "5000", "on_exceed": "clamp"}).status_code == 303
    (edited,) = _budgets(gw, tenant.id)
    assert edited.id == budget.id and (edited.limit_nanos, edited.limit_tokens, edited.on_exceed) == (1_000_000_000, 5000, "clamp")
    card = _card(admin.get(f"/admin/budgets?tenant={tenant.id}").text, budget.id)
    assert card.startswith("over ") and "limit reached" in card and "also 240 of 5,000 tokens" in card

    detail = admin.get(f"/admin/budgets/{budget.id}")
    assert detail.status_code == 200 and 'data-chart="burndown"' in detail.text
    chart = re.search(r'id="burndown-data">(.*?)</script>', detail.text, re.S).group(1)
    assert '"limit": 1.0' in chart and "2.0" in chart

    deleted = admin.post(f"/admin/budgets/{budget.id}/delete")
    assert deleted.status_code == 303 and _budgets(gw, tenant.id) == []
    assert admin.get(f"/admin/budgets/{budget.id}").status_code == 404


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "Give a limit in USD, in tokens, or both."),
        ({"limit_usd": "-1"}, "Limits must not be negative."),
        ({"limit_usd": "lots"}, "The USD limit must be a number"),
        ({"limit_usd": "inf"}, "The USD limit must be a finite number"),
        ({"limit_usd": "nan"}, "The USD limit must be a finite number"),
        ({"limit_usd": "1e30"}, "Limits are at most $1,000,000,000"),
        ({"limit_tokens": "1" + "0" * 20}, "Limits are at most"),
        ({"limit_usd": "1", "period": "yearly"}, "Period must be one of"),
        ({"limit_usd": "1", "soft_percent": "150"}, "The soft threshold is a share of the limit"),
        ({"limit_usd": "1", "model": "gpt-imaginary"}, "Unknown model"),
        ({"limit_usd": "1", "alert_webhook": "ftp://x"}, "The alert webhook must be an http(s) URL with a host."),
        ({"limit_usd": "1", "key_id": "key_nope"}, "No key"),
    ],
)
def test_bad_budgets_are_explained(admin_gateway: GatewayUnderTest, admin: AdminClient, fields: dict, message: str) -> None:
    tenant = _tenant(admin_gateway, "badbudget")
    response = admin.post("/admin/budgets", {"tenant_id": tenant.id, "period": "monthly", **fields})
    assert response.status_code == 400
    assert message in response.text.replace("&#39;", "'")
    assert _budgets(admin_gateway, tenant.id) == []


def test_tenant_admins_manage_only_their_budgets(admin_gateway: GatewayUnderTest, admin: AdminClient) -> None:
    gw = admin_gateway
    mine, theirs = _tenant(gw, "mine"), _tenant(gw, "theirs")
    for tenant in (mine, theirs):
        assert admin.post("/admin/budgets", {"tenant_id": tenant.id, "limit_usd": "5", "period": "daily"}).status_code == 303
    (their_budget,) = _budgets(gw, theirs.id)
    with db_session(gw.db) as session:
        created = accounts.create_key(session, mine, role="tenant_admin")
    client = AdminClient(gw.url)
    client.sign_in(created.secret)
    page = client.get("/admin/budgets")
    assert their_budget.id not in page.text and len(re.findall(r'data-budget="', page.text)) == 1
    assert client.get(f"/admin/budgets/{their_budget.id}").status_code == 404
    assert client.post(f"/admin/budgets/{their_budget.id}/delete").status_code == 404
    assert client.post("/admin/budgets", {"tenant_id": theirs.id, "limit_usd": "999"}).status_code == 403
    assert _budgets(gw, theirs.id)[0].limit_nanos == 5_000_000_000
    assert client.post("/admin/budgets", {"tenant_id": mine.id, "run_id": "*", "limit_usd": "0.5"}).status_code == 303
    assert {b.run_id for b in _budgets(gw, mine.id)} == {None, "*"}
    # The tenant-wide one the operator set stays: it shows as such, and cannot be raised or removed.
    operator_set = next(b for b in _budgets(gw, mine.id) if b.run_id is None)
    assert "set by the operator" in client.get("/admin/budgets").text
    assert client.post(f"/admin/budgets/{operator_set.id}/delete").status_code == 403
    raised = client.post("/admin/budgets", {"tenant_id": mine.id, "limit_usd": "500", "period": "daily"})
    assert raised.status_code == 403 and "set by the operator" in raised.text
    assert next(b for b in _budgets(gw, mine.id) if b.run_id is None).limit_nanos == 5_000_000_000
    client.close()


def test_a_budget_set_in_the_ui_refuses_calls_at_once(admin_gateway: GatewayUnderTest, admin: AdminClient) -> None:
    gw = admin_gateway
    tenant = _tenant(gw, "walled")
    with db_session(gw.db) as session:
        secret = accounts.create_key(session, tenant).secret
    client = gw.openai(secret)
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "before the wall"}], max_tokens=50)
    assert admin.post("/admin/budgets", {"tenant_id": tenant.id, "limit_usd": "0.000001", "period": "monthly"}).status_code == 303
    with pytest.raises(openai.RateLimitError, match="Budget exceeded"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "after the wall"}], max_tokens=50)
    (budget,) = _budgets(gw, tenant.id)
    assert _card(admin.get(f"/admin/budgets?tenant={tenant.id}").text, budget.id).startswith("over ")

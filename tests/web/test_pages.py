"""The admin pages over plain HTTP: figures, tenant-admin scoping, the explorer and its CSV, keys."""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from billing import accounts
from billing.db import db_session
from billing.ledger import insert_usage
from billing.usage import TokenUsage
from tests.support.gateway import GatewayUnderTest
from tests.web.support import AdminClient, ledger_row
from web.formatting import usd


@dataclass
class Seeded:
    a_id: str
    b_id: str
    a_admin: str  # tenant-admin secret of A
    a_user_key: str  # key id
    b_user_key: str
    a_rows: list[dict]
    b_rows: list[dict]


@pytest.fixture(scope="module")
def seeded(admin_gateway: GatewayUnderTest) -> Seeded:
    """Two tenants with keys and ledger rows (this month, in the tenants' UTC day)."""
    tag = uuid.uuid4().hex[:6]
    with db_session(admin_gateway.db) as session:
        a = accounts.create_tenant(session, f"alpha-{tag}")
        b = accounts.create_tenant(session, f"beta-{tag}", markup=0.5)
        a_admin = accounts.create_key(session, a, role="tenant_admin", name="alpha admin")
        a_user = accounts.create_key(session, a, name="alpha agent")
        b_user = accounts.create_key(session, b, name="beta agent")
    now = datetime.now(UTC).replace(microsecond=0)
    a_rows = [ledger_row(a.id, key_id=a_user.key.id, run_id=f"run-a-{tag}", cost_nanos=1_000 * (i + 1), created_at=now - timedelta(seconds=10 - i)) for i in range(5)]
    a_rows.append(ledger_row(a.id, key_id=a_user.key.id, run_id="=HYPERLINK(\"x\")", model_requested="gpt-4o", model_served="gpt-4o", tier="strong", cache="hit-exact", cost_nanos=0, created_at=now))
    b_rows = [ledger_row(b.id, key_id=b_user.key.id, run_id=f"run-b-{tag}", cost_nanos=777_000, created_at=now - timedelta(seconds=3)) for _ in range(3)]
    insert_usage(admin_gateway.db, a_rows + b_rows)
    return Seeded(a.id, b.id, a_admin.secret, a_user.key.id, b_user.key.id, a_rows, b_rows)


def _testid(html: str, name: str) -> str:
    match = re.search(rf'data-testid="{name}">([^<]*)<', html)
    assert match, f"no {name} on the page"
    return match.group(1)


def _page_and_its_day(client: AdminClient, path: str) -> tuple[str, datetime]:
    """A page and the UTC moment it was drawn in, fetched again if it straddled midnight (the test must not depend on the hour it runs)."""
    for _ in range(2):
        before = datetime.now(UTC)
        page = client.get(path)
        assert page.status_code == 200
        if datetime.now(UTC).date() == before.date():
            return page.text, before
    raise AssertionError("two fetches straddled midnight")


def _in_day(rows: list[dict], day: datetime, *, whole_month: bool = False) -> list[dict]:
    def counts(at: datetime) -> bool:
        return (at.year, at.month) == (day.year, day.month) and (whole_month or at.day == day.day)

    return [r for r in rows if counts(r["created_at"])]


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_overview_figures(admin_gateway: GatewayUnderTest, seeded: Seeded, admin: AdminClient) -> None:
    text, drawn = _page_and_its_day(admin, f"/admin?tenant={seeded.a_id}")
    month_rows = _in_day(seeded.a_rows, drawn, whole_month=True)
    assert _testid(text, "spend-today") == usd(sum(r["cost_nanos"] for r in _in_day(seeded.a_rows, drawn)))
    spent = sum(r["cost_nanos"] for r in month_rows)
    assert _testid(text, "spend-month") == usd(spent)
    # Savings: the same tokens priced at the first strong model (gpt-4o), minus what was spent.
    services = admin_gateway.services
    strong = services.price(services.registry.group("gpt-4o")[0])
    usage = TokenUsage(prompt_tokens=sum(r["prompt_tokens"] for r in month_rows), completion_tokens=sum(r["completion_tokens"] for r in month_rows))
    assert _testid(text, "savings") == usd(strong.cost_nanos(usage) - spent)
    hits = sum(r["cache"] == "hit-exact" for r in month_rows)
    assert _testid(text, "cache-hit-rate") == f"{100 * hits / len(month_rows):.1f}%"
    chart = re.search(r'<script type="application/json" id="spend-data">(.*?)</script>', text, re.S).group(1)
    assert '"gpt-4o-mini"' in chart and "run-b" not in text


def test_tenant_admin_sees_only_its_tenant(admin_gateway: GatewayUnderTest, seeded: Seeded) -> None:
    client = AdminClient(admin_gateway.url)
    client.sign_in(seeded.a_admin)
    overview, drawn = _page_and_its_day(client, "/admin")
    assert _testid(overview, "spend-month") == usd(sum(r["cost_nanos"] for r in _in_day(seeded.a_rows, drawn, whole_month=True)))
    assert "run-b-" not in overview
    usage = client.get("/admin/usage")
    assert usage.status_code == 200 and "run-b-" not in usage.text and "run-a-" in usage.text
    assert _testid(usage.text, "usage-summary").startswith(f"{len(seeded.a_rows)} calls")
    rows = _csv(client.get("/admin/usage.csv").text)
    assert {r["tenant_id"] for r in rows} == {seeded.a_id} and len(rows) == len(seeded.a_rows)
    # Reaching for the other tenant is refused, however it is asked.
    for path in (f"/admin?tenant={seeded.b_id}", f"/admin/usage?tenant={seeded.b_id}", f"/admin/usage.csv?tenant={seeded.b_id}",
                 f"/admin/keys?tenant={seeded.b_id}", f"/admin/runs?tenant={seeded.b_id}"):
        assert client.get(path).status_code == 403, path
    assert client.get(f"/admin/runs/{seeded.b_rows[0]['run_id']}").status_code == 404
    assert client.get(f"/admin/usage?key={seeded.b_user_key}").text.count("<tr") == 2  # header + 'No calls match.'
    keys = client.get("/admin/keys").text
    assert "alpha agent" in keys and "beta agent" not in keys and "sk-tm-admin" not in keys
    tenants = client.get("/admin/tenants").text
    assert seeded.a_id in tenants and seeded.b_id not in tenants and "New tenant" not in tenants
    # Writes outside the tenant are refused too.
    assert client.post("/admin/tenants", {"name": "sneaky"}).status_code == 403
    assert client.post("/admin/keys", {"tenant_id": seeded.b_id, "role": "user"}).status_code == 403
    assert client.post(f"/admin/keys/{seeded.b_user_key}/revoke").status_code == 404
    assert client.post(f"/admin/keys/{seeded.b_user_key}/models", {"allowed_models": "gpt-4o"}).status_code == 404
    with db_session(admin_gateway.db) as session:
        assert accounts.get_tenant_by_name(session, "sneaky") is None
        assert accounts.list_keys(session, seeded.b_id)[0].revoked_at is None
    client.close()


def test_usage_explorer_filters_sorts_and_pages(admin_gateway: GatewayUnderTest, seeded: Seeded, admin: AdminClient) -> None:
    tag = uuid.uuid4().hex[:6]
    with db_session(admin_gateway.db) as session:
        tenant = accounts.create_tenant(session, f"pager-{tag}")
    start = datetime(2025, 3, 1, 12, tzinfo=UTC)
    insert_usage(admin_gateway.db, [ledger_row(tenant.id, cost_nanos=(i * 37) % 101, created_at=start + timedelta(minutes=i)) for i in range(120)])
    base = f"/admin/usage?tenant={tenant.id}"
    first = admin.get(base)
    assert "Page 1 of 3" in first.text and _testid(first.text, "usage-summary").startswith("120 calls")
    last = admin.get(base + "&page=3")
    assert "Page 3 of 3" in last.text and last.text.count('<tr>') + last.text.count('<tr class') == 21  # header + 20 rows
    assert "Page 3 of 3" in admin.get(base + "&page=99").text  # clamped, not an error
    rows = _csv(admin.get(f"/admin/usage.csv?tenant={tenant.id}&sort=cost&dir=asc").text)
    costs = [float(r["cost_usd"]) for r in rows]
    assert len(rows) == 120 and costs == sorted(costs)
    window = _csv(admin.get(f"/admin/usage.csv?tenant={tenant.id}&since=2025-03-01T12:10&until=2025-03-01T12:19").text)
    assert len(window) == 10  # 12:10 .. 12:19, both minutes included
    day = _csv(admin.get(f"/admin/usage.csv?tenant={tenant.id}&since=2025-03-01&until=2025-03-01").text)
    assert len(day) == 120  # a date 'until' takes in the whole day
    # and the form shows a date-only filter as a time its inputs can hold, so Apply keeps it
    shown = admin.get(base + "&since=2025-03-01&until=2025-03-01").text
    assert 'name="since" value="2025-03-01T00:00"' in shown and 'name="until" value="2025-03-01T23:59"' in shown
    assert len(_csv(admin.get(f"/admin/usage.csv?tenant={tenant.id}&since=2025-03-01T00:00&until=2025-03-01T23:59").text)) == 120
    bad = admin.get(base + "&since=yesterday")
    assert bad.status_code == 400 and "is not a date" in bad.text
    assert admin.get("/admin/usage.csv?since=nonsense").status_code == 400
    sorted_page = admin.get(base + "&sort=cost&dir=desc")
    assert 'aria-sort="descending"' in sorted_page.text
    assert admin.get(base + "&sort=drop+table&dir=sideways").status_code == 200  # unknown sort keys fall back


def test_csv_export_content(admin_gateway: GatewayUnderTest, seeded: Seeded, admin: AdminClient) -> None:
    response = admin.get(f"/admin/usage.csv?tenant={seeded.a_id}&model=gpt-4o-mini")
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith('attachment; filename="tokenmill-usage-')
    rows = _csv(response.text)
    expected = sorted(seeded.a_rows[:5], key=lambda r: r["created_at"], reverse=True)
    assert [r["request_id"] for r in rows] == [r["request_id"] for r in expected]
    first = rows[0]
    assert first["cost_usd"] == "0.000005000" and first["prompt_tokens"] == "100" and first["model_served"] == "gpt-4o-mini"
    assert first["run_id"] == expected[0]["run_id"] and first["tenant_id"] == seeded.a_id
    # A client-chosen run id that looks like a formula is defused for spreadsheets.
    formula = _csv(admin.get(f"/admin/usage.csv?tenant={seeded.a_id}&model=gpt-4o").text)
    assert [r["run_id"] for r in formula] == ["'=HYPERLINK(\"x\")"]
    runs = _csv(admin.get(f"/admin/usage.csv?run=run-a-{seeded.a_rows[0]['run_id'][6:]}").text)
    assert len(runs) == 5


def test_run_view_lists_calls_in_order(admin_gateway: GatewayUnderTest, seeded: Seeded, admin: AdminClient) -> None:
    run_id = seeded.a_rows[0]["run_id"]
    page = admin.get(f"/admin/runs/{run_id}?tenant={seeded.a_id}")
    assert page.status_code == 200
    assert _testid(page.text, "run-cost") == usd(sum(r["cost_nanos"] for r in seeded.a_rows[:5]))
    body = page.text.split('<table class="calls">')[1]
    costs = re.findall(r'<td class="num">(\$[0-9.]+)</td>\s*<td class="num">\$', body)
    assert costs == [usd(r["cost_nanos"]) for r in seeded.a_rows[:5]]  # oldest first
    assert run_id in admin.get("/admin/runs").text
    assert admin.get("/admin/runs/no-such-run").status_code == 404


def test_tenants_and_keys_through_the_forms(admin_gateway: GatewayUnderTest, admin: AdminClient) -> None:
    gw = admin_gateway
    name = f"forms-{uuid.uuid4().hex[:6]}"
    assert admin.post("/admin/tenants", {"name": name, "timezone": "Mars/Olympus"}).status_code == 400
    assert admin.post("/admin/tenants", {"name": name, "markup_percent": "ten"}).status_code == 400
    created = admin.post("/admin/tenants", {"name": name, "timezone": "Asia/Tokyo", "markup_percent": "10"})
    assert created.status_code == 303
    assert f"Tenant {name} created." in admin.get(created.headers["location"]).text
    assert "already exists" in admin.post("/admin/tenants", {"name": name}).text
    with db_session(gw.db) as session:
        tenant = accounts.get_tenant_by_name(session, name)
    assert tenant.timezone == "Asia/Tokyo" and tenant.markup == pytest.approx(0.10)

    assert admin.post("/admin/keys", {"tenant_id": tenant.id, "role": "admin"}).status_code == 400
    assert admin.post("/admin/keys", {"tenant_id": tenant.id, "allowed_models": "gpt-5-imaginary"}).status_code == 400
    assert admin.post("/admin/keys", {"tenant_id": tenant.id, "expires": "2001-01-01"}).status_code == 400
    shown = admin.post("/admin/keys", {"tenant_id": tenant.id, "name": "form key", "role": "user", "allowed_models": "gpt-4o-mini"})
    assert shown.status_code == 201 and shown.headers["cache-control"] == "no-store"
    secret = re.search(r'value="(sk-tm-[^"]+)"', shown.text).group(1)
    assert secret not in admin.get("/admin/keys").text  # shown once, never again

    client = gw.openai(secret)
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content
    with pytest.raises(Exception, match="not allowed"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])

    with db_session(gw.db) as session:
        key = accounts.find_key_by_secret(session, secret)
    widened = admin.post(f"/admin/keys/{key.id}/models", {"allowed_models": ["gpt-4o-mini", "gpt-4o"]})
    assert widened.status_code == 303 and "Allowed models of" in admin.get(widened.headers["location"]).text
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])

    revoked = admin.post(f"/admin/keys/{key.id}/revoke")
    assert revoked.status_code == 303 and "revoked" in admin.get(revoked.headers["location"]).text
    with pytest.raises(Exception, match="(?i)incorrect api key"):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    own = admin.post("/admin/keys", {"tenant_id": tenant.id})
    assert own.status_code == 201
    with db_session(gw.db) as session:
        admin_key = accounts.find_key_by_secret(session, gw.admin_key)
    refused = admin.post(f"/admin/keys/{admin_key.id}/revoke")
    assert refused.status_code == 400 and "signed in with" in refused.text


def test_money_below_a_dollar_keeps_its_places_so_lines_add_up() -> None:
    assert [usd(n) for n in (0, 10_000_000, 5_971_715, -3_880_000, 999_999_999, 12_345_678_900)] == [
        "$0.00", "$0.01", "$0.005971715", "-$0.00388", "$0.999999999", "$12.35"]


def test_runs_with_dots_and_slashes_in_their_ids_link_to_their_own_pages(admin_gateway: GatewayUnderTest, admin: AdminClient) -> None:
    with db_session(admin_gateway.db) as session:
        tenant = accounts.create_tenant(session, f"dots-{uuid.uuid4().hex[:6]}")
    runs = ["..", "../keys", f"x/../../v1/{uuid.uuid4().hex[:6]}"]
    insert_usage(admin_gateway.db, [ledger_row(tenant.id, run_id=run) for run in runs])
    listing = admin.get(f"/admin/runs?tenant={tenant.id}").text
    for run in runs:
        href = re.search(rf'<a href="([^"]*)">{re.escape(run)}</a>', listing).group(1).replace("&amp;", "&")
        page = admin.get(href)
        assert page.status_code == 200 and "/admin/runs" in str(page.url) and run in page.text, (run, href)


def test_a_filter_the_database_refuses_gets_the_pages_answer_not_a_cut_off_csv(admin_gateway: GatewayUnderTest, seeded: Seeded, admin: AdminClient) -> None:
    # PostgreSQL refuses a NUL in a text parameter (a 400, as for any value it cannot take);
    # SQLite takes it and matches nothing. The export must answer as the page does, before it starts.
    for params in ("tenant=%00", "key=%00", "run=a%00b", "model=%00"):
        page = admin.get(f"/admin/usage?{params}")
        with admin.http.stream("GET", f"/admin/usage.csv?{params}") as export:
            body = export.read()  # raises if the server drops a response it had started
        assert (export.status_code, page.status_code) in ((200, 200), (400, 400)), params
        if export.status_code == 200:
            assert body.startswith(b"created_at,request_id,") and _csv(body.decode()) == []
        else:
            assert b"cannot be stored" in body and export.headers["content-type"] == "application/json"
    # A filter that matches rows still streams them all after the header.
    assert len(_csv(admin.get(f"/admin/usage.csv?tenant={seeded.b_id}").text)) == len(seeded.b_rows)

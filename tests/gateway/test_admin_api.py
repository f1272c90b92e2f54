"""The admin JSON API: tenants and keys, and what a tenant admin may and may not touch."""

from __future__ import annotations


def test_admin_creates_tenant_and_key_that_works_once_shown(gateway):
    with gateway.http(gateway.admin_key) as admin:
        tenant = admin.post("/admin/api/tenants", json={"name": "globex", "timezone": "Europe/Paris"})
        assert tenant.status_code == 201 and tenant.json()["timezone"] == "Europe/Paris"
        assert admin.post("/admin/api/tenants", json={"name": "globex"}).status_code == 400  # duplicate
        created = admin.post("/admin/api/keys", json={"tenant": "globex", "name": "ci", "allowed_models": ["gpt-4o-mini"]}).json()
        secret = created["key"]
        assert secret.startswith(created["prefix"]) and created["allowed_models"] == ["gpt-4o-mini"]
        listed = admin.get("/admin/api/keys", params={"tenant_id": tenant.json()["id"]}).json()["data"]
        assert [k["id"] for k in listed] == [created["id"]] and "key" not in listed[0]  # the secret is never shown again

    client = gateway.openai(secret)
    assert client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]).choices

    with gateway.http(gateway.admin_key) as admin:
        patched = admin.patch(f"/admin/api/keys/{created['id']}", json={"allowed_models": ["gpt-4o"]}).json()
        assert patched["allowed_models"] == ["gpt-4o"]
    assert [m.id for m in client.models.list()] == ["gpt-4o"]  # the change applies at once


def test_user_keys_cannot_use_the_admin_api(gateway):
    with gateway.http(gateway.new_key()) as user:
        response = user.get("/admin/api/tenants")
    assert response.status_code == 403 and response.json()["error"]["code"] == "admin_required"


def test_tenant_admin_sees_and_manages_only_its_tenant(gateway):
    gateway.new_key("other-co")
    boss = gateway.new_key("initech", role="tenant_admin")
    with gateway.http(boss) as http:
        tenants = http.get("/admin/api/tenants").json()["data"]
        assert [t["name"] for t in tenants] == ["initech"]
        own = http.post("/admin/api/keys", json={"name": "worker"})
        assert own.status_code == 201 and own.json()["tenant_id"] == tenants[0]["id"]
        assert http.post("/admin/api/tenants", json={"name": "takeover"}).status_code == 403
        assert http.post("/admin/api/keys", json={"tenant": "other-co", "name": "sneaky"}).status_code == 403
        others = http.get("/admin/api/keys", params={"tenant_id": "ten_someone_else"})
        assert others.status_code == 403
        assert all(k["tenant_id"] == tenants[0]["id"] for k in http.get("/admin/api/keys").json()["data"])
        assert http.post("/admin/api/keys", json={"role": "admin"}).status_code == 403


def test_usage_listing_filters_by_run(gateway):
    key = gateway.new_key("usage-co")
    client = gateway.openai(key)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "a"}], extra_headers={"x-tokenmill-run": "r-42"})
    with gateway.http(gateway.admin_key) as admin:
        gateway.wait_until(lambda: admin.get("/admin/api/usage", params={"run_id": "r-42"}).json()["data"] != [])
        rows = admin.get("/admin/api/usage", params={"run_id": "r-42"}).json()["data"]
    assert len(rows) == 1 and rows[0]["cost_usd"] > 0 and rows[0]["model_requested"] == "gpt-4o-mini"


def test_an_unknown_time_zone_is_refused_before_it_can_break_periods(gateway):
    with gateway.http(gateway.admin_key) as admin:
        refused = admin.post("/admin/api/tenants", json={"name": "mars-co", "timezone": "Mars/Olympus_Mons"})
        assert refused.status_code == 400 and "Mars/Olympus_Mons" in refused.json()["error"]["message"]
        assert "mars-co" not in [t["name"] for t in admin.get("/admin/api/tenants").json()["data"]]


def test_run_ids_with_slashes_and_invoices_for_any_tenant_name(gateway):
    key = gateway.new_key("東京")
    run = '=HYPERLINK("http://evil.example/","click")/step-1'
    gateway.openai(key).chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], extra_headers={"x-tokenmill-run": run})
    tenant_id = gateway.principal_tenant(key)
    gateway.wait_until(lambda: gateway.usage_rows(run_id=run))
    with gateway.http(gateway.admin_key) as admin:
        spend = admin.get(f"/admin/api/runs/{run}", params={"tenant_id": tenant_id})
        assert spend.status_code == 200 and spend.json()["calls"] == 1
        period = gateway.usage_rows(run_id=run)[0].created_at.strftime("%Y-%m")
        csv = admin.get("/admin/api/invoices", params={"tenant_id": tenant_id, "period": period, "format": "csv"})
    assert csv.status_code == 200 and "filename*=UTF-8''invoice-%E6%9D%B1%E4%BA%AC-" in csv.headers["content-disposition"]
    run_line = next(line for line in csv.text.splitlines() if line.startswith("run,"))
    assert run_line.startswith("run,\"'=HYPERLINK(")  # a spreadsheet shows it as text, never runs it


def test_a_tenant_admin_cannot_aim_alert_webhooks_at_the_gateways_network(gateway):
    boss = gateway.new_key("hooked-co", role="tenant_admin")
    inside = ("http://127.0.0.1:8000/admin", "http://169.254.169.254/latest/meta-data", "http://10.0.0.7/hook", "http://localhost/hook", "http://[::1]/hook")
    with gateway.http(boss) as http:
        for url in inside:
            refused = http.post("/admin/api/budgets", json={"limit_usd": 5, "alert_webhook": url})
            assert refused.status_code == 400 and "non-public address" in refused.json()["error"]["message"], url
        assert http.post("/admin/api/budgets", json={"limit_usd": 5, "alert_webhook": "gopher://example.com/"}).status_code == 400
        for malformed in ("http://[::1", "http://[1.1.1.1]/", "http://example.com:99999/"):  # 500s before
            refused = http.post("/admin/api/budgets", json={"limit_usd": 5, "alert_webhook": malformed})
            assert refused.status_code == 400 and "not a valid URL" in refused.json()["error"]["message"], malformed
        assert http.post("/admin/api/budgets", json={"limit_usd": 5, "alert_webhook": "https://93.184.215.14/hook"}).status_code == 201
    tenant_id = gateway.principal_tenant(boss)
    with gateway.http(gateway.admin_key) as admin:  # an operator may point alerts at an internal service
        assert admin.post("/admin/api/budgets", json={"tenant_id": tenant_id, "limit_usd": 5, "alert_webhook": "http://127.0.0.1:9/hook"}).status_code == 201


def test_a_tenant_admin_cannot_lift_the_walls_the_operator_set(gateway):
    boss = gateway.new_key("walled-co", role="tenant_admin")
    tenant_id = gateway.principal_tenant(boss)
    with gateway.http(gateway.admin_key) as admin:
        wall = admin.post("/admin/api/budgets", json={"tenant_id": tenant_id, "limit_usd": 5}).json()
        rule = admin.post("/admin/api/rate-limits", json={"tenant_id": tenant_id, "rpm": 60}).json()
    assert wall["set_by_operator"] and rule["set_by_operator"]
    with gateway.http(boss) as http:
        for refused in (
            http.post("/admin/api/budgets", json={"limit_usd": 1_000_000}),  # the same scope: a replacement
            http.delete(f"/admin/api/budgets/{wall['id']}"),
            http.post("/admin/api/rate-limits", json={"rpm": 1_000_000}),
            http.delete(f"/admin/api/rate-limits/{rule['id']}"),
        ):
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "set_by_operator", refused.text
        # Narrower walls of its own it manages freely.
        own = http.post("/admin/api/budgets", json={"run_id": "*", "limit_usd": 0.5})
        assert own.status_code == 201 and not own.json()["set_by_operator"]
        assert http.post("/admin/api/budgets", json={"run_id": "*", "limit_usd": 0.25}).status_code == 201
        assert http.delete(f"/admin/api/budgets/{own.json()['id']}").json()["deleted"]
        listed = {b["id"]: b for b in http.get("/admin/api/budgets").json()["data"]}
    assert listed[wall["id"]]["limit_usd"] == "5.000000000"
    with gateway.http(gateway.admin_key) as admin:  # the operator still can
        assert admin.delete(f"/admin/api/rate-limits/{rule['id']}").status_code == 200

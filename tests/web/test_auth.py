"""Sign-in, sessions and CSRF over plain HTTP against the real gateway (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from billing import accounts
from billing.db import db_session
from tests.support.gateway import GatewayUnderTest
from tests.web.support import AdminClient, csrf_of
from web.routes import page_modules


def _admin_routes() -> list[tuple[str, str]]:
    """Every (method, path) of every admin page module, path parameters filled in."""
    found = []
    for module in page_modules():
        for route in module.router.routes:
            path = route.path
            if path == "/admin/login":
                continue
            for method in sorted(route.methods or ()):
                if method != "HEAD":
                    found.append((method, re.sub(r"\{[^}]+\}", "some-id", path)))
    return found


def test_no_page_without_a_session(admin_gateway: GatewayUnderTest) -> None:
    routes = _admin_routes()
    assert {("GET", "/admin"), ("GET", "/admin/usage"), ("GET", "/admin/usage.csv"), ("POST", "/admin/keys")} <= set(routes)
    with httpx.Client(base_url=admin_gateway.url, follow_redirects=False) as http:
        for method, path in routes:
            response = http.request(method, path, data={"csrf_token": "x"} if method == "POST" else None)
            assert response.status_code == 303, (method, path, response.status_code)
            assert response.headers["location"].startswith("/admin/login?next="), (method, path)
        assert http.get("/admin/usage?run=r1").headers["location"] == "/admin/login?next=/admin/usage%3Frun%3Dr1"


def test_sign_in_sets_a_safe_cookie_and_returns_to_the_page_asked_for(admin_gateway: GatewayUnderTest) -> None:
    client = AdminClient(admin_gateway.url)
    form = client.get("/admin/login?next=/admin/keys")
    assert form.status_code == 200 and 'name="next" value="/admin/keys"' in form.text
    response = client.post("/admin/login", {"api_key": admin_gateway.admin_key, "next": "/admin/keys"})
    assert response.status_code == 303 and response.headers["location"] == "/admin/keys"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback
    page = client.get("/admin/keys")
    assert page.status_code == 200 and "API keys" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert page.headers["cache-control"] == "no-store" and page.headers["x-frame-options"] == "DENY"
    # The token changes at sign-in: one planted in the sign-in form is worthless afterwards.
    assert csrf_of(form.text) != csrf_of(page.text)
    client.close()


def test_cookie_is_secure_behind_https(admin_gateway: GatewayUnderTest) -> None:
    # uvicorn trusts X-Forwarded-Proto from loopback, as it would from a TLS-terminating proxy.
    with httpx.Client(base_url=admin_gateway.url, headers={"X-Forwarded-Proto": "https"}) as http:
        response = http.get("/admin/login")
        assert "Secure" in response.headers["set-cookie"]


def test_only_active_admin_keys_sign_in(admin_gateway: GatewayUnderTest) -> None:
    gw = admin_gateway
    user_key = gw.new_key("auth-co")
    with db_session(gw.db) as session:
        tenant = accounts.ensure_tenant(session, "auth-co")
        revoked = accounts.create_key(session, tenant, role="tenant_admin")
        accounts.revoke_key(session, revoked.key.id)
    for key, why in [(user_key, "user key"), (revoked.secret, "revoked key"), ("sk-tm-nonsense", "unknown key"), ("", "empty")]:
        client = AdminClient(gw.url)
        client.get("/admin/login")
        response = client.post("/admin/login", {"api_key": key})
        assert response.status_code in (400, 401), why
        assert "tm_admin" not in response.headers.get("set-cookie", "") or client.get("/admin").status_code == 303, why
        assert client.get("/admin").status_code == 303, why
        client.close()


def test_open_redirects_are_refused(admin_gateway: GatewayUnderTest) -> None:
    # Dot segments, plain or encoded, would resolve out of the admin UI (and "//" to another host).
    for target in ("//evil.example/x", "https://evil.example/", "/elsewhere", "/admin\\..\\x", "/admin/../v1/models",
                   "/admin/%2e%2e/metrics", "/admin/..//evil.example"):
        client = AdminClient(admin_gateway.url)
        client.get("/admin/login")
        response = client.post("/admin/login", {"api_key": admin_gateway.admin_key, "next": target})
        assert response.headers["location"] == "/admin", target
        client.close()


def test_csrf_is_checked_on_every_form(admin_gateway: GatewayUnderTest, admin: AdminClient) -> None:
    gw = admin_gateway
    other = AdminClient(gw.url)
    other.sign_in(gw.admin_key)
    forged = [
        {},  # no token
        {"csrf_token": "not-the-token"},
        {"csrf_token": other.csrf},  # a valid token, of another session
    ]
    for extra in forged:
        response = admin.http.post("/admin/tenants", data={"name": "csrf-victim", **extra})
        assert response.status_code == 403, extra
        assert "Form rejected" in response.text
    with db_session(gw.db) as session:
        assert accounts.get_tenant_by_name(session, "csrf-victim") is None
    assert admin.http.post("/admin/logout", data={}).status_code == 403
    assert admin.get("/admin").status_code == 200  # still signed in
    # The sign-in form is protected too (login CSRF): a post without the form's token is refused.
    with httpx.Client(base_url=gw.url) as http:
        response = http.post("/admin/login", data={"api_key": gw.admin_key})
        assert response.status_code == 403 and "tm_admin" in response.headers["set-cookie"]
        assert http.get("/admin", follow_redirects=False).status_code == 303
    other.close()


def test_tampered_or_foreign_cookies_are_ignored(admin_gateway: GatewayUnderTest, admin: AdminClient) -> None:
    value = admin.http.cookies["tm_admin"]
    with httpx.Client(base_url=admin_gateway.url, follow_redirects=False) as http:
        http.cookies.set("tm_admin", value[:-2] + ("AA" if not value.endswith("AA") else "BB"), path="/admin")
        assert http.get("/admin").status_code == 303
    with httpx.Client(base_url=admin_gateway.url, follow_redirects=False) as http:
        http.cookies.set("tm_admin", value, path="/admin")
        assert http.get("/admin").status_code == 200  # the same cookie, any client: it is a bearer token


def test_sign_out_ends_the_session_and_revoking_the_key_ends_all(admin_gateway: GatewayUnderTest) -> None:
    gw = admin_gateway
    client = AdminClient(gw.url)
    client.sign_in(gw.admin_key)
    copied = client.http.cookies["tm_admin"]
    response = client.post("/admin/logout")
    assert response.status_code == 303 and response.headers["location"] == "/admin/login?signed_out=1"
    assert 'tm_admin=""' in response.headers["set-cookie"] or "Max-Age=0" in response.headers["set-cookie"]
    assert client.get("/admin").status_code == 303
    client.close()
    # A copy of the cookie taken before signing out is refused too, and a new sign-in still works.
    with httpx.Client(base_url=gw.url, follow_redirects=False) as http:
        http.cookies.set("tm_admin", copied, path="/admin")
        assert http.get("/admin").status_code == 303
    again = AdminClient(gw.url)
    again.sign_in(gw.admin_key)
    assert again.get("/admin").status_code == 200
    again.close()

    with db_session(gw.db) as session:
        created = accounts.create_key(session, accounts.ensure_tenant(session, "revoke-co"), role="tenant_admin")
    tenant_admin = AdminClient(gw.url)
    tenant_admin.sign_in(created.secret)
    assert tenant_admin.get("/admin").status_code == 200
    with db_session(gw.db) as session:
        accounts.revoke_key(session, created.key.id)
    assert tenant_admin.get("/admin").status_code == 303
    # The sign-in page then shows its form (it had sent a revoked key's session back to /admin, forever).
    form = tenant_admin.get("/admin/login?next=/admin")
    assert form.status_code == 200 and 'name="api_key"' in form.text
    tenant_admin.close()


@pytest.mark.parametrize("path", ["/admin/static/app.css", "/admin/static/app.js", "/admin/static/vendor/chart.umd.min.js"])
def test_static_files_are_served_from_the_package(admin_gateway: GatewayUnderTest, path: str) -> None:
    with httpx.Client(base_url=admin_gateway.url) as http:
        response = http.get(path)
    assert response.status_code == 200 and len(response.content) > 1000


def test_a_session_works_on_every_worker(admin_gateway: GatewayUnderTest, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Two gateway processes over one database (as `tokenmill serve --workers 2` runs): a
    sign-in on one is good on the other, and so is its CSRF token."""
    from tests.support.gateway import start_gateway

    second = start_gateway(admin_gateway.settings.database_url, str(tmp_path_factory.mktemp("worker2")), model_list=[m.model_dump() for m in admin_gateway.settings.model_list])
    try:
        client = AdminClient(admin_gateway.url)
        client.sign_in(admin_gateway.admin_key)
        with httpx.Client(base_url=second.url, follow_redirects=False) as http:
            http.cookies.set("tm_admin", client.http.cookies["tm_admin"], path="/admin")
            assert http.get("/admin/usage").status_code == 200
            name = f"worker2-{uuid.uuid4().hex[:6]}"
            assert http.post("/admin/tenants", data={"name": name, "csrf_token": client.csrf}).status_code == 303
        with db_session(admin_gateway.db) as session:
            assert accounts.get_tenant_by_name(session, name) is not None
        client.close()
    finally:
        second.stop()


def test_a_bad_query_or_an_unknown_page_under_admin_is_an_html_page(admin_gateway: GatewayUnderTest, admin: AdminClient) -> None:
    for path, status in (("/admin/usage?page=abc", 400), ("/admin/no-such-page", 404)):
        page = admin.get(path)
        assert page.status_code == status and page.headers["content-type"].startswith("text/html"), path
    # The JSON API keeps OpenAI's envelope.
    with httpx.Client(base_url=admin_gateway.url, headers={"Authorization": f"Bearer {admin_gateway.admin_key}"}) as http:
        missing = http.get("/admin/api/no-such-thing")
    assert missing.status_code == 404 and missing.json()["error"]["type"]

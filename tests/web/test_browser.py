"""The admin UI in a real browser (Playwright driving Debian's chromium), end to end.

Sign in, create a tenant, a key and a budget, make a real call with the openai SDK through the
gateway, see its spend on the pages and the budget refuse the next call, sign out. Screenshots of the main pages, at a laptop's and a
phone's width, go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.support.gateway import GatewayUnderTest
from web.formatting import usd

CHROMIUM = os.environ.get("TOKENMILL_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

pytestmark = pytest.mark.slow

CHARTS_DRAWN = "() => { const c = [...document.querySelectorAll('canvas[data-chart]')]; return c.length >= %d && c.every(x => x.chart); }"


def wait_for_charts(page: Any, at_least: int = 1, timeout_s: float = 15.0) -> None:
    """Poll from the test side: `page.wait_for_function` polls with `new Function` inside the page,
    which the UI's Content-Security-Policy (no 'unsafe-eval') rightly refuses."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(CHARTS_DRAWN % at_least):
        if time.monotonic() > deadline:
            raise AssertionError(f"fewer than {at_least} charts drawn after {timeout_s} s on {page.url}")
        page.wait_for_timeout(50)


def _require_browser() -> Any:
    missing = []
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
        missing.append("the Python package `playwright` (pip install playwright)")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        missing.append(f"chromium at {CHROMIUM} (apt-get install chromium)")
    if missing:
        message = "the browser test needs " + " and ".join(missing)
        if IN_CI:
            pytest.fail(message + " (CI=true, so this is a failure, not a skip)")
        pytest.skip("SKIPPED LOUDLY: " + message)
    return sync_playwright


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_playwright = _require_browser()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Tab:
    """One page of the browser, failing the test on any console error (a CSP violation, a JS error)."""

    def __init__(self, browser: Any, base_url: str, viewport: dict[str, int]):
        self.context = browser.new_context(base_url=base_url, viewport=viewport)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()


def _sign_in(tab: Tab, key: str) -> None:
    tab.page.goto("/admin")
    assert "/admin/login" in tab.page.url
    tab.page.fill("input[name=api_key]", key)
    tab.page.click("button[type=submit]")
    tab.page.wait_for_url(re.compile(r".*/admin$"))


def test_admin_journey_in_a_browser(browser: Any, sqlite_gateway: GatewayUnderTest) -> None:
    gw = sqlite_gateway
    tab = Tab(browser, gw.url, DESKTOP)
    page = tab.page

    page.goto("/admin/usage")
    assert "/admin/login" in page.url, "a page was reachable without signing in"
    tab.shot("login-desktop")
    page.fill("input[name=api_key]", "sk-tm-not-a-key")
    page.click("button[type=submit]")
    assert page.locator(".error").inner_text().startswith("That key is not")
    assert tab.errors == ["Failed to load resource: the server responded with a status of 401 (Unauthorized)"]
    tab.errors.clear()
    page.fill("input[name=api_key]", gw.admin_key)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/admin/usage$"))  # back to the page first asked for

    # A tenant, then a key for it that may use only the cheap model.
    page.click("nav >> text=Tenants")
    page.fill("input[name=name]", "Browser Co")
    page.fill("input[name=timezone]", "Europe/Paris")
    page.click("text=Create tenant")
    assert "Tenant Browser Co created." in page.locator(".notice").inner_text()
    assert page.locator("td", has_text="Browser Co").count() == 1
    tab.shot("tenants-desktop")

    page.click("nav >> text=API keys")
    page.select_option("select[name=tenant_id]", label="Browser Co")
    page.fill("section >> input[name=name]", "coding agent")
    page.check("fieldset input[value=gpt-4o-mini]")
    page.click("text=Create key")
    secret = page.locator("[data-testid=new-key]").input_value()
    assert secret.startswith("sk-tm-")
    tab.shot("key-created-desktop")

    # A real call through the gateway with the official SDK, in an agent run.
    client = gw.openai(secret)
    reply = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Summarise the plan in one line."}],
        extra_headers={"x-tokenmill-run": "browser-run-1"},
    )
    row = gw.wait_for_usage(reply.headers["x-request-id"])
    assert row.cost_nanos > 0
    with pytest.raises(Exception, match="not allowed"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])

    # A budget set in the UI: the call's spend shows on its bar, and the next call is refused.
    page.click("nav >> text=Budgets")
    page.select_option("select[name=tenant_id]", label="Browser Co")
    page.fill("section >> input[name=limit_usd]", "0.00001")
    page.fill("section >> input[name=soft_percent]", "50")
    page.click("text=Save budget")
    assert "Budget saved." in page.locator(".notice").inner_text()
    card = page.locator("article.budget")
    assert card.count() == 1
    assert card.locator("[data-testid=budget-used]").inner_text() == f"{usd(row.cost_nanos)} of $0.00001"
    assert card.get_attribute("class").endswith("budget-warn")  # past the 50% alert line
    tab.shot("budgets-desktop")
    with pytest.raises(openai.RateLimitError, match="Budget exceeded"):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "One more?"}], extra_headers={"x-tokenmill-run": "browser-run-1"})
    card.locator("h2 a").click()
    wait_for_charts(page)
    assert page.locator("[data-testid=run-out]").inner_text() != ""
    tab.shot("budget-burndown-desktop")

    # Its spend appears on the overview (scoped to the tenant), the explorer and the run view.
    page.click("nav >> text=Overview")
    page.select_option("select[name=tenant]", label="Browser Co")
    page.wait_for_url(re.compile(r".*tenant=ten_.*"))
    assert page.locator("[data-testid=spend-month]").inner_text() == usd(row.cost_nanos)
    wait_for_charts(page, at_least=2)
    tab.shot("overview-desktop")

    page.click("nav >> text=Usage")
    page.select_option("select[name=tenant]", label="Browser Co")
    page.click("text=Apply")
    summary = page.locator("[data-testid=usage-summary]").inner_text()
    assert summary.startswith("3 calls"), summary  # the refused calls are in the ledger too
    assert usd(row.cost_nanos) in summary
    tab.shot("usage-desktop")
    with page.expect_download() as download:
        page.click("[data-testid=csv-export]")
    csv_text = Path(download.value.path()).read_text()
    assert row.request_id in csv_text

    page.click("text=browser-run-1 >> nth=0")
    page.wait_for_url(re.compile(r".*/admin/runs/browser-run-1.*"))
    assert page.locator("[data-testid=run-cost]").inner_text() == usd(row.cost_nanos)
    assert page.locator("table.calls tbody tr").count() == 2  # the call, then the budget refusal
    assert page.locator("table.calls tbody tr.failed td").last.inner_text() == "429"
    tab.shot("run-desktop")
    page.click("nav >> text=Invoices")
    page.select_option("select[name=tenant]", label="Browser Co")
    page.click("text=Show")
    assert page.locator("[data-testid=invoice-total]").inner_text() == usd(row.cost_nanos)
    tab.shot("invoice-desktop")
    page.click("nav >> text=API keys")
    tab.shot("keys-desktop")
    assert not tab.errors, tab.errors

    # The same pages at a phone's width.
    phone = Tab(browser, gw.url, PHONE)
    _sign_in(phone, gw.admin_key)
    pages = [("overview", "/admin"), ("usage", "/admin/usage"), ("keys", "/admin/keys"), ("run", "/admin/runs/browser-run-1"), ("budgets", "/admin/budgets"), ("invoice", "/admin/invoices")]
    for name, path in pages:
        phone.page.goto(path)
        if name == "overview":
            wait_for_charts(phone.page)
        phone.shot(f"{name}-phone")
        width = phone.page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{path} is {width}px wide on a {PHONE['width']}px phone (wide tables must scroll inside their box)"
    assert not phone.errors, phone.errors
    phone.close()

    # Sign out: the pages are out of reach again.
    page.click("text=Sign out")
    page.wait_for_url(re.compile(r".*/admin/login\?signed_out=1$"))
    assert "signed out" in page.locator(".notice").inner_text()
    page.goto("/admin/usage")
    assert "/admin/login" in page.url
    assert page.locator("table.usage").count() == 0
    tab.close()


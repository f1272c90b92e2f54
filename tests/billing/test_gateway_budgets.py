"""Budgets and rate limits through the real gateway (uvicorn, in-process counter store, SQLite
ledger, embedded Celery) with the official openai SDK against the fake upstream."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime

import httpx
import openai
import pytest
import sqlalchemy as sa

from billing.budgets.definitions import BudgetError
from billing.budgets.definitions import set_budget as set_budget_row
from billing.db import db_session
from billing.money import NANOS_PER_USD
from billing.ratelimit.rules import RateLimitError, set_rate_limit
from tests.billing.conftest import billing_models, upstream_cost_nanos
from tests.support.gateway import ADMIN_KEY, GatewayUnderTest, start_gateway

MESSAGES = [{"role": "user", "content": "how much is this call"}]


@pytest.fixture(scope="module")
def gateway(fake_openai, tmp_path_factory) -> GatewayUnderTest:
    tmp = tmp_path_factory.mktemp("billing-gw")
    # The embedded Celery worker and beat run the billing jobs every second here.
    jobs = {"rollup_interval_seconds": 1, "alert_interval_seconds": 1, "reap_schedule_seconds": 1}
    gw = start_gateway(f"sqlite:///{tmp}/gw.db", str(tmp), model_list=billing_models(fake_openai), billing=jobs)
    yield gw
    gw.stop()


@pytest.fixture(autouse=True)
def _reset_fake(fake_openai) -> None:
    fake_openai.reset()


def admin(gw: GatewayUnderTest) -> httpx.Client:
    return gw.http(ADMIN_KEY)


def tenant_id(gw: GatewayUnderTest, name: str) -> str:
    with admin(gw) as http:
        return next(t["id"] for t in http.get("/admin/api/tenants").json()["data"] if t["name"] == name)


def set_budget(gw: GatewayUnderTest, tenant: str, **fields) -> dict:  # noqa: ANN003
    with admin(gw) as http:
        response = http.post("/admin/api/budgets", json={"tenant_id": tenant_id(gw, tenant), **fields})
    assert response.status_code == 201, response.text
    return response.json()


def budget_state(gw: GatewayUnderTest, budget_id: str) -> dict:
    with admin(gw) as http:
        return next(b for b in http.get("/admin/api/budgets").json()["data"] if b["id"] == budget_id)["current"][0]


def nanos(usd: str) -> int:
    whole, frac = usd.split(".")
    return int(whole) * NANOS_PER_USD + int(frac)


def ledger_nanos(gw: GatewayUnderTest, **filters) -> int:  # noqa: ANN003
    return sum(r.cost_nanos for r in gw.usage_rows(**filters))


def test_the_sdk_sees_quota_refusals_budget_headers_and_clamping(gateway, fake_openai):
    key = gateway.new_key("quota-co")
    tiny = set_budget(gateway, "quota-co", limit_usd=0.001)
    client = gateway.openai(key)
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model="metered", messages=MESSAGES, max_tokens=500)  # worst case ~$0.0155
    assert refused.value.code == "insufficient_quota" and tiny["id"] in refused.value.message
    assert refused.value.response.headers["x-tokenmill-budget"] == tiny["id"]
    assert fake_openai.requests == []  # refused before going upstream

    set_budget(gateway, "quota-co", limit_usd=0.001, on_exceed="clamp")
    raw = client.chat.completions.with_raw_response.create(model="metered", messages=MESSAGES, max_tokens=500)
    clamped = int(raw.headers["x-tokenmill-max-tokens-clamped"].split(";")[0])
    assert 16 <= clamped < 500 and fake_openai.requests[-1]["max_tokens"] == clamped
    assert nanos(raw.headers["x-tokenmill-budget-remaining-usd"]) >= 0
    row = gateway.wait_for_usage(raw.headers["x-request-id"])
    gateway.wait_until(lambda: budget_state(gateway, tiny["id"])["reserved_usd"] == "0.000000000")
    assert nanos(budget_state(gateway, tiny["id"])["spent_usd"]) == row.cost_nanos
    refusals = gateway.usage_rows(error_type="insufficient_quota")
    assert len(refusals) == 1 and refusals[0].status_code == 429


def test_rate_limits_answer_429_with_retry_after_and_ratelimit_headers(gateway):
    key = gateway.new_key("rate-co")
    with admin(gateway) as http:
        assert http.post("/admin/api/rate-limits", json={"tenant_id": tenant_id(gateway, "rate-co"), "rpm": 2, "tpm": 50_000}).status_code == 201
    client = gateway.openai(key)
    ok = client.chat.completions.with_raw_response.create(model="mini", messages=MESSAGES, max_tokens=20)
    assert ok.headers["x-ratelimit-limit-requests"] == "2" and ok.headers["x-ratelimit-remaining-requests"] == "1"
    assert int(ok.headers["x-ratelimit-remaining-tokens"]) < 50_000
    client.chat.completions.create(model="mini", messages=MESSAGES, max_tokens=20)
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="mini", messages=MESSAGES, max_tokens=20)
    headers = limited.value.response.headers
    assert limited.value.code == "rate_limit_exceeded"
    assert int(headers["retry-after"]) >= 1 and headers["x-ratelimit-limit-requests"] == "2"
    assert headers["x-ratelimit-remaining-requests"] == "0" and headers["x-ratelimit-reset-requests"].endswith("s")


def test_cut_streams_are_billed_for_what_was_generated_and_release_their_reservation(gateway, fake_openai):
    key = gateway.new_key("stream-co")
    budget = set_budget(gateway, "stream-co", limit_usd=5.0)
    words = " ".join(f"w{i}" for i in range(300))
    fake_openai.script("metered-upstream", reply=words, chunk_delay=0.005)
    with httpx.Client(base_url=gateway.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as http:
        payload = {"model": "metered", "messages": MESSAGES, "stream": True, "max_tokens": 1000}
        with http.stream("POST", "/chat/completions", json=payload) as response:
            cut_id = response.headers["x-request-id"]
            seen = 0
            for piece in response.iter_bytes():
                seen += piece.count(b"data: ")
                if seen >= 15:
                    break  # the client hangs up
    fake_openai.script("metered-upstream", reply=words, die_after_chunks=40)
    died_id = None
    with httpx.Client(base_url=gateway.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as http:
        with http.stream("POST", "/chat/completions", json=payload) as response:
            died_id = response.headers["x-request-id"]
            body = response.read()
    assert b"error" in body
    cut, died = gateway.wait_for_usage(cut_id), gateway.wait_for_usage(died_id)
    assert cut.error_type == "client_disconnected" and 13 <= cut.completion_tokens < 300 and cut.cost_nanos > 0
    assert died.error_type == "upstream_stream_broken" and 35 <= died.completion_tokens < 300 and died.cost_nanos > 0
    gateway.wait_until(lambda: budget_state(gateway, budget["id"])["reserved_usd"] == "0.000000000")
    assert nanos(budget_state(gateway, budget["id"])["spent_usd"]) == ledger_nanos(gateway, tenant_id=tenant_id(gateway, "stream-co"))


def test_an_upstream_failure_releases_the_reservation(gateway, fake_openai):
    from tests.fakes.openai_upstream import Failure

    key = gateway.new_key("fail-co")
    budget = set_budget(gateway, "fail-co", limit_usd=1.0)
    fake_openai.script("metered-upstream", failures=[Failure(500)])
    with pytest.raises(openai.InternalServerError):
        gateway.openai(key).chat.completions.create(model="metered", messages=MESSAGES, max_tokens=50)
    state = budget_state(gateway, budget["id"])
    assert (state["spent_usd"], state["reserved_usd"]) == ("0.000000000", "0.000000000")


def test_concurrent_calls_on_the_in_process_store_never_pass_the_wall(gateway, fake_openai):
    key = gateway.new_key("crowd-co")
    limit = 0.05  # a call costs ~$0.0006 (worst case reserved ~$0.0025): the wall comes at ~80 of 150
    budget = set_budget(gateway, "crowd-co", limit_usd=limit)
    client = openai.AsyncOpenAI(base_url=gateway.base_url, api_key=key, max_retries=0, timeout=60)

    async def call(i: int) -> str:
        messages = [{"role": "user", "content": f"call number {i} of the crowd test " + "pad " * (i % 7)}]
        try:
            if i % 2:
                stream = await client.chat.completions.create(model="metered", messages=messages, max_tokens=64, stream=True)
                async for _ in stream:
                    pass
            else:
                await client.chat.completions.create(model="metered", messages=messages, max_tokens=64)
            return "served"
        except openai.RateLimitError as exc:
            return exc.code or "?"

    async def crowd() -> list[str]:
        try:
            return await asyncio.gather(*(call(i) for i in range(150)))
        finally:
            await client.close()

    outcomes = asyncio.run(crowd())
    assert set(outcomes) <= {"served", "insufficient_quota"}
    served = outcomes.count("served")
    assert 20 < served < 150
    tenant = tenant_id(gateway, "crowd-co")
    gateway.wait_until(lambda: len(gateway.usage_rows(tenant_id=tenant)) == 150)
    spent = ledger_nanos(gateway, tenant_id=tenant)
    assert spent <= limit * NANOS_PER_USD
    assert spent == upstream_cost_nanos(fake_openai)  # every served call billed exactly as the upstream reported
    state = budget_state(gateway, budget["id"])
    assert nanos(state["spent_usd"]) == spent and state["reserved_usd"] == "0.000000000"


def test_admin_api_budgets_invoices_savings_and_reconciliation(gateway):
    key = gateway.new_key("books-co")
    client = gateway.openai(key)
    for model, run in (("metered", "run-a"), ("metered", "run-b"), ("mini", "run-a"), ("mini", None)):
        client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=20, extra_headers={"x-tokenmill-run": run} if run else None)
    tenant = tenant_id(gateway, "books-co")
    gateway.wait_until(lambda: len(gateway.usage_rows(tenant_id=tenant)) == 4)
    total = ledger_nanos(gateway, tenant_id=tenant)
    period = datetime.now(UTC).strftime("%Y-%m")
    with admin(gateway) as http:
        invoice = http.get("/admin/api/invoices", params={"tenant_id": tenant, "period": period}).json()
        assert nanos(invoice["total"]["cost_usd"]) == total and invoice["total"]["calls"] == 4
        assert {line["name"] for line in invoice["lines_by_model"]} == {"metered-upstream", "mini-upstream"}
        assert {line["name"]: line["calls"] for line in invoice["lines_by_run"]} == {"run-a": 2, "run-b": 1, "(no run)": 1}
        exported = http.get("/admin/api/invoices", params={"tenant_id": tenant, "period": period, "format": "csv"})
        rows = list(csv.reader(io.StringIO(exported.text)))
        assert rows[1][0] == "section" and [r for r in rows if r[0] == "total"][0][6] == invoice["total"]["cost_usd"]

        savings = http.get("/admin/api/savings", params={"tenant_id": tenant, "period": period}).json()
        assert savings["baseline_model"] == "metered" and nanos(savings["actual_usd"]) == total
        assert nanos(savings["baseline_usd"]) > total  # the mini calls would have cost more on 'metered'

        budget = http.post("/admin/api/budgets", json={"tenant_id": tenant, "run_id": "*", "limit_usd": 2, "period": "daily"}).json()
        listed = next(b for b in http.get("/admin/api/budgets", params={"tenant_id": tenant}).json()["data"] if b["id"] == budget["id"])
        assert {c["run_id"] for c in listed["current"]} == {"run-a", "run-b"}  # a wall per run, with its spend
        assert http.delete(f"/admin/api/budgets/{budget['id']}").json()["deleted"]

        check = http.post("/admin/api/billing/reconcile").json()
        assert check["rollups"]["differences"] == [] and check["counters"]["differences"] == []
        assert http.get("/admin/api/invoices", params={"tenant_id": tenant, "period": "2026-13"}).status_code == 400

    tenant_admin = gateway.new_key("books-co", role="tenant_admin")
    with gateway.http(tenant_admin) as http:
        assert http.get("/admin/api/invoices", params={"tenant_id": tenant_id(gateway, "quota-co"), "period": period}).status_code == 403
        assert http.get("/admin/api/invoices", params={"period": period}).json()["tenant"]["name"] == "books-co"


def test_the_embedded_celery_worker_rolls_up_usage_and_delivers_alerts(gateway):
    from aiohttp import web

    from billing.rollup_models import UsageDaily
    from tests.fakes.server import ThreadedServer

    received = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = ThreadedServer(app).start()
    try:
        key = gateway.new_key("jobs-co")
        budget = set_budget(gateway, "jobs-co", limit_usd=0.002, soft=0.1, alert_webhook=f"{server.url}/hook")
        gateway.openai(key).chat.completions.create(model="metered", messages=MESSAGES, max_tokens=20)
        tenant = tenant_id(gateway, "jobs-co")

        def rolled_up() -> bool:
            with gateway.db.connect() as conn:
                return conn.execute(sa.select(sa.func.sum(UsageDaily.__table__.c.calls)).where(UsageDaily.__table__.c.tenant_id == tenant)).scalar() == 1

        gateway.wait_until(rolled_up, timeout=20)
        gateway.wait_until(lambda: bool(received), timeout=20)
        assert received[0]["budget_id"] == budget["id"] and received[0]["type"] == "budget.soft_limit_reached"
    finally:
        server.stop()


def test_a_budget_created_after_spend_counts_rows_still_queued_for_the_ledger(fake_openai, tmp_path):
    # Rows wait 30 s in the usage recorder here: the new counter must not start from a ledger
    # that lacks them.
    gw = start_gateway(f"sqlite:///{tmp_path}/gw.db", str(tmp_path), model_list=billing_models(fake_openai), usage_flush_interval=30)
    try:
        client = gw.openai(gw.new_key("late-co"))
        first = client.chat.completions.with_raw_response.create(model="metered", messages=MESSAGES, max_tokens=20)
        assert gw.usage_rows(request_id=first.headers["x-request-id"]) == []  # still queued
        budget = set_budget(gw, "late-co", limit_usd=5.0)
        second = client.chat.completions.with_raw_response.create(model="metered", messages=MESSAGES, max_tokens=20)
        state = budget_state(gw, budget["id"])
        spent = nanos(first.headers["x-tokenmill-cost-usd"]) + nanos(second.headers["x-tokenmill-cost-usd"])
        assert spent > 0 and (nanos(state["spent_usd"]), state["reserved_usd"]) == (spent, "0.000000000")
    finally:
        gw.stop()


def test_limits_too_large_for_the_counters_are_refused_with_the_field_named(gateway):
    gateway.new_key("huge-co")
    tenant = tenant_id(gateway, "huge-co")
    huge = 10**30
    with admin(gateway) as http:
        for path, fields in (("budgets", {"limit_usd": huge}), ("budgets", {"limit_tokens": huge}), ("rate-limits", {"rpm": huge}), ("rate-limits", {"tpm": huge})):
            response = http.post(f"/admin/api/{path}", json={"tenant_id": tenant, **fields})
            assert response.status_code == 400, response.text
            assert response.json()["error"]["param"] == next(iter(fields))
        assert http.post("/admin/api/budgets", json={"tenant_id": tenant, "limit_usd": 1_000_000_000}).status_code == 201
    with db_session(gateway.db) as session:
        with pytest.raises(BudgetError, match="at most"):
            set_budget_row(session, tenant_id=tenant, limit_usd=2e9)
        for not_a_number in (float("inf"), float("nan")):  # what the admin UI's form turns "inf" / "nan" into
            with pytest.raises(BudgetError, match="finite"):
                set_budget_row(session, tenant_id=tenant, limit_usd=not_a_number)
        with pytest.raises(RateLimitError, match="at most"):
            set_rate_limit(session, tenant, rpm=10**10)


def test_the_worst_case_counts_every_prompt_best_of_candidate_and_image(gateway, fake_openai):
    key = gateway.new_key("sizing-co")
    set_budget(gateway, "sizing-co", limit_usd=0.01)
    client = gateway.openai(key)
    # One prompt at max_tokens=100 may cost $0.003: served. Twenty prompts, or best_of=10, may cost
    # twenty or ten times that: refused, since the upstream bills every one of them.
    client.completions.create(model="metered", prompt="say hi", max_tokens=100)
    for too_much in ({"prompt": ["say hi"] * 20}, {"prompt": "say hi", "best_of": 10}):
        with pytest.raises(openai.RateLimitError):
            client.completions.create(model="metered", max_tokens=100, **too_much)
    image = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    with pytest.raises(openai.RateLimitError):  # 20 images of up to 1,600 tokens each: up to $0.32
        client.chat.completions.create(model="metered", max_tokens=1, messages=[{"role": "user", "content": [{"type": "text", "text": "what is this"}, *[image] * 20]}])
    assert len(fake_openai.requests) == 1

"""Admission on both stores: reserve the worst case on every budget in scope, settle the actual
cost, refuse or clamp at the wall, rebuild from the ledger, alert once per period."""

from __future__ import annotations

import asyncio
import math

import pytest
from aiohttp import web

from billing.budgets.alerts import deliver_alerts, list_alerts
from billing.budgets.sizing import OutputBound, output_bound, set_output_bound
from billing.budgets.store import CounterStore
from billing.tokens import count_chat_tokens, count_request_tokens, count_text_tokens
from billing.usage import TokenUsage
from gateway.admission import CLAMP_HEADER, REMAINING_HEADER, Admission
from gateway.errors import APIError
from gateway.settings import BillingSettings
from tests.billing.conftest import lose_state
from tests.billing.helpers import DEAR, PRICE, add_rows, body, ctx, deployment, ledger_row, make_account
from tests.fakes.server import ThreadedServer

pytestmark = pytest.mark.anyio

METERED = deployment()
PRICES = {METERED.id: PRICE}


async def started(store: CounterStore, account, **cfg) -> Admission:  # noqa: ANN001
    settings = BillingSettings(rebuild_quiet_seconds=0.05, reap_interval_seconds=0, **cfg)
    admission = Admission(store, account.engine, settings, [METERED, deployment("dear", "dear-upstream", rpm=1)])
    await admission.start()
    return admission


DEFAULTS = BillingSettings()


async def drained(admission: Admission, timeout_s: float = 15.0) -> None:
    """Wait for the settlement and alert tasks; name the stuck ones if they never end."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while admission._tasks:
        if asyncio.get_running_loop().time() > deadline:
            stacks = "\n".join(f"{t.get_coro()!r}: {t.get_stack(limit=5)!r}" for t in admission._tasks)
            pytest.fail(f"admission tasks still running after {timeout_s}s:\n{stacks}")
        await asyncio.sleep(0.01)


def worst_case(text: str, max_tokens: int, cfg: BillingSettings = DEFAULTS, price=PRICE, markup: float = 0.0) -> int:  # noqa: ANN001
    counted = count_chat_tokens([{"role": "user", "content": text}], "metered-upstream")
    reserved_prompt = math.ceil(counted * (1 + cfg.prompt_margin)) + cfg.prompt_margin_tokens
    scale = (1 + markup) * 1e9
    return math.ceil(reserved_prompt * price.input * scale) + math.ceil(max_tokens * price.output * scale) + 1


async def test_worst_case_is_reserved_on_every_budget_and_settled_to_the_actual_cost(store, tmp_path):
    account = make_account(f"sqlite:///{tmp_path}/a.db", markup=0.1)
    tenant_budget = account.budget(limit_usd=1.0)
    key_budget = account.budget(key_id=account.key_id, limit_usd=5.0, limit_tokens=100_000)
    admission = await started(store, account)
    try:
        c = ctx(account.principal)
        ticket = await admission.admit(c, [METERED], PRICES, body(max_tokens=200))
        expected = worst_case("hello there", 200, markup=0.1)
        assert ticket.reserved_nanos == expected
        assert {ch.counter_id.split(":")[0] for ch in ticket.charges} == {tenant_budget, key_budget}
        ids = [ch.counter_id for ch in ticket.charges]
        assert all(s.reserved_nanos == expected for s in (await store.read(ids)).values())
        assert ticket.headers[REMAINING_HEADER] == f"0.{1_000_000_000 - expected:09d}"
        admission.settle(ticket, 12_345, TokenUsage(9, 4))
        admission.settle(ticket, 12_345, TokenUsage(9, 4))  # idempotent
        await asyncio.sleep(0.05)
        states = await store.read(ids)
        assert all((s.spent_nanos, s.spent_tokens, s.reserved_nanos) == (12_345, 13, 0) for s in states.values())
        # The smallest share left: the key's token wall (13 of 100k used) is tighter than either USD wall.
        assert await admission.remaining_fraction(account.principal, None) == pytest.approx(1 - 13 / 100_000)
    finally:
        await admission.close()


async def test_the_wall_refuses_with_the_budget_named_and_clamp_lowers_max_tokens(store, tmp_path):
    account = make_account(f"sqlite:///{tmp_path}/a.db")
    wall = account.budget(limit_usd=0.004)
    admission = await started(store, account)
    try:
        with pytest.raises(APIError) as refused:
            await admission.admit(ctx(account.principal), [METERED], PRICES, body(max_tokens=200))  # ~$0.0066 worst case
        err = refused.value
        assert (err.status, err.type, err.code) == (429, "insufficient_quota", "insufficient_quota")
        assert wall in err.message and "$0.004000000" in err.message and err.headers["x-tokenmill-budget"] == wall
        assert await admission.store.open_reservations() == 0

        account.budget(limit_usd=0.004, on_exceed="clamp")
        await admission.reload()
        request = body(max_tokens=200, n=2)
        ticket = await admission.admit(ctx(account.principal), [METERED], PRICES, request)
        affordable = (4_000_000 - worst_case("hello there", 0) ) / (PRICE.output * 1e9)
        assert request["max_tokens"] == int(affordable) // 2 < 200
        assert ticket.headers[CLAMP_HEADER] == f"{request['max_tokens']}; budget={wall}"
        assert ticket.reserved_nanos <= 4_000_000
    finally:
        await admission.close()


async def test_scopes_key_run_every_run_and_model(store, tmp_path):
    account = make_account(f"sqlite:///{tmp_path}/a.db")
    other = account.other_key()
    key_only = account.budget(key_id=account.key_id, limit_usd=1.0)
    run_only = account.budget(run_id="run-7", limit_usd=1.0)
    each_run = account.budget(run_id="*", limit_tokens=10_000)
    model_only = account.budget(model="dear", limit_usd=1.0)
    admission = await started(store, account)
    try:
        def scope(ticket) -> set[str]:  # noqa: ANN001
            return {c.counter_id.split(":")[0] for c in ticket.charges}

        assert scope(await admission.admit(ctx(account.principal), [METERED], PRICES, body())) == {key_only}
        assert scope(await admission.admit(ctx(other), [METERED], PRICES, body())) == set()
        a = await admission.admit(ctx(other, run_id="run-7"), [METERED], PRICES, body())
        b = await admission.admit(ctx(other, run_id="run-8"), [METERED], PRICES, body())
        assert scope(a) == {run_only, each_run} and scope(b) == {each_run}
        per_run = {c.counter_id for c in a.charges + b.charges if c.counter_id.startswith(each_run)}
        assert len(per_run) == 2  # a wall per run
        dear = deployment("dear", "dear-upstream")
        assert model_only in scope(await admission.admit(ctx(other, model="dear"), [dear], {dear.id: DEAR}, body()))
    finally:
        await admission.close()


async def test_without_any_output_bound_the_reserved_one_is_sent_upstream(store, tmp_path):
    account = make_account(f"sqlite:///{tmp_path}/a.db")
    account.budget(limit_usd=1.0)
    admission = await started(store, account, default_max_output_tokens=300)
    unbounded = deployment("open", "open-upstream", max_output_tokens=None)
    try:
        request = body(max_tokens=None)
        await admission.admit(ctx(account.principal, model="open"), [unbounded], {unbounded.id: PRICE.__class__(input=1e-5, output=3e-5)}, request)
        assert request["max_completion_tokens"] == 300
        request = body(max_tokens=None)
        await admission.admit(ctx(account.principal), [METERED], PRICES, request)
        assert "max_completion_tokens" not in request  # the model's own limit bounds it already
    finally:
        await admission.close()


async def test_rate_limits_answer_with_retry_after_and_openai_headers(store, tmp_path):
    account = make_account(f"sqlite:///{tmp_path}/a.db")
    from billing.db import db_session
    from billing.ratelimit.rules import set_rate_limit

    with db_session(account.engine) as session:
        set_rate_limit(session, account.tenant_id, account.key_id, rpm=2, tpm=100_000)
    admission = await started(store, account)
    try:
        first = await admission.admit(ctx(account.principal), [METERED], PRICES, body())
        assert first.headers["x-ratelimit-limit-requests"] == "2" and first.headers["x-ratelimit-remaining-requests"] == "1"
        assert first.headers["x-ratelimit-limit-tokens"] == "100000"
        await admission.admit(ctx(account.principal), [METERED], PRICES, body())
        with pytest.raises(APIError) as limited:
            await admission.admit(ctx(account.principal), [METERED], PRICES, body())
        err = limited.value
        assert (err.status, err.code) == (429, "rate_limit_exceeded")
        assert 25 <= int(err.headers["Retry-After"]) <= 30
        assert err.headers["x-ratelimit-remaining-requests"] == "0" and err.headers["x-ratelimit-limit-requests"] == "2"
        # Per deployment: 'dear' allows 1 rpm; the second call moves on to the next candidate.
        dear = deployment("dear", "dear-upstream")
        prices = {dear.id: DEAR, METERED.id: PRICE}
        other = account.other_key()
        t1 = await admission.admit(ctx(other, model="dear"), [dear, METERED], prices, body())
        t2 = await admission.admit(ctx(other, model="dear"), [dear, METERED], prices, body())
        assert [d.model_name for d in t1.candidates] == ["dear", "metered"] and [d.model_name for d in t2.candidates] == ["metered"]
    finally:
        await admission.close()


async def test_counters_start_from_the_ledger_and_are_rebuilt_after_a_loss(store, db_url):
    account = make_account(db_url)
    budget = account.budget(limit_usd=10.0, period="monthly")
    from datetime import UTC, datetime, timedelta

    last_month = datetime.now(UTC).replace(day=1) - timedelta(days=2)
    add_rows(
        account.engine,
        ledger_row("old-1", account.tenant_id, 1_000, when=last_month),
        ledger_row("now-1", account.tenant_id, 2_000),
        ledger_row("now-2", account.tenant_id, 3_000),
        ledger_row("elsewhere", "ten_other", 9_999),
    )
    admission = await started(store, account)
    try:
        t1 = await admission.admit(ctx(account.principal), [METERED], PRICES, body())
        counter = t1.charges[0].counter_id
        assert counter.startswith(budget)
        assert (await store.read([counter]))[counter].spent_nanos == 5_000
        t2 = await admission.admit(ctx(account.principal), [METERED], PRICES, body())
        t3 = await admission.admit(ctx(account.principal), [METERED], PRICES, body())

        await lose_state(store)
        # t1 settles while the counters are gone and its row reaches the ledger before the rebuild;
        # t2 settles while they are gone and its row is still on its way; t3 is still running.
        admission.settle(t1, 700, TokenUsage(5, 5))
        admission.settle(t2, 800, TokenUsage(5, 5))
        await asyncio.sleep(0.05)
        add_rows(account.engine, ledger_row(t1.request_id, account.tenant_id, 700))
        await admission.rebuild()
        await admission.heartbeat()  # re-registers t3's reservation
        state = (await store.read([counter]))[counter]
        assert state.spent_nanos == 5_000 + 700 + 800
        assert state.reserved_nanos == t3.reserved_nanos
        admission.settle(t3, 900, TokenUsage(5, 5))
        await asyncio.sleep(0.05)
        state = (await store.read([counter]))[counter]
        assert (state.spent_nanos, state.reserved_nanos) == (7_400, 0)
        assert await store.open_reservations() == 0
    finally:
        await admission.close()


async def test_a_soft_threshold_alerts_once_per_period_and_reaches_the_webhook(store, tmp_path):
    received = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = ThreadedServer(app).start()
    account = make_account(f"sqlite:///{tmp_path}/a.db")
    budget = account.budget(limit_usd=0.01, soft=0.5, alert_webhook=f"{server.url}/hook")
    admission = await started(store, account)
    try:
        for _ in range(3):
            ticket = await admission.admit(ctx(account.principal), [METERED], PRICES, body(max_tokens=10))
            admission.settle(ticket, 2_000_000, TokenUsage(10, 10))  # $0.002 each: crosses $0.005 on the third
            await asyncio.sleep(0.05)
        await drained(admission)
        alerts = list_alerts(account.engine, account.tenant_id)
        assert len(alerts) == 1 and alerts[0].budget_id == budget and alerts[0].spent_nanos == 6_000_000
        report = await asyncio.to_thread(deliver_alerts, account.engine)
        assert (report.delivered, report.failed) == (1, 0)
        assert received[0]["budget_id"] == budget and received[0]["type"] == "budget.soft_limit_reached"
        assert (await asyncio.to_thread(deliver_alerts, account.engine)).delivered == 0  # delivered once
    finally:
        await admission.close()
        server.stop()


def test_images_count_toward_the_prompt_at_their_worst_case():
    text = [{"role": "user", "content": [{"type": "text", "text": "what is this"}]}]
    image = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    low = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "low"}}
    with_images = [{"role": "user", "content": [{"type": "text", "text": "what is this"}, image, low]}]
    assert count_chat_tokens(with_images) == count_chat_tokens(text) + 1600 + 85


def test_what_else_the_upstream_reads_counts_toward_the_prompt():
    plain = {"messages": [{"role": "user", "content": "hi"}]}
    functions = [{"name": "lookup", "description": "Looks a word up. " * 50, "parameters": {"type": "object"}}]
    schema = {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object", "description": "field " * 200}}}
    audio = {"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "UklGR" * 400, "format": "wav"}}]}
    base = count_request_tokens("chat", plain)
    assert count_request_tokens("chat", plain | {"functions": functions}) > base + 200
    assert count_request_tokens("chat", plain | {"response_format": schema}) > base + 200
    assert count_request_tokens("chat", {"messages": [*plain["messages"], audio]}) > base + 400
    # An assistant turn's legacy function_call is part of the prompt too.
    call = {"role": "assistant", "content": None, "function_call": {"name": "lookup", "arguments": '{"word": "' + "x" * 800 + '"}'}}
    assert count_request_tokens("chat", {"messages": [*plain["messages"], call]}) > base + 100


def test_text_that_is_not_a_string_is_counted_as_what_it_is_not_crashed_on():
    hi = count_chat_tokens([{"role": "user", "content": [{"type": "text", "text": "hi"}]}])
    for odd in (None, 7, ["x"], {"a": 1}):
        messages = [{"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "text", "text": odd}]}]
        assert count_chat_tokens(messages) > hi  # the odd part counts as its JSON text, like other parts
    assert count_request_tokens("completions", {"prompt": ["one two", 5, None]}) == count_text_tokens("one two") + 2
    assert count_request_tokens("embeddings", {"input": [[1, 2, 3], "four"]}) == 3 + count_text_tokens("four")


def test_the_output_bound_is_the_one_the_upstream_will_read():
    # Completions have no max_completion_tokens: an upstream generates up to max_tokens.
    bound = output_bound("completions", {"max_completion_tokens": 1, "max_tokens": 900}, [None], 4096)
    assert (bound.tokens, bound.field) == (900, "max_tokens")
    # Chat with both: providers differ in which wins, so the worst case is reserved...
    body = {"max_completion_tokens": 1, "max_tokens": 900}
    bound = output_bound("chat", body, [None], 4096)
    assert bound.tokens == 900
    # ...and a clamp lowers both, so no provider reads the larger one.
    set_output_bound("chat", body, 50, bound.field)
    assert body == {"max_completion_tokens": 50, "max_tokens": 50}
    assert output_bound("chat", {"max_completion_tokens": 7}, [None], 4096).field == "max_completion_tokens"


def test_the_output_bound_is_no_more_than_every_candidate_can_write():
    # Every candidate's limit known: none writes more than the largest, whatever max_tokens says.
    assert output_bound("chat", {"max_tokens": 10**17}, [1000, 2000], 4096) == OutputBound(2000, "max_tokens", False)
    assert output_bound("completions", {"max_tokens": 300}, [1000, 2000], 4096).tokens == 300
    # One candidate without a known limit may write all the request asks for.
    assert output_bound("chat", {"max_completion_tokens": 10**17}, [1000, None], 4096).tokens == 10**17


async def test_a_settlement_the_store_refused_is_kept_and_lands_when_it_is_back(redis_url, redis_namespace, tmp_path, monkeypatch):
    """Redis away for longer than the settle retries: the cost used to be dropped (the reaper only
    frees the reservation), the counter lagged the ledger, and the budget was overspent by it.
    (The in-process store settles synchronously and cannot be away.)"""
    from redis.exceptions import ConnectionError as RedisConnectionError

    import gateway.admission as admission_module
    from billing.budgets.redis_store import RedisStore

    store = RedisStore.from_url(redis_url, redis_namespace)
    account = make_account(f"sqlite:///{tmp_path}/a.db")
    account.budget(limit_usd=5.0)
    admission = await started(store, account)
    monkeypatch.setattr(admission_module, "_ATTEMPTS", 2)
    try:
        ticket = await admission.admit(ctx(account.principal), [METERED], PRICES, body(max_tokens=50))
        real_settle = store.settle

        async def away(settlement):  # noqa: ANN001, ANN202
            raise RedisConnectionError("Connection closed by server.")

        monkeypatch.setattr(store, "settle", away)
        admission.settle(ticket, 7_777, TokenUsage(9, 4))
        await drained(admission)
        assert list(admission._unsettled) == [ticket.request_id]
        with pytest.raises(RedisConnectionError):
            await admission.settle_pending()  # still away: kept for the next upkeep tick
        monkeypatch.setattr(store, "settle", real_settle)
        assert await admission.settle_pending() == 0
        state = (await store.read([c.counter_id for c in ticket.charges]))[ticket.charges[0].counter_id]
        assert (state.spent_nanos, state.spent_tokens, state.reserved_nanos) == (7_777, 13, 0)
        assert await admission.settle_pending() == 0  # and only once
    finally:
        await admission.close()

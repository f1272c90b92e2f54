"""One contract, two counter stores: Redis (Lua scripts) and in-process. Every test runs on both."""

from __future__ import annotations

import asyncio

import pytest

from billing.budgets.store import (
    AdmitRequest,
    Admitted,
    BudgetRefused,
    Charge,
    CounterSum,
    Held,
    NeedsEpoch,
    NeedsInit,
    RateLimited,
    Settlement,
)
from billing.ratelimit.buckets import Bucket
from tests.billing.conftest import lose_counter, lose_state, make_ready

pytestmark = pytest.mark.anyio

C1, C2 = "bgt_a:2026-11", "bgt_b:2026-11"


def request(rid: str, *charges: Charge, prompt_nanos: int = 100, out_tokens: int = 100, per_token: float = 10.0, **kw) -> AdmitRequest:
    return AdmitRequest(rid, list(charges), prompt_nanos=prompt_nanos, prompt_tokens=20, out_nanos_per_token=per_token, out_tokens=out_tokens, **kw)


async def test_a_fresh_store_is_rebuilt_then_counters_start_from_the_ledger(store):
    req = request("r1", Charge(C1, limit_nanos=10_000))
    assert isinstance(await store.admit(req), NeedsEpoch)
    assert await store.begin_rebuild("g1", 30) == "mine"
    assert (await store.begin_rebuild("g2", 30)).startswith("rebuilding:g1")  # one rebuilder only
    assert isinstance(await store.admit(req), NeedsEpoch)
    assert await store.finish_rebuild("g1", [CounterSum(C2, 7, 1)])
    assert not await store.finish_rebuild("g1", [])  # the claim is spent
    assert await store.admit(req) == NeedsInit([C1])
    assert await store.init_counters([CounterSum(C1, 5_000, 40, expire_s=3600)])
    admitted = await store.admit(req)
    assert isinstance(admitted, Admitted) and admitted.gen == "g1"
    assert admitted.reserved_nanos == req.reservation_nanos(100) == 100 + 1000 + 1
    state = (await store.read([C1, C2]))
    assert (state[C1].spent_nanos, state[C1].reserved_nanos, state[C1].reserved_tokens) == (5_000, 1101, 120)
    assert state[C2].initialized and state[C2].spent_nanos == 7
    assert admitted.min_left_nanos == 10_000 - 5_000 - 1101


async def test_a_refusal_reserves_nothing_on_any_budget(store):
    await make_ready(store, [CounterSum(C1, 0, 0), CounterSum(C2, 900, 0)])
    roomy, tight = Charge(C1, limit_nanos=1_000_000), Charge(C2, limit_nanos=1_500)
    refused = await store.admit(request("r1", roomy, tight))
    assert isinstance(refused, BudgetRefused) and refused.index == 1 and refused.left_nanos == 600
    state = await store.read([C1, C2])
    assert state[C1].reserved_nanos == 0 and state[C2].reserved_nanos == 0
    assert await store.open_reservations() == 0


async def test_settlement_replaces_the_reservation_once(store):
    await make_ready(store, [CounterSum(C1, 0, 0), CounterSum(C2, 0, 0)])
    charges = [Charge(C1, limit_nanos=10**9), Charge(C2, limit_tokens=10**6)]
    assert isinstance(await store.admit(request("r1", *charges)), Admitted)
    first = await store.settle(Settlement("r1", charges, nanos=321, tokens=45))
    again = await store.settle(Settlement("r1", charges, nanos=321, tokens=45))
    assert (first.status, again.status) == ("ok", "duplicate")
    state = await store.read([C1, C2])
    for cid in (C1, C2):
        assert (state[cid].spent_nanos, state[cid].spent_tokens, state[cid].reserved_nanos, state[cid].reserved_tokens) == (321, 45, 0, 0)
    assert await store.open_reservations() == 0
    # A release is a settlement at zero: the reservation goes, nothing is spent, later settles are ignored.
    assert isinstance(await store.admit(request("r2", *charges)), Admitted)
    assert (await store.settle(Settlement("r2", charges, 0, 0))).status == "ok"
    assert (await store.settle(Settlement("r2", charges, 999, 9))).status == "duplicate"
    assert (await store.read([C1]))[C1].spent_nanos == 321


async def test_releasing_into_a_counter_lost_on_its_own_gives_no_credit(store):
    await make_ready(store, [CounterSum(C1, 0, 0)])
    charge = Charge(C1, limit_nanos=10**9)
    assert isinstance(await store.admit(request("r1", charge)), Admitted)
    await lose_counter(store, C1)
    await store.init_counters([CounterSum(C1, 500, 5)])
    assert (await store.settle(Settlement("r1", [charge], 0, 0))).status == "ok"
    state = (await store.read([C1]))[C1]
    assert (state.spent_nanos, state.reserved_nanos, state.reserved_tokens) == (500, 0, 0)


async def test_a_request_drawing_on_a_hold_takes_its_room_and_nobody_else_can(store):
    await make_ready(store, [CounterSum(C1, 0, 0), CounterSum(C2, 0, 0)])
    wall = Charge(C1, limit_nanos=6_000)
    hold = AdmitRequest("hold", [wall], prompt_nanos=3_000, prompt_tokens=0, out_nanos_per_token=0.0, out_tokens=0)
    assert (await store.admit(hold)).reserved_nanos == 3_001
    assert isinstance(await store.admit(request("stranger", wall, out_tokens=300)), BudgetRefused)  # 3,101 > 2,999 free
    line = request("line", wall, Charge(C2, limit_nanos=10**9), out_tokens=250, draw_from="hold")  # 2,601
    admitted = await store.admit(line)
    assert isinstance(admitted, Admitted) and admitted.reserved_nanos == 2_601
    state = await store.read([C1, C2])
    assert (state[C1].reserved_nanos, state[C2].reserved_nanos) == (400 + 2_601, 2_601)  # what the hold keeps + the line
    assert admitted.min_left_nanos == 6_000 - 3_001
    # The hold keeps 400: a second line takes it and the rest from free room; then it is empty.
    assert isinstance(await store.admit(request("line2", wall, out_tokens=250, draw_from="hold")), Admitted)
    assert (await store.read([C1]))[C1].reserved_nanos == 2 * 2_601
    assert isinstance(await store.admit(request("line3", wall, out_tokens=250, draw_from="hold")), BudgetRefused)
    for rid, nanos in (("line", 1_000), ("line2", 1_500), ("hold", 0)):
        assert (await store.settle(Settlement(rid, [wall], nanos, 0))).status == "ok"
    state = (await store.read([C1]))[C1]
    assert (state.spent_nanos, state.reserved_nanos, state.reserved_tokens) == (2_500, 0, 0)
    assert await store.open_reservations() == 0


async def test_a_draw_that_spent_nothing_goes_back_to_its_hold(store):
    # A batch line refused upstream (429) is retried: its first try must not keep the hold's room,
    # or the retry takes the room of the lines after it while live traffic takes the freed part.
    await make_ready(store, [CounterSum(C1, 0, 0)])
    wall = Charge(C1, limit_nanos=6_000)
    assert isinstance(await store.admit(AdmitRequest("hold", [wall], prompt_nanos=3_000, prompt_tokens=0, out_nanos_per_token=0.0, out_tokens=0)), Admitted)
    assert isinstance(await store.admit(request("try-1", wall, out_tokens=250, draw_from="hold")), Admitted)  # takes 2,601 of 3,001
    assert (await store.settle(Settlement("try-1", [wall], 0, 0))).status == "ok"
    assert (await store.read([C1]))[C1].reserved_nanos == 3_001  # all of it is the hold's again
    assert isinstance(await store.admit(request("stranger", wall, out_tokens=300)), BudgetRefused)  # so live traffic cannot take it
    assert isinstance(await store.admit(request("try-2", wall, out_tokens=250, draw_from="hold")), Admitted)
    assert (await store.settle(Settlement("try-2", [wall], 1_000, 0))).status == "ok"  # spent: the draw stays spent
    assert (await store.read([C1]))[C1].reserved_nanos == 400
    assert (await store.settle(Settlement("hold", [wall], 0, 0))).status == "ok"
    state = (await store.read([C1]))[C1]
    assert (state.spent_nanos, state.reserved_nanos) == (1_000, 0) and await store.open_reservations() == 0


async def test_clamp_lowers_output_to_what_the_budget_affords(store):
    await make_ready(store, [CounterSum(C1, 0, 0), CounterSum(C2, 0, 0)])
    clamp = Charge(C1, limit_nanos=601, clamp=True)
    # 601 left: prompt 100 + 1 + 10 per output token -> 50 tokens, rounded down to whole choices of 3.
    admitted = await store.admit(request("r1", clamp, out_tokens=300, out_step=3, min_clamp_tokens=6))
    assert isinstance(admitted, Admitted) and admitted.out_tokens == 48
    assert admitted.reserved_nanos == 100 + 480 + 1
    # Below the minimum a clamp becomes a refusal, and a refuse-mode budget never clamps.
    assert isinstance(await store.admit(request("r2", clamp, out_tokens=300, min_clamp_tokens=16)), BudgetRefused)
    both = await store.admit(request("r3", Charge(C2, limit_nanos=10**6, clamp=True), Charge(C1, limit_nanos=10**6), out_tokens=10**6))
    assert isinstance(both, BudgetRefused) and both.index == 1


async def test_token_limits_count_prompt_and_output(store):
    await make_ready(store, [CounterSum(C1, 0, 900, 0)])
    charge = Charge(C1, limit_tokens=1000)
    refused = await store.admit(request("r1", charge, out_tokens=90))  # 900 + 20 prompt + 90 > 1000
    assert isinstance(refused, BudgetRefused) and refused.left_tokens == 100
    assert isinstance(await store.admit(request("r2", charge, out_tokens=80)), Admitted)


async def test_concurrent_admissions_never_pass_the_wall(store):
    await make_ready(store, [CounterSum(C1, 0, 0)])
    charge = Charge(C1, limit_nanos=50 * 1101 + 500)  # room for exactly 50 worst cases
    results = await asyncio.gather(*(store.admit(request(f"r{i}", charge)) for i in range(200)))
    assert sum(isinstance(r, Admitted) for r in results) == 50
    assert sum(isinstance(r, BudgetRefused) for r in results) == 150
    state = (await store.read([C1]))[C1]
    assert state.reserved_nanos == 50 * 1101 <= charge.limit_nanos


async def test_reservations_not_renewed_expire_and_are_reaped(store):
    await make_ready(store, [CounterSum(C1, 0, 0)])
    charge = Charge(C1, limit_nanos=10**9)
    for rid in ("alive", "orphan"):
        assert isinstance(await store.admit(request(rid, charge, ttl_ms=150)), Admitted)
    for _ in range(4):
        await asyncio.sleep(0.06)
        await store.heartbeat([Held("alive", (C1,), 1101, 120)], ttl_ms=150)
    assert await store.reap() == 1
    assert await store.open_reservations() == 1
    assert (await store.read([C1]))[C1].reserved_nanos == 1101
    assert (await store.settle(Settlement("alive", [charge], 500, 50))).status == "ok"
    assert (await store.settle(Settlement("orphan", [charge], 700, 70))).status == "ok"  # late but counted
    state = (await store.read([C1]))[C1]
    assert (state.spent_nanos, state.reserved_nanos) == (1200, 0)


async def test_after_a_loss_settlements_wait_in_pending_and_reservations_come_back(store):
    await make_ready(store, [CounterSum(C1, 0, 0)])
    charge = Charge(C1, limit_nanos=10**9)
    for rid in ("settles-during-rebuild", "still-running"):
        assert isinstance(await store.admit(request(rid, charge)), Admitted)
    await lose_state(store)
    assert isinstance(await store.admit(request("new", charge)), NeedsEpoch)
    assert await store.begin_rebuild("g9", 30) == "mine"
    assert (await store.settle(Settlement("settles-during-rebuild", [charge], 250, 25))).status == "pending"
    assert set(await store.pending()) == {"settles-during-rebuild"}
    assert await store.finish_rebuild("g9", [CounterSum(C1, 1000, 100)])  # the ledger's part
    state = (await store.read([C1]))[C1]
    assert (state.spent_nanos, state.spent_tokens, state.reserved_nanos) == (1250, 125, 0)
    gen, recreated = await store.heartbeat([Held("still-running", (C1,), 1101, 120)], 30_000)
    assert (gen, recreated) == ("g9", 1)
    assert (await store.read([C1]))[C1].reserved_nanos == 1101
    assert (await store.settle(Settlement("still-running", [charge], 400, 40))).status == "ok"
    assert (await store.read([C1]))[C1].reserved_nanos == 0
    assert await store.open_reservations() == 0


async def test_rate_limit_buckets(store):
    await make_ready(store)
    rpm, tpm = Bucket("k:key1:r", 3, "r"), Bucket("k:key1:t", 1000, "t")
    ok = [await store.admit(request(f"r{i}", buckets=[rpm, tpm], out_tokens=100, tpm_prompt_tokens=50)) for i in range(3)]
    assert all(isinstance(r, Admitted) for r in ok)
    assert [s.remaining for s in ok[-1].buckets] == [0, 550]
    limited = await store.admit(request("r4", buckets=[rpm], out_tokens=10))
    assert isinstance(limited, RateLimited) and limited.bucket_id == "k:key1:r"
    assert 18_000 <= limited.retry_ms <= 20_000  # one request refills in 60 s / 3
    # Settlement refunds the unused part of the token estimate.
    await store.settle(Settlement("r0", [], 0, 60, token_buckets=[tpm], tpm_estimate=150))
    again = await store.admit(request("r5", buckets=[tpm], out_tokens=590, tpm_prompt_tokens=50))
    assert isinstance(again, Admitted)
    too_big = await store.admit(request("r6", buckets=[tpm], out_tokens=5000))
    assert isinstance(too_big, RateLimited) and too_big.retry_ms == -1


async def test_deployment_limits_pick_the_first_candidate_with_room(store):
    await make_ready(store)
    first, second = Bucket("dep:a:r", 1, "r"), Bucket("dep:b:r", 5, "r")
    one = await store.admit(request("r1", alternatives=[[first], [second]]))
    two = await store.admit(request("r2", alternatives=[[first], [second]]))
    assert (one.alternative, two.alternative) == (0, 1)
    none = await store.admit(request("r3", alternatives=[[first]]))
    assert isinstance(none, RateLimited) and none.bucket_id == "dep:a:r"


async def test_a_soft_threshold_is_reported_once(store):
    await make_ready(store, [CounterSum(C1, 0, 0)])
    charge = Charge(C1, limit_nanos=10**6, soft_nanos=1000)
    crossed = []
    for i in range(4):
        assert isinstance(await store.admit(request(f"r{i}", charge)), Admitted)
        crossed.append((await store.settle(Settlement(f"r{i}", [charge], 400, 4))).crossed)
    assert [len(c) for c in crossed] == [0, 0, 1, 0]
    assert (crossed[2][0].index, crossed[2][0].spent_nanos) == (0, 1200)


async def test_redis_store_survives_its_pooled_connections_being_dropped(redis_url, redis_namespace):
    """A Redis restart or failover closes every pooled connection: the next command on each used to
    fail the call (a 503) until every dead connection had been tried once."""
    import redis.asyncio as aioredis

    from billing.budgets.redis_store import RedisStore

    store = RedisStore.from_url(redis_url, redis_namespace + "drop:")
    admin = aioredis.Redis.from_url(redis_url)
    try:
        await make_ready(store, [CounterSum(C1, 0, 0)])
        ids = {await store.client.client_id() for _ in range(3)}
        for connection in ids:
            await admin.execute_command("CLIENT", "KILL", "ID", connection)
        admitted = await store.admit(request("r-after-drop", Charge(C1, limit_nanos=1_000_000)))
        assert isinstance(admitted, Admitted)
        assert await store.client.client_id() not in ids
    finally:
        await admin.aclose()
        await asyncio.wait_for(store.close(), timeout=10)


async def test_a_rebuild_that_cannot_read_the_ledger_gives_its_claim_back(store):
    """With the database down, a failed rebuild used to keep `rebuilding:<gen>` until it expired:
    every admission on every replica waited on it (60-90 s hangs) instead of a prompt 503."""
    import sqlalchemy as sa
    from sqlalchemy.exc import OperationalError

    from billing.budgets.recovery import rebuild_counters

    unreachable = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    with pytest.raises(OperationalError):
        await rebuild_counters(store, unreachable, [], quiet_s=0)
    assert await store.epoch() is None  # the next call claims it again
    assert await store.begin_rebuild("g2", 30) == "mine"
    await store.abandon_rebuild("someone-else")  # only its own claim is given back
    assert await store.epoch() == "rebuilding:g2"

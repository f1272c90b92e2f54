"""The budget path's cost: reserve + settle per call, on Redis and on the in-process store.

Prints, for each store:
  - the store pair alone (admit script + settle script), p50/p99 in microseconds;
  - the whole Admission pair (scope lookup, token count, pricing, store, settlement),
    and its added latency over the no-budget fast path measured in the same run;
  - calls per second the budget path sustains: asyncio tasks in 1 process, and (Redis) in
    2 processes sharing one Redis (this machine has 2 cores).
Figures are medians over --repeats rounds; the machine is shared, so the load average is shown.

    python bench/budget_path.py [--calls 3000] [--repeats 3] [--redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _procs import percentile  # noqa: E402

from billing import accounts  # noqa: E402
from billing.budgets.definitions import set_budget  # noqa: E402
from billing.budgets.memory_store import MemoryStore  # noqa: E402
from billing.budgets.redis_store import RedisStore  # noqa: E402
from billing.budgets.store import AdmitRequest, Admitted, Charge, CounterSum, Settlement  # noqa: E402
from billing.db import create_db_engine, db_session, upgrade_schema  # noqa: E402
from billing.prices import PriceBook  # noqa: E402
from billing.usage import TokenUsage  # noqa: E402
from gateway.admission import Admission  # noqa: E402
from gateway.auth import Principal  # noqa: E402
from gateway.context import RequestContext  # noqa: E402
from gateway.pricing import deployment_price  # noqa: E402
from gateway.settings import BillingSettings, Deployment  # noqa: E402

BODY = {"model": "bench-model", "messages": [{"role": "user", "content": "What is six times seven? Answer briefly."}], "max_tokens": 64}
DEPLOYMENT = Deployment(
    model_name="bench-model",
    litellm_params={"model": "openai/bench-model", "api_base": "http://127.0.0.1:9/v1"},
    model_info={"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6},
)
PRICES = {DEPLOYMENT.id: deployment_price(DEPLOYMENT, PriceBook(price_map={}))}
CHARGES = [Charge("bench-tenant:2026-11", limit_nanos=10**15), Charge("bench-key:2026-11", limit_nanos=10**15)]


def make_store(kind: str, redis_url: str, ns: str):  # noqa: ANN201
    return MemoryStore() if kind == "memory" else RedisStore.from_url(redis_url, ns)


async def ready(store) -> None:  # noqa: ANN001
    await store.begin_rebuild("bench", 60)
    await store.finish_rebuild("bench", [CounterSum(c.counter_id, 0, 0) for c in CHARGES])


def store_request(rid: str) -> AdmitRequest:
    return AdmitRequest(rid, CHARGES, prompt_nanos=30_000, prompt_tokens=30, out_nanos_per_token=2000.0, out_tokens=64)


async def store_pair(store, n: int) -> list[float]:  # noqa: ANN001
    out = []
    for i in range(n):
        rid = f"s{uuid.uuid4().hex[:8]}{i}"
        t = time.perf_counter()
        admitted = await store.admit(store_request(rid))
        await store.settle(Settlement(rid, CHARGES, 50_000, 40))
        out.append(time.perf_counter() - t)
        assert isinstance(admitted, Admitted)
    return out


def setup_db(folder: str) -> None:
    engine = create_db_engine(f"sqlite:///{folder}/bench.db")
    upgrade_schema(engine)
    with db_session(engine) as session:
        tenant = accounts.ensure_tenant(session, "bench")
        key = accounts.create_key(session, tenant).key
        set_budget(session, tenant_id=tenant.id, limit_usd=1e6)
        set_budget(session, tenant_id=tenant.id, key_id=key.id, limit_usd=1e6)
    engine.dispose()


async def admission_pairs(admission: Admission, principal: Principal, n: int) -> tuple[list[float], list[float]]:
    """(admit alone: what a caller waits for, admit + finished settlement) per call."""
    admits, pairs = [], []
    for _ in range(n):
        ctx = RequestContext(principal=principal, endpoint="chat", model_requested="bench-model")
        t = time.perf_counter()
        ticket = await admission.admit(ctx, [DEPLOYMENT], PRICES, dict(BODY))
        admitted = time.perf_counter()
        admission.settle(ticket, 50_000, TokenUsage(20, 12))
        if admission._tasks:  # the Redis settlement runs as a task: wait for it, it is part of the cost
            await asyncio.gather(*list(admission._tasks))
        admits.append(admitted - t)
        pairs.append(time.perf_counter() - t)
    return admits, pairs


async def ping_rtt(redis_url: str, n: int) -> float:
    store = RedisStore.from_url(redis_url, "tmbench-ping:")
    times = []
    for _ in range(n):
        t = time.perf_counter()
        await store.client.ping()
        times.append(time.perf_counter() - t)
    await store.close()
    return percentile(times, 50)


async def throughput(admission: Admission, principal: Principal, seconds: float, workers: int = 64) -> float:
    done = 0
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            ctx = RequestContext(principal=principal, endpoint="chat", model_requested="bench-model")
            ticket = await admission.admit(ctx, [DEPLOYMENT], PRICES, dict(BODY))
            admission.settle(ticket, 50_000, TokenUsage(20, 12))
            done += 1

    await asyncio.gather(*(worker() for _ in range(workers)))
    if admission._tasks:
        await asyncio.gather(*list(admission._tasks))
    return done / seconds


def _process_throughput(args: tuple) -> float:
    kind, redis_url, ns, folder, seconds = args

    async def run() -> float:
        engine, principal, _ = setup_db_existing(folder)
        admission = Admission(make_store(kind, redis_url, ns), engine, BillingSettings(), [DEPLOYMENT])
        await admission.start()
        try:
            return await throughput(admission, principal, seconds)
        finally:
            await admission.close()

    return asyncio.run(run())


def setup_db_existing(folder: str) -> tuple:
    from sqlmodel import select

    from billing.models import ApiKey

    engine = create_db_engine(f"sqlite:///{folder}/bench.db")
    with db_session(engine) as session:
        tenant = accounts.get_tenant_by_name(session, "bench")
        key = session.exec(select(ApiKey).where(ApiKey.tenant_id == tenant.id)).first()
    return engine, Principal(key_id=key.id, role="user", tenant_id=tenant.id, tenant_name="bench", allowed_models=frozenset()), None


def us(values: list[float]) -> str:
    return f"p50 {percentile(values, 50) * 1e6:7.1f} us  p99 {percentile(values, 99) * 1e6:8.1f} us"


async def bench_store(kind: str, args: argparse.Namespace, folder: str) -> None:
    ns = f"tmbench:{uuid.uuid4().hex[:8]}:"
    store = make_store(kind, args.redis, ns)
    await ready(store)
    if kind == "redis":
        print(f"  reference: Redis PING round trip    p50 {await ping_rtt(args.redis, 2000) * 1e6:7.1f} us")
    await store_pair(store, 300)  # warm-up
    rounds = [await store_pair(store, args.calls) for _ in range(args.repeats)]
    await store.close()
    p50s = [percentile(r, 50) for r in rounds]
    median_round = rounds[p50s.index(statistics.median_low(p50s))]
    print(f"  store pair (admit+settle steps)     {us(median_round)}")

    engine, principal, _ = setup_db_existing(folder)
    nobody = Principal(key_id="key_none", role="user", tenant_id="ten_none", tenant_name="none", allowed_models=frozenset())
    admission = Admission(make_store(kind, args.redis, ns), engine, BillingSettings(), [DEPLOYMENT])
    await admission.start()
    await admission_pairs(admission, principal, 300)
    await admission_pairs(admission, nobody, 300)
    with_budgets, without = [], []
    for _ in range(args.repeats):  # alternate, so drift in machine load hits both alike
        with_budgets.append(await admission_pairs(admission, principal, args.calls))
        without.append(await admission_pairs(admission, nobody, args.calls))

    def med(rounds: list, which: int, q: float) -> float:
        return statistics.median(percentile(r[which], q) for r in rounds)

    base = med(without, 1, 50)
    print(f"  admission, no budget (fast path)    p50 {base * 1e6:7.1f} us")
    print(f"  admit, 2 budgets (caller waits)     p50 {med(with_budgets, 0, 50) * 1e6:7.1f} us  p99 {med(with_budgets, 0, 99) * 1e6:8.1f} us")
    print(f"  admit + settle done, 2 budgets      p50 {med(with_budgets, 1, 50) * 1e6:7.1f} us  p99 {med(with_budgets, 1, 99) * 1e6:8.1f} us")
    print(f"  added by budgets (pair - fast path) p50 {(med(with_budgets, 1, 50) - base) * 1e6:7.1f} us")
    rates = [await throughput(admission, principal, args.seconds) for _ in range(args.repeats)]
    print(f"  sustained, 1 process (64 tasks)     {statistics.median(rates):8.0f} calls/s")
    await admission.close()
    if kind == "redis":
        with multiprocessing.get_context("spawn").Pool(2) as pool:
            twos = [sum(pool.map(_process_throughput, [(kind, args.redis, ns, folder, args.seconds)] * 2)) for _ in range(args.repeats)]
        print(f"  sustained, 2 processes, one Redis   {statistics.median(twos):8.0f} calls/s")
        cleanup = RedisStore.from_url(args.redis, ns)
        keys = [k async for k in cleanup.client.scan_iter(match=ns + "*", count=1000)]
        if keys:
            await cleanup.client.delete(*keys)
        await cleanup.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--redis", default=os.environ.get("TOKENMILL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--stores", default="memory,redis")
    args = parser.parse_args()
    print(f"budget path: {args.calls} calls x {args.repeats} rounds; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared machine)")
    with tempfile.TemporaryDirectory() as folder:
        setup_db(folder)
        for kind in args.stores.split(","):
            print(f"{kind}:")
            asyncio.run(bench_store(kind, args, folder))


if __name__ == "__main__":
    main()

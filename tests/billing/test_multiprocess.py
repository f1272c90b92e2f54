"""The walls under real concurrency: `tokenmill serve --workers 4` processes sharing Redis and
PostgreSQL, a real Celery worker and beat, the official SDK, a fake upstream on loopback.

- 500 concurrent streaming and non-streaming calls against a $1.00 budget;
- the Redis counters vanish mid-run and are rebuilt from the ledger;
- a gateway process is SIGKILLed with reservations open, and Celery's reaper releases them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import openai
import pytest
import redis
import sqlalchemy as sa
import yaml

from billing import accounts
from billing.budgets.definitions import set_budget
from billing.db import create_db_engine, db_session
from billing.models import UsageRecord
from billing.prices import Price
from billing.ratelimit.rules import set_rate_limit
from billing.usage import TokenUsage
from gateway.bootstrap import prepare_database
from tests.fakes.server import free_port
from tests.support.gateway import ADMIN_KEY

pytestmark = pytest.mark.slow

PRICE = Price(input=1e-4, output=4e-4)  # dear on purpose: $1 lasts a few hundred calls
WIPE_NAMESPACE = """
local keys = redis.call('KEYS', ARGV[1] .. '*')
for j = 1, #keys, 1000 do redis.call('DEL', unpack(keys, j, math.min(j + 999, #keys))) end
return #keys
"""
TENANTS = {"wall-co": 1.00, "restart-co": 0.60, "kill-co": 5.00, "rate-co": 5.00}
RATE_CO_RPM = 20


@dataclass
class Cluster:
    url: str  # the 4-worker gateway
    db: sa.Engine
    redis: redis.Redis
    ns: str
    keys: dict[str, str]  # tenant -> API key
    budgets: dict[str, str]  # tenant -> budget id
    tenant_ids: dict[str, str]
    config: Path
    tmp: Path

    def counter(self, tenant: str) -> dict[str, int]:
        raw = self.redis.hgetall(f"{self.ns}c:{self.budgets[tenant]}:{datetime.now(UTC):%Y-%m}")
        return {k.decode(): int(v) for k, v in raw.items() if k.decode() in ("sn", "st", "rn", "rt")}

    def open_reservations(self) -> int:
        return self.redis.zcard(f"{self.ns}rx")

    def ledger(self, tenant: str) -> list[UsageRecord]:
        with self.db.connect() as conn:
            return list(conn.execute(sa.select(UsageRecord.__table__).where(UsageRecord.__table__.c.tenant_id == self.tenant_ids[tenant])))

    def wait(self, condition, timeout: float = 30.0, what: str = "condition") -> None:  # noqa: ANN001
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.1)
        raise AssertionError(f"{what} not met within {timeout}s")


def _spawn(args: list[str], log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENMILL_")}
    return subprocess.Popen([sys.executable, "-m", "gateway.cli", *args], stdout=open(log, "wb"), stderr=subprocess.STDOUT, env=env, start_new_session=True)  # noqa: SIM115


def _stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not start:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def fake():  # noqa: ANN201
    from tests.fakes.openai_upstream import FakeOpenAI

    upstream = FakeOpenAI().start()
    yield upstream
    upstream.stop()


@pytest.fixture(scope="module")
def cluster(fake, redis_url, postgres_url, tmp_path_factory):  # noqa: ANN001, ANN201
    tmp = tmp_path_factory.mktemp("cluster")
    schema = f"mp_{uuid.uuid4().hex[:10]}"
    admin_engine = sa.create_engine(postgres_url)
    with admin_engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    db_url = f"{postgres_url}?options=-csearch_path%3D{schema}"
    ns = f"tmtest:{uuid.uuid4().hex[:12]}:"
    db = create_db_engine(db_url)
    prepare_database(db, ADMIN_KEY)
    keys, budgets, tenant_ids = {}, {}, {}
    with db_session(db) as session:
        for name, limit in TENANTS.items():
            tenant = accounts.create_tenant(session, name)
            keys[name] = accounts.create_key(session, tenant).secret
            budgets[name] = set_budget(session, tenant_id=tenant.id, limit_usd=limit).id
            tenant_ids[name] = tenant.id
        set_rate_limit(session, tenant_ids["rate-co"], rpm=RATE_CO_RPM)

    def model(name: str) -> dict:
        info = {"tier": "strong", "input_cost_per_token": PRICE.input, "output_cost_per_token": PRICE.output, "max_output_tokens": 4096}
        return {"model_name": name, "litellm_params": {"model": f"openai/{name}-upstream", "api_base": fake.base_url, "api_key": fake.api_key, "max_retries": 0}, "model_info": info}

    config = tmp / "tokenmill.yaml"
    config.write_text(yaml.safe_dump({
        "database_url": db_url,
        "redis_url": redis_url,
        "admin_key": ADMIN_KEY,
        "spool_dir": str(tmp / "spool"),
        "usage_flush_interval": 0.05,
        "log_level": "warning",
        "model_list": [model("metered"), model("slow")],
        "billing": {
            "redis_namespace": ns,
            "reservation_ttl_seconds": 3,
            "reap_interval_seconds": 0,  # only Celery reaps here: the kill test proves it does
            "reap_schedule_seconds": 1,
            "refresh_seconds": 1,
            "rebuild_quiet_seconds": 1,
            "broker_url": f"sqla+sqlite:///{tmp}/broker.sqlite",
        },
    }))
    port = free_port()
    gateway = _spawn(["serve", "--config", str(config), "--workers", "4", "--port", str(port)], tmp / "serve.log")
    worker = _spawn(["worker", "--config", str(config), "--loglevel", "warning"], tmp / "worker.log")
    beat = _spawn(["beat", "--config", str(config), "--loglevel", "warning"], tmp / "beat.log")
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(url, gateway, tmp / "serve.log")
        yield Cluster(url, db, redis.Redis.from_url(redis_url), ns, keys, budgets, tenant_ids, config, tmp)
    finally:
        for proc in (gateway, worker, beat):
            _stop(proc)
        client = redis.Redis.from_url(redis_url)
        stale = list(client.scan_iter(match=ns + "*", count=1000))
        if stale:
            client.delete(*stale)
        db.dispose()
        with admin_engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin_engine.dispose()


async def _calls(url: str, key: str, n: int, tag: str, on_done=None, in_flight: int | None = None) -> list[tuple[str, int]]:  # noqa: ANN001
    """n calls (all at once, or `in_flight` at a time), half of them streaming; returns
    (outcome, upstream-reported usage priced) per call."""
    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=120)
    slots = asyncio.Semaphore(in_flight or n)

    async def one(i: int) -> tuple[str, int]:
        async with slots:
            return await call(i)

    async def call(i: int) -> tuple[str, int]:
        messages = [{"role": "user", "content": f"{tag} call {i} " + "word " * (i % 5)}]
        try:
            if i % 2:
                usage = None
                stream = await client.chat.completions.create(model="metered", messages=messages, max_tokens=16, stream=True, stream_options={"include_usage": True})
                async for chunk in stream:
                    usage = chunk.usage or usage
            else:
                usage = (await client.chat.completions.create(model="metered", messages=messages, max_tokens=16)).usage
            outcome = ("served", PRICE.cost_nanos(TokenUsage(usage.prompt_tokens, usage.completion_tokens)))
        except openai.RateLimitError as exc:
            outcome = (exc.code or "rate-limited", 0)
        except openai.APIError as exc:
            outcome = (f"error: {exc}", 0)
        if on_done:
            on_done()
        return outcome

    try:
        return await asyncio.gather(*(one(i) for i in range(n)))
    finally:
        await client.close()


def test_500_concurrent_calls_across_4_processes_never_pass_a_1_dollar_wall(cluster):
    outcomes = asyncio.run(_calls(cluster.url, cluster.keys["wall-co"], 500, "wall"))
    kinds = {kind for kind, _ in outcomes}
    assert kinds == {"served", "insufficient_quota"}, kinds
    served = [cost for kind, cost in outcomes if kind == "served"]
    cluster.wait(lambda: len(cluster.ledger("wall-co")) == 500, what="one ledger row per call")
    rows = cluster.ledger("wall-co")
    ledger_total = sum(r.cost_nanos for r in rows)
    assert ledger_total <= 1_000_000_000, f"spent ${ledger_total / 1e9:.6f} of $1.00"
    assert ledger_total == sum(served)  # the bill is exactly the upstream-reported usage, priced
    assert sum(r.status_code == 200 for r in rows) == len(served) and sum(r.status_code == 429 for r in rows) == 500 - len(served)
    # How close to the wall the spend ends depends on timing (worst cases are reserved, actual
    # costs are lower); it can never be less than what the worst cases alone let through.
    assert ledger_total > 0.3e9
    counter = cluster.counter("wall-co")
    assert (counter["sn"], counter["rn"], counter["rt"]) == (ledger_total, 0, 0)
    assert cluster.open_reservations() == 0


def test_counters_lost_mid_run_are_rebuilt_from_the_ledger(cluster):
    done = [0]
    wiped = threading.Event()

    def progress() -> None:
        done[0] += 1
        if done[0] == 60 and not wiped.is_set():
            # What a Redis restart without persistence leaves: everything gone at one instant. A
            # SCAN-then-DEL from here would lose keys piecemeal while calls run, which no restart does.
            cluster.redis.eval(WIPE_NAMESPACE, 0, cluster.ns)
            wiped.set()

    # 30 calls in flight at a time, so that calls are still being admitted after the loss.
    outcomes = asyncio.run(_calls(cluster.url, cluster.keys["restart-co"], 300, "restart", on_done=progress, in_flight=30))
    assert wiped.is_set()
    assert {kind for kind, _ in outcomes} == {"served", "insufficient_quota"}, {kind for kind, _ in outcomes}
    cluster.wait(lambda: len(cluster.ledger("restart-co")) == 300, what="one ledger row per call")
    ledger_total = sum(r.cost_nanos for r in cluster.ledger("restart-co"))
    assert ledger_total == sum(cost for _, cost in outcomes)
    assert ledger_total <= 600_000_000, f"spent ${ledger_total / 1e9:.6f} of $0.60"
    cluster.wait(lambda: cluster.open_reservations() == 0, what="no reservation left")
    counter = cluster.counter("restart-co")
    assert (counter["sn"], counter["rn"]) == (ledger_total, 0)


def test_a_killed_gateway_s_reservations_are_reaped_by_celery(cluster, fake):
    port = free_port()
    doomed = _spawn(["serve", "--config", str(cluster.config), "--workers", "1", "--port", str(port)], cluster.tmp / "doomed.log")
    doomed_url = f"http://127.0.0.1:{port}"
    _wait_http(doomed_url, doomed, cluster.tmp / "doomed.log")
    key = cluster.keys["kill-co"]
    try:
        with httpx.Client(base_url=doomed_url + "/v1", headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
            for i in range(3):  # finished calls: settled and in the ledger before the crash
                assert http.post("/chat/completions", json={"model": "metered", "messages": [{"role": "user", "content": f"before {i}"}], "max_tokens": 16}).status_code == 200
        cluster.wait(lambda: len(cluster.ledger("kill-co")) == 3, what="rows of the finished calls")
        fake.script("slow-upstream", reply=" ".join(["slow"] * 400), chunk_delay=0.1)

        def hang(i: int) -> None:
            body = {"model": "slow", "messages": [{"role": "user", "content": f"stream {i}"}], "max_tokens": 500, "stream": True}
            try:
                with httpx.stream("POST", doomed_url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=60) as r:
                    for _ in r.iter_bytes():
                        pass
            except httpx.HTTPError:
                pass  # the gateway dies under it

        threads = [threading.Thread(target=hang, args=(i,), daemon=True) for i in range(8)]
        for t in threads:
            t.start()
        cluster.wait(lambda: cluster.open_reservations() == 8, what="8 open reservations")
        assert cluster.counter("kill-co")["rn"] > 0
        _stop(doomed, signal.SIGKILL)
    finally:
        _stop(doomed, signal.SIGKILL)
    cluster.wait(lambda: cluster.open_reservations() == 0, timeout=40, what="the reaper to release the dead process's reservations")
    spent = sum(r.cost_nanos for r in cluster.ledger("kill-co"))
    counter = cluster.counter("kill-co")
    assert (counter["sn"], counter["rn"], counter["rt"]) == (spent, 0, 0)
    assert "reaped" in (cluster.tmp / "worker.log").read_text()
    # The surviving gateway serves the same budget and its books still agree.
    with httpx.Client(base_url=cluster.url + "/v1", headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        assert http.post("/chat/completions", json={"model": "metered", "messages": [{"role": "user", "content": "after"}], "max_tokens": 16}).status_code == 200
    cluster.wait(lambda: len(cluster.ledger("kill-co")) == 4, what="the new row")
    cluster.wait(lambda: cluster.counter("kill-co")["sn"] == sum(r.cost_nanos for r in cluster.ledger("kill-co")), what="counter == ledger")


def test_rate_limits_are_shared_by_all_gateway_processes(cluster):
    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=cluster.url + "/v1", headers={"Authorization": f"Bearer {cluster.keys['rate-co']}"}, timeout=30) as http:
            body = {"model": "metered", "messages": [{"role": "user", "content": "tick"}], "max_tokens": 8}
            return await asyncio.gather(*(http.post("/chat/completions", json=body) for _ in range(2 * RATE_CO_RPM)))

    started = time.monotonic()
    responses = asyncio.run(burst())
    refilled = int((time.monotonic() - started) / (60 / RATE_CO_RPM))
    served = [r for r in responses if r.status_code == 200]
    limited = [r for r in responses if r.status_code == 429]
    # 4 processes, one bucket of 20 per minute (refilling one every 3 s while the burst runs).
    assert RATE_CO_RPM <= len(served) <= RATE_CO_RPM + refilled + 1 and len(served) + len(limited) == len(responses)
    for r in limited:
        assert r.json()["error"]["code"] == "rate_limit_exceeded"
        assert int(r.headers["retry-after"]) >= 1 and r.headers["x-ratelimit-limit-requests"] == str(RATE_CO_RPM)

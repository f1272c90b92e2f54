"""Batches at scale: `tokenmill worker` processes on a Redis broker, PostgreSQL, budget counters in
Redis, the gateway publishing chunks; a 1,000-line job, a worker SIGKILLed mid-job, a cancel."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
import yaml

from billing import accounts
from billing.budgets.definitions import set_budget
from billing.db import create_db_engine, db_session
from billing.models import UsageRecord
from gateway.batches.store import line_request_id
from gateway.bootstrap import prepare_database
from tests.batch.conftest import CHEAP, batch_env, chat_line, file_lines, model_list, priced, upload, wait_for
from tests.fakes.openai_upstream import FakeOpenAI
from tests.support.gateway import ADMIN_KEY, GatewayUnderTest, start_gateway

pytestmark = pytest.mark.slow

ENV = {"chunk_size": 50, "line_concurrency": 8, "lease_seconds": 3, "sweep_seconds": 0.5, "stall_seconds": 4}
BUDGET_USD = 50.0


@dataclass
class Cluster:
    gw: GatewayUnderTest
    redis: redis.Redis
    ns: str
    budget_id: str
    key: str
    config: Path
    tmp: Path
    env: dict[str, str]
    workers: list[subprocess.Popen]

    def counter(self) -> dict[str, int]:
        raw = self.redis.hgetall(f"{self.ns}c:{self.budget_id}:{datetime.now(UTC):%Y-%m}")
        return {k.decode(): int(v) for k, v in raw.items() if k.decode() in ("sn", "rn", "rt")}

    def ledger(self, batch_id: str) -> list[UsageRecord]:
        return self.gw.usage_rows(run_id=batch_id)

    def start_worker(self, name: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "worker", "--config", str(self.config), "--loglevel", "warning", "--concurrency", "2"],
            stdout=open(self.tmp / f"{name}.log", "wb"), stderr=subprocess.STDOUT, env=self.env, start_new_session=True,  # noqa: SIM115
        )
        self.workers.append(proc)
        return proc

    def wait(self, condition, timeout: float = 30.0, what: str = "condition") -> None:  # noqa: ANN001
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} not met within {timeout}s")
            time.sleep(0.1)


def _broker_db(client: redis.Redis) -> int:
    """A Redis database of its own for this run's Celery queue (other runs may share the server)."""
    for db in range(15, 7, -1):
        if client.set(f"tokenmill-test:broker-db:{db}", os.getpid(), nx=True, ex=900):
            return db
    pytest.skip("no free Redis database for a private Celery broker")


@pytest.fixture(scope="module")
def cluster(fake: FakeOpenAI, redis_url: str, postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("batch-cluster")
    schema = f"bt_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    db_url = f"{postgres_url}?options=-csearch_path%3D{schema}"
    server = redis.Redis.from_url(redis_url)
    broker_db = _broker_db(server)
    broker_url = redis_url.rsplit("/", 1)[0] + f"/{broker_db}"
    ns = f"tmtest:{uuid.uuid4().hex[:12]}:"
    db = create_db_engine(db_url)
    prepare_database(db, ADMIN_KEY)
    with db_session(db) as session:
        tenant = accounts.create_tenant(session, "batch-scale")
        key = accounts.create_key(session, tenant).secret
        budget_id = set_budget(session, tenant_id=tenant.id, limit_usd=BUDGET_USD).id
    db.dispose()
    settings = {
        "database_url": db_url, "redis_url": redis_url, "admin_key": ADMIN_KEY, "spool_dir": str(tmp / "spool"), "log_level": "warning",
        "model_list": model_list(fake), "cache": {"enabled": False},
        "billing": {"redis_namespace": ns, "broker_url": broker_url, "reservation_ttl_seconds": 3, "reap_interval_seconds": 1, "refresh_seconds": 1},
    }
    config = tmp / "tokenmill.yaml"
    config.write_text(yaml.safe_dump(settings))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENMILL_")}
    with batch_env(**ENV) as batch_vars:
        env.update(batch_vars)
        gw = start_gateway(db_url, str(tmp), **{k: v for k, v in settings.items() if k not in ("database_url", "admin_key", "spool_dir")})
        c = Cluster(gw, server, ns, budget_id, key, config, tmp, env, [])
        try:
            assert gw.services.jobs is None  # with Redis the gateway only publishes
            c.start_worker("worker-a")
            c.start_worker("worker-b")
            yield c
        finally:
            for proc in c.workers:
                _stop(proc)
            gw.stop()
            broker = redis.Redis.from_url(broker_url)
            stale = [k for pattern in ("celery*", "_kombu*", "unacked*") for k in broker.scan_iter(match=pattern)]
            if stale:
                broker.delete(*stale)
            keys = list(server.scan_iter(match=ns + "*", count=1000))
            if keys:
                server.delete(*keys)
            server.delete(f"tokenmill-test:broker-db:{broker_db}")
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def _stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def _calls(fake: FakeOpenAI, tag: str) -> int:
    return sum(1 for body in fake.requests if tag in str(body.get("messages")))


def _books_agree(c: Cluster) -> None:
    """Budget counter == everything in the ledger for the tenant, nothing left reserved."""
    def agree() -> bool:
        with c.gw.db.connect() as conn:
            total = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(UsageRecord.__table__.c.cost_nanos), 0))).scalar_one()
        counter = c.counter()
        return (counter.get("sn"), counter.get("rn"), counter.get("rt")) == (total, 0, 0)

    c.wait(agree, timeout=30, what=f"budget counter == ledger, nothing reserved ({c.counter()})")


def test_a_1000_line_job_runs_on_worker_processes_with_exact_books(cluster, fake):
    client = cluster.gw.openai(cluster.key)
    items = [chat_line(f"line-{i:04d}", text=f"thousand {i} " + "word " * (i % 7)) for i in range(1000)]
    batch = client.batches.create(input_file_id=upload(client, items).id, endpoint="/v1/chat/completions", completion_window="24h")
    assert batch.model_extra["tokenmill"]["budget_hold"] == "held"
    assert cluster.counter()["rn"] > 0  # the worst case is held as soon as the batch is accepted
    done = wait_for(client, batch.id, timeout=180)
    assert done.status == "completed" and (done.request_counts.completed, done.request_counts.failed) == (1000, 0)
    out = file_lines(client, done.output_file_id)
    assert [line["custom_id"] for line in out] == [f"line-{i:04d}" for i in range(1000)]
    for item, line in zip(items, out, strict=True):
        assert line["response"]["body"]["choices"][0]["message"]["content"] == f"echo: {item['body']['messages'][0]['content']}"
    rows = cluster.ledger(batch.id)
    assert len(rows) == 1000
    assert {r.request_id for r in rows} == {line_request_id(batch.id, f"line-{i:04d}", 0) for i in range(1000)}
    assert sum(r.cost_nanos for r in rows) == priced(out, CHEAP)
    assert _calls(fake, "thousand") == 1000
    _books_agree(cluster)


def test_a_worker_killed_mid_job_leaves_every_line_done_and_billed_once(cluster, fake):
    fake.script("batch-slow", first_byte_delay=0.2)
    client = cluster.gw.openai(cluster.key)
    batch = client.batches.create(
        input_file_id=upload(client, [chat_line(f"k-{i:03d}", model="slow", text=f"killed {i}") for i in range(600)]).id,
        endpoint="/v1/chat/completions", completion_window="24h",
    )
    wait_for(client, batch.id, lambda b: b.request_counts.completed >= 150, timeout=60)
    victim = cluster.workers[0]
    _stop(victim, signal.SIGKILL)  # mid-chunk: its lines in flight never get written
    assert victim.returncode == -signal.SIGKILL
    done = wait_for(client, batch.id, timeout=120)
    assert done.status == "completed" and (done.request_counts.completed, done.request_counts.failed) == (600, 0)
    out = file_lines(client, done.output_file_id)
    assert [line["custom_id"] for line in out] == [f"k-{i:03d}" for i in range(600)]
    rows = cluster.ledger(batch.id)
    assert sorted(r.request_id for r in rows) == sorted(line["response"]["request_id"] for line in out)  # one row per line
    assert sum(r.cost_nanos for r in rows) == priced(out, CHEAP)
    # Only lines in flight went upstream twice: the dead worker's (2 chunks x 8 lines at most), and
    # on a loaded machine those of a chunk whose lease renewal came too late (it is then redone).
    assert 600 <= _calls(fake, "killed") <= 600 + 4 * ENV["line_concurrency"]
    _books_agree(cluster)
    cluster.start_worker("worker-c")  # back to two workers for the next test


def test_a_job_cancelled_mid_run_on_workers_ends_cancelled_with_partial_output(cluster, fake):
    fake.script("batch-slow", first_byte_delay=0.2)
    client = cluster.gw.openai(cluster.key)
    batch = client.batches.create(
        input_file_id=upload(client, [chat_line(f"x-{i:03d}", model="slow", text=f"cancelled {i}") for i in range(400)]).id,
        endpoint="/v1/chat/completions", completion_window="24h",
    )
    wait_for(client, batch.id, lambda b: b.request_counts.completed >= 40, timeout=60)
    assert client.batches.cancel(batch.id).status in ("cancelling", "cancelled")
    done = wait_for(client, batch.id, timeout=60)
    assert done.status == "cancelled"
    ok, not_run = file_lines(client, done.output_file_id), file_lines(client, done.error_file_id)
    assert 40 <= len(ok) < 400 and len(ok) + len(not_run) == 400
    assert sorted(line["custom_id"] for line in ok + not_run) == [f"x-{i:03d}" for i in range(400)]
    assert {line["error"]["code"] for line in not_run} == {"batch_cancelled"}
    assert len(cluster.ledger(batch.id)) == len(ok) == _calls(fake, "cancelled")
    _books_agree(cluster)  # the holds of chunks that never ran were released


def test_a_chunk_handed_back_by_a_draining_worker_keeps_its_budget_hold(cluster, fake):
    fake.script("batch-slow", first_byte_delay=0.3)
    client = cluster.gw.openai(cluster.key)
    batch = client.batches.create(  # one chunk
        input_file_id=upload(client, [chat_line(f"d-{i:02d}", model="slow", text=f"drained {i}") for i in range(40)]).id,
        endpoint="/v1/chat/completions", completion_window="24h",
    )
    wait_for(client, batch.id, lambda b: b.request_counts.completed >= 8, timeout=60)
    for proc in list(cluster.workers):
        _stop(proc)  # warm shutdown: lines in flight finish, the chunk is handed back
    cluster.workers.clear()
    left = client.batches.retrieve(batch.id)
    assert left.status == "in_progress" and left.request_counts.completed < 40
    # Nothing is in flight, yet the unrun lines' worst case stays reserved: live traffic cannot take it.
    assert cluster.counter()["rn"] > 0
    cluster.start_worker("worker-d")
    cluster.start_worker("worker-e")
    done = wait_for(client, batch.id, timeout=120)
    assert done.status == "completed" and (done.request_counts.completed, done.request_counts.failed) == (40, 0)
    _books_agree(cluster)

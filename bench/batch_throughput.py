"""Batch jobs: lines per second, and what routing saves on a batch.

1. Throughput. `tokenmill serve` in front of the fast fake upstream (bench/fake_upstream_fast.py):
   - embedded: the gateway alone (SQLite database, its in-process Celery worker on the SQLite broker);
   - workers: the gateway plus two `tokenmill worker --concurrency 2` processes on a Redis broker
     (same SQLite database; skipped when Redis is not reachable).
   Each job of N lines is timed from create to `completed`; repeated, median reported. Baseline in
   the same run: the same N calls sent live to /v1/chat/completions on that gateway with as many in
   flight as a batch keeps (line_concurrency x chunks running), calls per second. Batch settings
   are the defaults (gateway/batches/config.py).
2. Cost. The same MMLU prompts as one batch on `auto` (routed by difficulty; the cheap model when no
   `auto` route is served, said so in the output) and as one batch on the strong model only, against
   the tests' fake upstream (usage follows prompt length); cost from each batch's ledger total.

    python bench/batch_throughput.py [--lines 2000] [--repeats 3] [--cost-lines 500] [--modes embedded,workers]
    (--modes "" runs the cost part only; --cost-lines 0 the throughput part only)
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import itertools
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

import aiohttp
import openai
import orjson
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _procs import free_port, start, stop, wait_http, wait_port  # noqa: E402

from gateway.batches.config import BatchSettings  # noqa: E402

MMLU = Path("/work/shared/data/router/mmlu")
CHEAP = {"input_cost_per_token": 0.15e-6, "output_cost_per_token": 0.6e-6}  # gpt-4o-mini's list prices
STRONG = {"input_cost_per_token": 2.5e-6, "output_cost_per_token": 10e-6}  # gpt-4o's
BATCH_ENV = {"TOKENMILL_BATCHES__SWEEP_SECONDS": "1"}  # chunk size and lines in flight: the defaults
REDIS_URL = os.environ.get("TOKENMILL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def model(name: str, api_base: str, tier: str, prices: dict) -> dict:
    params = {"model": f"openai/{name}-upstream", "api_base": api_base, "api_key": "sk-bench", "max_retries": 0}
    return {"model_name": name, "litellm_params": params, "model_info": {"tier": tier, "max_output_tokens": 4096, **prices}}


def line(i: int, model_name: str, text: str, max_tokens: int = 16) -> bytes:
    body = {"model": model_name, "messages": [{"role": "user", "content": text}], "max_tokens": max_tokens}
    return orjson.dumps({"custom_id": f"line-{i}", "method": "POST", "url": "/v1/chat/completions", "body": body})


class Gateway:
    """`tokenmill serve` (and optionally workers) as subprocesses on one config."""

    def __init__(self, tmp: Path, settings: dict, workers: int = 0):
        self.tmp, self.port = tmp, free_port()
        self.config = tmp / "tokenmill.yaml"
        self.config.write_text(yaml.safe_dump({**settings, "port": self.port, "log_level": "warning", "admin_key": "sk-tm-bench-admin-0123456789"}))
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("TOKENMILL_")}, **BATCH_ENV, "PYTHONPATH": str(ROOT)}
        cli = [sys.executable, "-m", "gateway.cli"]
        self.procs = [start([*cli, "serve", "--config", str(self.config)], tmp / "serve.log", env)]
        wait_http(f"http://127.0.0.1:{self.port}/healthz", self.procs[0], tmp / "serve.log")
        for n in range(workers):
            self.procs.append(start([*cli, "worker", "--config", str(self.config), "--loglevel", "warning", "--concurrency", "2"], tmp / f"worker-{n}.log", env))
        self.key = self._new_key(settings["database_url"])
        self.client = openai.OpenAI(base_url=f"http://127.0.0.1:{self.port}/v1", api_key=self.key, max_retries=0, timeout=600)

    def _new_key(self, database_url: str) -> str:
        from billing import accounts
        from billing.db import create_db_engine, db_session

        engine = create_db_engine(database_url)
        with db_session(engine) as session:
            key = accounts.create_key(session, accounts.ensure_tenant(session, "bench")).secret
        engine.dispose()
        return key

    def run_batch(self, data: bytes, timeout: float = 900) -> tuple[float, dict]:
        source = self.client.files.create(file=("bench.jsonl", io.BytesIO(data)), purpose="batch")
        started = time.perf_counter()
        batch = self.client.batches.create(input_file_id=source.id, endpoint="/v1/chat/completions", completion_window="24h")
        if batch.status == "failed":
            raise RuntimeError(f"batch failed validation: {batch.errors}")
        while batch.status not in ("completed", "failed", "cancelled", "expired"):
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"batch {batch.id} still {batch.status} {batch.request_counts}")
            time.sleep(0.05)
            batch = self.client.batches.retrieve(batch.id)
        return time.perf_counter() - started, batch.model_dump()

    def served_models(self) -> set[str]:
        return {m.id for m in self.client.models.list()}

    def close(self) -> None:
        for proc in reversed(self.procs):
            stop(proc)


async def live_calls(url: str, key: str, n: int, in_flight: int, model_name: str) -> float:
    """n chat calls, `in_flight` at a time: calls per second."""
    slots = asyncio.Semaphore(in_flight)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    async def one(session: aiohttp.ClientSession, i: int) -> None:
        body = orjson.dumps({"model": model_name, "messages": [{"role": "user", "content": f"live {i}"}], "max_tokens": 16})
        async with slots, session.post(url, data=body, headers=headers) as r:
            await r.read()
            if r.status != 200:
                raise RuntimeError(f"live call failed: {r.status}")

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=in_flight)) as session:
        started = time.perf_counter()
        await asyncio.gather(*(one(session, i) for i in range(n)))
        return n / (time.perf_counter() - started)


def redis_up() -> bool:
    parsed = urlparse(REDIS_URL)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), 1.0):
            return True
    except OSError:
        return False


def throughput(mode: str, lines: int, repeats: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f"batch-bench-{mode}-"))
    port = free_port()
    upstream = start([sys.executable, str(ROOT / "bench" / "fake_upstream_fast.py"), "--port", str(port)], tmp / "upstream.log")
    wait_port(port)
    api_base = f"http://127.0.0.1:{port}/v1"
    settings = {
        "database_url": f"sqlite:///{tmp}/tokenmill.db", "spool_dir": str(tmp / "spool"), "cache": {"enabled": False},
        "model_list": [model("cheap", api_base, "cheap", CHEAP)], "routing": {"routes": []},
    }
    workers = 0
    if mode == "workers":
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        db = next(d for d in range(15, 7, -1) if client.set(f"tokenmill-test:broker-db:{d}", os.getpid(), nx=True, ex=1800))
        broker = REDIS_URL.rsplit("/", 1)[0] + f"/{db}"
        settings.update(redis_url=REDIS_URL, billing={"broker_url": broker, "redis_namespace": f"bench:{os.getpid()}:"})
        workers = 2
    gw = Gateway(tmp, settings, workers)
    try:
        data = b"\n".join(line(i, "cheap", f"batch line {i}") for i in range(lines))
        gw.run_batch(b"\n".join(line(i, "cheap", f"warm {i}") for i in range(200)))  # warm-up: connections, imports
        rates = []
        for _ in range(repeats):
            seconds, batch = gw.run_batch(data)
            assert batch["request_counts"]["completed"] == lines, batch["request_counts"]
            rates.append(lines / seconds)
        in_flight = BatchSettings().line_concurrency * (1 if mode == "embedded" else 2 * workers)  # chunks running at once
        live = [asyncio.run(live_calls(f"http://127.0.0.1:{gw.port}/v1/chat/completions", gw.key, lines, in_flight, "cheap")) for _ in range(repeats)]
        batch_rate, live_rate = statistics.median(rates), statistics.median(live)
        print(f"{mode:9s} batch of {lines} lines: median {batch_rate:7.1f} lines/s  (runs: {', '.join(f'{r:.1f}' for r in rates)})")
        print(f"{mode:9s} live calls, {in_flight} in flight: median {live_rate:7.1f} calls/s  -> batch/live = {batch_rate / live_rate:.2f}")
    finally:
        gw.close()
        stop(upstream)
        if mode == "workers":
            import redis

            client = redis.Redis.from_url(REDIS_URL)
            broker_client = redis.Redis.from_url(settings["billing"]["broker_url"])
            stale = [k for p in ("celery*", "_kombu*", "unacked*") for k in broker_client.scan_iter(match=p)]
            if stale:
                broker_client.delete(*stale)
            client.delete(f"tokenmill-test:broker-db:{settings['billing']['broker_url'].rsplit('/', 1)[1]}")


def mmlu_prompts(n: int) -> list[str]:
    prompts: list[str] = []
    files = sorted(MMLU.glob("*.csv"))
    per_file = max(1, n // len(files) + 1)
    for path in files:
        with path.open(newline="") as fh:
            prompts += [row["prompt"] for row in itertools.islice(csv.DictReader(fh), per_file)]
    return prompts[:n]


def cost(lines: int) -> None:
    """The same prompts as a batch on `auto` and on the strong model only. Batch lines share one
    run id (the batch's), so the route's run stickiness applies across lines: shown both ways."""
    from billing.money import format_usd
    from tests.fakes.openai_upstream import FakeOpenAI

    prompts = mmlu_prompts(lines)
    fake = FakeOpenAI(api_key="sk-bench").start()
    strong_nanos = None
    try:
        for label, extra in (("auto (route defaults)", {}), ("auto, sticky_seconds=0", {"sticky_seconds": 0})):
            tmp = Path(tempfile.mkdtemp(prefix="batch-bench-cost-"))
            settings = {
                "database_url": f"sqlite:///{tmp}/tokenmill.db", "spool_dir": str(tmp / "spool"), "cache": {"enabled": False},
                "model_list": [model("cheap", fake.base_url, "cheap", CHEAP), model("strong", fake.base_url, "strong", STRONG)],
                "routing": {"routes": [{"name": "auto", "tiers": ["cheap", "strong"], "strong_share": 0.3, **extra}]},
            }
            gw = Gateway(tmp, settings)
            try:
                routed = "auto" if "auto" in gw.served_models() else "cheap"
                if routed != "auto":
                    label = "cheap model only (no `auto` route served)"
                nanos, batch_id = _batch_cost(gw, prompts, routed)
                tiers = _tier_mix(settings["database_url"], batch_id)
                if strong_nanos is None:
                    strong_nanos, _ = _batch_cost(gw, prompts, "strong")
                    print(f"cost of {len(prompts)} MMLU prompts as one batch, strong model only: ${format_usd(strong_nanos)}")
                print(f"  {label:28s} ${format_usd(nanos)}  ratio to strong-only {nanos / strong_nanos:.3f}  tier mix {tiers}")
            finally:
                gw.close()
    finally:
        fake.stop()


def _batch_cost(gw: Gateway, prompts: list[str], model_name: str) -> tuple[int, str]:
    _, batch = gw.run_batch(b"\n".join(line(i, model_name, p, max_tokens=64) for i, p in enumerate(prompts)))
    assert batch["request_counts"]["completed"] == len(prompts), batch
    return int(round(float(batch["tokenmill"]["cost_usd"]) * 1e9)), batch["id"]


def _tier_mix(database_url: str, batch_id: str) -> dict[str, int]:
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT tier, count(*) FROM usage_records WHERE run_id = :b GROUP BY tier"), {"b": batch_id}).all()
    engine.dispose()
    return {tier: n for tier, n in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cost-lines", type=int, default=500)
    parser.add_argument("--modes", default="embedded,workers")
    args = parser.parse_args()
    print(f"batch throughput on {os.cpu_count()} CPUs (other processes may be running: compare within one run)")
    for mode in filter(None, args.modes.split(",")):
        if mode not in ("embedded", "workers"):
            parser.error(f"unknown mode {mode!r}: embedded, workers")
        if mode == "workers" and not redis_up():
            print(f"workers: skipped, Redis is not reachable at {REDIS_URL}")
            continue
        throughput(mode, args.lines, args.repeats)
    if args.cost_lines:
        cost(args.cost_lines)


if __name__ == "__main__":
    main()

"""Gateway overhead: Tokenmill versus LiteLLM's proxy in front of the same fast fake upstream.

Prints, for each: sequential latency (p50/p99) and the latency it adds over calling the
upstream directly, non-streaming and streaming; and throughput at 32 concurrent connections
(wrk if installed, else a Python client). Tokenmill runs with auth and the usage ledger on.

    python bench/gateway_overhead.py [--workers 1] [--requests 2000] [--duration 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _procs import free_port, percentile, start, stop, wait_http, wait_port  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BODY = {"model": "bench-model", "messages": [{"role": "user", "content": "What is six times seven?"}], "max_tokens": 16}
LITELLM_MASTER_KEY = "sk-litellm-bench-master"


@dataclass
class Target:
    name: str
    url: str
    key: str | None

    @property
    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        return headers


async def sequential(targets: list[Target], requests: int, stream: bool) -> dict[str, list[float]]:
    """Latency per request; targets take turns in rounds so drift hits them all alike."""
    body = json.dumps({**BODY, "stream": stream}).encode()
    out: dict[str, list[float]] = {t.name: [] for t in targets}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=4)) as session:
        for target in targets:  # warm-up
            for _ in range(50):
                async with session.post(target.url, data=body, headers=target.headers) as r:
                    await r.read()
        rounds = 10
        for _ in range(rounds):
            for target in targets:
                for _ in range(requests // rounds):
                    started = time.perf_counter()
                    async with session.post(target.url, data=body, headers=target.headers) as r:
                        payload = await r.read()
                    elapsed = time.perf_counter() - started
                    if r.status != 200:
                        raise RuntimeError(f"{target.name}: HTTP {r.status}: {payload[:300]!r}")
                    out[target.name].append(elapsed * 1000)
    return out


def throughput_wrk(target: Target, duration: int, connections: int, workdir: Path) -> float:
    script = workdir / f"post_{abs(hash(target.name))}.lua"
    headers = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in target.headers.items())
    script.write_text(f'wrk.method = "POST"\nwrk.body = {json.dumps(json.dumps(BODY))}\n{headers}')
    result = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "-s", str(script), target.url], capture_output=True, text=True, check=True
    )
    if "Non-2xx" in result.stdout:
        raise RuntimeError(f"{target.name}: non-2xx answers under load:\n{result.stdout}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", result.stdout).group(1))


async def throughput_python(target: Target, duration: int, connections: int) -> float:
    body = json.dumps(BODY).encode()
    done = 0
    stop_at = time.perf_counter() + duration

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal done
        while time.perf_counter() < stop_at:
            async with session.post(target.url, data=body, headers=target.headers) as r:
                await r.read()
                done += r.status == 200

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as session:
        await asyncio.gather(*(worker(session) for _ in range(connections)))
    return done / duration


def wait_warm(url: str, timeout: float = 120.0) -> None:
    """Measure the steady state: wait until start-up work (embedders loading) has finished."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and httpx.get(url, timeout=5).json().get("warming"):
        time.sleep(0.2)


def start_tokenmill(upstream_port: int, workers: int, tmp: Path) -> tuple[subprocess.Popen, Target]:
    config = tmp / "tokenmill.yaml"
    config.write_text(
        f"database_url: sqlite:///{tmp}/tokenmill.db\nspool_dir: {tmp}/spool\nmodel_list:\n"
        f"  - model_name: bench-model\n    litellm_params:\n      model: openai/bench-model\n"
        f"      api_base: http://127.0.0.1:{upstream_port}/v1\n      api_key: sk-upstream\n"
        f"    model_info:\n      tier: cheap\n      input_cost_per_token: 0.00000015\n      output_cost_per_token: 0.0000006\n"
    )
    env = {"TOKENMILL_CONFIG": str(config), "TOKENMILL_LOG_LEVEL": "warning"}
    created = subprocess.run([BIN / "tokenmill", "keys", "create", "--tenant", "bench"], capture_output=True, text=True, env={**os.environ, **env}, check=True)
    key = created.stdout.strip().splitlines()[-1]
    port = free_port()
    log = tmp / "tokenmill.log"
    proc = start([str(BIN / "tokenmill"), "serve", "--port", str(port), "--workers", str(workers)], log, env)
    wait_http(f"http://127.0.0.1:{port}/healthz", proc, log)
    wait_warm(f"http://127.0.0.1:{port}/readyz")
    return proc, Target("tokenmill", f"http://127.0.0.1:{port}/v1/chat/completions", key)


def start_litellm(upstream_port: int, workers: int, tmp: Path) -> tuple[subprocess.Popen, Target]:
    config = tmp / "litellm.yaml"
    config.write_text(
        "model_list:\n  - model_name: bench-model\n    litellm_params:\n      model: openai/bench-model\n"
        f"      api_base: http://127.0.0.1:{upstream_port}/v1\n      api_key: sk-upstream\n"
        f"general_settings:\n  master_key: {LITELLM_MASTER_KEY}\nlitellm_settings:\n  telemetry: false\n"
    )
    port = free_port()
    log = tmp / "litellm.log"
    env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR", "LITELLM_MASTER_KEY": LITELLM_MASTER_KEY}
    proc = start([str(BIN / "litellm"), "--config", str(config), "--port", str(port), "--num_workers", str(workers)], log, env)
    wait_http(f"http://127.0.0.1:{port}/health/liveliness", proc, log, timeout=300)
    return proc, Target("litellm-proxy", f"http://127.0.0.1:{port}/v1/chat/completions", LITELLM_MASTER_KEY)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=1, help="worker processes for each gateway (same for both)")
    parser.add_argument("--requests", type=int, default=2000, help="sequential requests per target and mode")
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per throughput run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--skip-litellm", action="store_true")
    args = parser.parse_args()

    procs: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix="tm-bench-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            upstream_port = free_port()
            procs.append(start([sys.executable, str(ROOT / "bench" / "fake_upstream_fast.py"), "--port", str(upstream_port)], tmp / "upstream.log"))
            wait_port(upstream_port)
            targets = [Target("upstream (direct)", f"http://127.0.0.1:{upstream_port}/v1/chat/completions", None)]
            proc, tokenmill = start_tokenmill(upstream_port, args.workers, tmp)
            procs.append(proc)
            targets.append(tokenmill)
            if not args.skip_litellm:
                proc, litellm_target = start_litellm(upstream_port, args.workers, tmp)
                procs.append(proc)
                targets.append(litellm_target)

            print(f"# gateway overhead: {os.cpu_count()} CPUs, {args.workers} worker(s) per gateway, {args.requests} sequential requests per target")
            for stream in (False, True):
                latencies = asyncio.run(sequential(targets, args.requests, stream))
                base = latencies[targets[0].name]
                print(f"\n## sequential, {'streaming' if stream else 'non-streaming'} (ms)")
                print(f"{'target':<20} {'p50':>8} {'p99':>8} {'added p50':>10} {'added p99':>10}")
                for target in targets:
                    values = latencies[target.name]
                    p50, p99 = percentile(values, 50), percentile(values, 99)
                    added50, added99 = p50 - percentile(base, 50), p99 - percentile(base, 99)
                    print(f"{target.name:<20} {p50:8.3f} {p99:8.3f} {added50:10.3f} {added99:10.3f}")

            tool = "wrk" if shutil.which("wrk") else "python client"
            print(f"\n## throughput, non-streaming, {args.connections} connections, {args.duration}s each ({tool})")
            rates = {}
            for target in targets:
                if tool == "wrk":
                    rates[target.name] = throughput_wrk(target, args.duration, args.connections, tmp)
                else:
                    rates[target.name] = asyncio.run(throughput_python(target, args.duration, args.connections))
                print(f"{target.name:<20} {rates[target.name]:10.1f} req/s")
            if "litellm-proxy" in rates:
                print(f"\nratio tokenmill / litellm-proxy throughput: {rates['tokenmill'] / rates['litellm-proxy']:.1f}x")
            rows = subprocess.run(["sqlite3", str(tmp / "tokenmill.db"), "select count(*) from usage_records"], capture_output=True, text=True)
            if rows.returncode == 0:
                print(f"tokenmill usage rows written during the run: {rows.stdout.strip()}")
        finally:
            for proc in reversed(procs):
                stop(proc)


if __name__ == "__main__":
    main()

"""Agent-trace replay through the real gateway: caching off versus on (issue 6, Figures).

The scripted 30-turn agent of bench/agent_trace.py talks to Tokenmill (`tokenmill serve` in its
own process: auth, ledger, budgets, caches as configured; SQLite) with the official `openai`
SDK; Tokenmill forwards to fake
providers that bill prompt caching like Anthropic (through litellm, `anthropic/...`) and like
OpenAI (fast path, `openai/...`). Each provider style runs the same trace twice:

- caching off: `cache: {enabled: false, prompt_cache_hints: false}` (no response caches, no
  cache_control breakpoints, no prompt_cache_key). OpenAI caches prefixes automatically, so for
  it a second baseline switches the provider's caching off too ("no caching anywhere").
- caching on: the defaults (exact + semantic response caches, provider prompt-cache hints).

Costs come from the gateway's ledger (sum of usage_records.cost_nanos) and from the per-call
`x-tokenmill-cost-usd` headers; the fakes' own invoices are printed beside them as a check.
Every answer of the cached run is compared with the uncached run's. Each gateway is warmed up
(under its own tenant) until the semantic cache's MiniLM is loaded, as in a gateway that has
been up for a while.

    python bench/agent_trace_replay.py [--turns 30] [--openai-models gpt-4o,gpt-4.1]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from agent_trace import answer_of, run_agent, think  # noqa: E402
from fake_priced_upstreams import CLAUDE_SONNET_4_5, GPT_4_1, GPT_4O, FakeAnthropicAPI, FakeOpenAIAPI, Ledger, Prices  # noqa: E402
from gateway_process import GatewayProcess  # noqa: E402

OFF = {"enabled": False, "prompt_cache_hints": False}
OPENAI_PRICES = {"gpt-4o": GPT_4O, "gpt-4.1": GPT_4_1}


@dataclass
class RunResult:
    label: str
    calls: int = 0
    kinds: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    cache_headers: list[str] = field(default_factory=list)
    header_cost: Decimal = Decimal(0)
    latencies_ms: list[float] = field(default_factory=list)
    ledger_cost_nanos: int = 0
    ledger_saved_nanos: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    completion_tokens: int = 0
    rows: int = 0
    invoice: Ledger = field(default_factory=Ledger)
    hinted: int = 0  # upstream requests that carried cache_control or prompt_cache_key
    seconds: float = 0.0

    @property
    def cost_usd(self) -> float:
        return self.ledger_cost_nanos / 1e9

    def hits(self, status: str, kind: str | None = None) -> tuple[int, int]:
        pairs = [(h, k) for h, k in zip(self.cache_headers, self.kinds, strict=True) if kind is None or k == kind]
        return sum(h == status for h, _ in pairs), len(pairs)


def replay(
    gw: GatewayProcess, fake: FakeAnthropicAPI | FakeOpenAIAPI, model: str, label: str, turns: int, provider_caching: bool = True
) -> RunResult:
    """One run of the trace under its own tenant (so nothing cached by another run can serve it)."""
    fake.reset(prompt_caching=provider_caching)
    tenant = f"trace-{model}-{label.replace(' ', '-')}"
    key, tenant_id = gw.new_key(tenant)
    client = gw.openai(key)
    result = RunResult(label)
    headers = {"x-tokenmill-run": f"run-{tenant}"}

    def send(request: dict[str, Any], kind: str) -> dict[str, Any]:
        started = time.perf_counter()
        raw = client.chat.completions.with_raw_response.create(**request, extra_headers=headers)
        result.latencies_ms.append((time.perf_counter() - started) * 1000)
        body = raw.parse().model_dump()
        result.kinds.append(kind)
        result.cache_headers.append(raw.headers.get("x-tokenmill-cache", "-"))
        result.header_cost += Decimal(raw.headers["x-tokenmill-cost-usd"])
        return body

    started = time.perf_counter()
    replies = run_agent(send, turns, model)
    result.seconds = time.perf_counter() - started
    result.calls = len(replies)
    result.answers = [answer_of(r) for r in replies]
    rows = gw.wait_rows(tenant_id, result.calls)
    bad = [r for r in rows if r.status_code != 200]
    if bad:
        raise RuntimeError(f"{label}: {len(bad)} calls failed, e.g. {bad[0].status_code} {bad[0].error_type}")
    result.rows = len(rows)
    result.ledger_cost_nanos = sum(r.cost_nanos for r in rows)
    result.ledger_saved_nanos = sum(r.saved_nanos for r in rows)
    result.prompt_tokens = sum(r.prompt_tokens for r in rows)
    result.cached_tokens = sum(r.cached_tokens for r in rows)
    result.cache_write_tokens = sum(r.cache_write_tokens for r in rows)
    result.completion_tokens = sum(r.completion_tokens for r in rows)
    result.invoice = copy.deepcopy(fake.ledger)  # a snapshot: later calls (a warm-up) must not add to it
    result.hinted = sum(1 for body in fake.requests if "prompt_cache_key" in body or _mentions_cache_control(body))
    return result


def _mentions_cache_control(value: Any) -> bool:
    if isinstance(value, dict):
        return "cache_control" in value or any(_mentions_cache_control(v) for v in value.values())
    return isinstance(value, list) and any(_mentions_cache_control(v) for v in value)


def model_list(anthropic: FakeAnthropicAPI, openai: FakeOpenAIAPI, openai_models: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "model_name": "claude",
            "litellm_params": {"model": "anthropic/claude-sonnet-4-5", "api_base": anthropic.base_url, "api_key": anthropic.api_key},
            "model_info": {"tier": "strong"},
        },
        *(
            {
                "model_name": name,
                "litellm_params": {"model": f"openai/{name}", "api_base": openai.base_url, "api_key": openai.api_key},
                "model_info": {"tier": "strong", "prompt_cache_key": True},  # the fake stands in for OpenAI's own API
            }
            for name in openai_models
        ),
    ]


WARM_UP_PAIRS = (  # (question, paraphrase) pairs the semantic cache serves once MiniLM is loaded
    ("How do I warm up the gateway?", "How can I warm up the gateway?"),
    ("How do I run the test suite?", "How can I run the test suite?"),
    ("Which Python version does the project require?", "What Python version does the project require?"),
    ("How do I install the project's dependencies?", "How can I install the project's dependencies?"),
)


def warm_up(gw: GatewayProcess, caching: bool) -> float:
    """Calls under their own tenant until a paraphrase is a semantic hit, so the semantic cache's
    MiniLM (loaded on the first store, ~3 s) is ready before the trace. Returns the seconds it took."""
    client = gw.openai(gw.new_key("warm-up")[0])
    started = time.perf_counter()

    def ask(question: str) -> str:
        raw = client.chat.completions.with_raw_response.create(
            model="claude", temperature=0, max_tokens=20, messages=[{"role": "user", "content": question}]
        )
        return raw.headers.get("x-tokenmill-cache", "-")

    for question, paraphrase in WARM_UP_PAIRS:
        ask(question)
        if not caching:
            break
        time.sleep(2.0)
        if ask(paraphrase) == "hit-semantic":
            break
    else:
        raise RuntimeError("the semantic cache served none of the warm-up paraphrases")
    return time.perf_counter() - started


def print_runs(title: str, runs: list[RunResult], prices: Prices) -> None:
    print(f"\n## {title}")
    print(
        f"   provider list prices per 1M tokens: input ${prices.input * 1e6:.3f}, cache read ${prices.cache_read * 1e6:.3f}, "
        f"cache write ${prices.cache_write * 1e6:.3f}, output ${prices.output * 1e6:.3f}"
    )
    print(
        f"{'run':<22} {'calls':>5} {'upstream':>8} {'prompt tok':>10} {'cached':>8} {'written':>8} {'compl.':>6} "
        f"{'ledger $':>9} {'headers $':>9} {'invoice $':>9} {'hints':>5} {'exact':>7} {'semantic':>8} {'p-cache':>7} {'med ms':>6}"
    )
    for r in runs:
        exact, calls = r.hits("hit-exact")
        semantic, docs = r.hits("hit-semantic", "docs")
        token_rate = r.cached_tokens / r.prompt_tokens if r.prompt_tokens else 0.0
        print(
            f"{r.label:<22} {r.calls:>5} {r.invoice.calls:>8} {r.prompt_tokens:>10} {r.cached_tokens:>8} {r.cache_write_tokens:>8} "
            f"{r.completion_tokens:>6} {r.cost_usd:>9.4f} {float(r.header_cost):>9.4f} {r.invoice.cost_usd:>9.4f} {r.hinted:>5} "
            f"{exact:>3}/{calls:<3} {semantic:>4}/{docs:<3} {token_rate:>7.1%} {statistics.median(r.latencies_ms):>6.1f}"
        )


def compare(on: RunResult, off: RunResult) -> None:
    differing = [(i, k) for i, (a, b, k) in enumerate(zip(on.answers, off.answers, on.kinds, strict=True)) if a != b]
    ratio = on.cost_usd / off.cost_usd
    print(
        f"   {on.label} vs {off.label}: cost ${on.cost_usd:.4f} vs ${off.cost_usd:.4f} -> {1 - ratio:.1%} lower "
        f"(on/off ratio {ratio:.3f}, {off.cost_usd / on.cost_usd:.2f}x cheaper); "
        f"answers identical: {len(on.answers) - len(differing)}/{len(on.answers)}" + (f"; DIFFERENT at {differing}" if differing else "")
    )


def hit_detail(r: RunResult) -> None:
    by_kind = Counter((k, h) for k, h in zip(r.kinds, r.cache_headers, strict=True))
    kinds = sorted({k for k, _ in by_kind})
    parts = [f"{k}: " + ", ".join(f"{h} {n}" for (kk, h), n in sorted(by_kind.items()) if kk == k) for k in kinds]
    print(f"   {r.label} cache header by call kind -> " + "; ".join(parts))
    upstream_prompt = r.invoice.prompt_tokens
    print(
        f"   {r.label} provider prompt cache: {r.invoice.cache_read}/{upstream_prompt} prompt tokens read from cache "
        f"({r.invoice.cache_read / max(upstream_prompt, 1):.1%}), {r.invoice.cache_write} written; "
        f"response-cache savings recorded on hit rows: ${r.ledger_saved_nanos / 1e9:.4f}"
    )


def latency_by_kind(runs: list[RunResult]) -> None:
    for r in runs:
        kinds = sorted(set(r.kinds))
        print(
            f"   {r.label}: median client latency by call kind (ms): "
            + ", ".join(
                f"{k} {statistics.median(ms for ms, kk in zip(r.latencies_ms, r.kinds, strict=True) if kk == k):.1f}" for k in kinds
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument(
        "--openai-models",
        default="gpt-4o,gpt-4.1",
        help=f"OpenAI-style models to replay, comma-separated, of {sorted(OPENAI_PRICES)} "
        "(the gateway bills their litellm prices: cached input 0.5x for gpt-4o, 0.25x for gpt-4.1)",
    )
    args = parser.parse_args()
    openai_models = [m for m in args.openai_models.split(",") if m]
    unknown = [m for m in openai_models if m not in OPENAI_PRICES]
    if unknown:
        parser.error(f"unknown OpenAI-style models {unknown}; choose from {sorted(OPENAI_PRICES)}")
    load_before = os.getloadavg()
    anthropic = FakeAnthropicAPI(think, {"claude-sonnet-4-5": CLAUDE_SONNET_4_5}).start()
    openai = FakeOpenAIAPI(think, OPENAI_PRICES).start()
    runs: dict[str, RunResult] = {}
    warm: dict[str, float] = {}
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="tm-trace-") as tmp:
            models = model_list(anthropic, openai, openai_models)
            for mode in ("off", "on"):
                gw = GatewayProcess.start(Path(tmp, mode), model_list=models, cache=OFF if mode == "off" else {})
                try:
                    warm[mode] = warm_up(gw, caching=mode == "on")
                    runs[f"anthropic {mode}"] = replay(gw, anthropic, "claude", f"caching {mode}", args.turns)
                    for name in openai_models:
                        runs[f"{name} {mode}"] = replay(gw, openai, name, f"caching {mode}", args.turns)
                        if mode == "off":
                            runs[f"{name} none"] = replay(gw, openai, name, "no caching anywhere", args.turns, provider_caching=False)
                finally:
                    gw.stop()
    finally:
        anthropic.stop()
        openai.stop()

    print(
        f"# agent-trace replay through the gateway: {args.turns} turns, {os.cpu_count()} CPUs, "
        f"load average {load_before[0]:.2f} before / {os.getloadavg()[0]:.2f} after, {time.perf_counter() - started:.0f} s in all"
    )
    print(
        "# caching off = cache.enabled false + cache.prompt_cache_hints false; caching on = defaults. "
        "upstream = calls the fake provider received, invoice = what it billed, hints = upstream requests carrying cache_control or "
        "prompt_cache_key, exact = hit-exact/all calls, semantic = hit-semantic/docs questions, p-cache = cached/prompt tokens in the ledger"
    )
    print(
        "# gateways run as `tokenmill serve` processes (SQLite); each run has its own tenant and run id (nothing cached by one run "
        f"serves another); before the trace each gateway was warmed up under its own tenant ({warm['off']:.1f} s off, {warm['on']:.1f} s on: "
        "the caching one until a paraphrase was a semantic hit, i.e. MiniLM loaded)"
    )
    print_runs(
        "Anthropic-style: model claude -> anthropic/claude-sonnet-4-5 (litellm) -> fake Messages API",
        [runs["anthropic off"], runs["anthropic on"]],
        CLAUDE_SONNET_4_5,
    )
    compare(runs["anthropic on"], runs["anthropic off"])
    hit_detail(runs["anthropic on"])
    latency_by_kind([runs["anthropic off"], runs["anthropic on"]])
    for name in openai_models:
        print_runs(
            f"OpenAI-style: model {name} -> openai/{name} (fast path) -> fake chat completions, automatic prefix caching",
            [runs[f"{name} none"], runs[f"{name} off"], runs[f"{name} on"]],
            OPENAI_PRICES[name],
        )
        compare(runs[f"{name} on"], runs[f"{name} off"])
        compare(runs[f"{name} on"], runs[f"{name} none"])
        hit_detail(runs[f"{name} on"])
        latency_by_kind([runs[f"{name} none"], runs[f"{name} off"], runs[f"{name} on"]])


if __name__ == "__main__":
    main()

"""Difficulty routing end to end through the real gateway (issue 5, Figures, last bullet).

An agent-like script (support chat, a tool-using coding agent, math word problems, JSON
extraction, one-off chat and code requests; each session an agent run with `x-tokenmill-run`)
talks to Tokenmill with the official `openai` SDK. Every call is sent four ways, back to back:

- `auto`: the router picks local, cheap or strong (route `auto`, tiers local/cheap/strong);
- direct: the same call with `model` set to the deployment `auto` chose (for the router's latency);
- always-strong: the same call with `model` set to the strong deployment (gpt-4o);
- `auto` without the run header: the same routing minus agent-run stickiness.

The fake provider (one OpenAI-compatible fake serving all three deployments, with OpenAI's
automatic prompt caching per model and prompt_cache_key, billed at each model's cached price)
answers from the conversation's content only, never from the model name, so the four variants
carry identical conversations and only the deployment differs. The response caches are off,
so no call is answered by Tokenmill itself. Costs and tiers come from the gateway's ledger;
the router's latency is the median paired difference auto - direct of the ledger's latency_ms
(server side) and of the client's wall time.

    python bench/routing_e2e.py [--strong-share 0.3] [--local-share 0.3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from fake_priced_upstreams import GPT_4O, GPT_4O_MINI, FakeOpenAIAPI, Prices  # noqa: E402
from gateway_process import GatewayProcess, wait_for  # noqa: E402
from routing_script import Session, Step, run_script, think  # noqa: E402

from routing import RouteDefinition, Target, get_router  # noqa: E402

LOCAL_PRICE = Prices(1e-9, 2e-8, 1e-9, 1e-9)  # the embedded default's price for the bundled local model
STRONG = "gpt-4o"
TIER_ORDER = ("local", "cheap", "strong")

# ---------------------------------------------------------------- sending every call four ways


@dataclass
class Call:
    session: str
    kind: str
    ids: dict[str, str] = field(default_factory=dict)  # variant -> request id
    client_ms: dict[str, float] = field(default_factory=dict)
    chosen: str = ""  # the deployment auto chose (public name)
    route_header: str = ""  # auto's x-tokenmill-route


class Variants:
    VARIANTS = ("auto", "auto-no-run", "direct", "strong")

    def __init__(self, gw: GatewayProcess, tag: str):
        made = {v: gw.new_key(f"routing-{tag}-{v}") for v in self.VARIANTS}
        self.tenants = {v: tenant_id for v, (_, tenant_id) in made.items()}
        self.clients = {v: gw.openai(secret) for v, (secret, _) in made.items()}
        self.calls: list[Call] = []

    def _send(self, variant: str, model: str, request: dict[str, Any], run: str | None) -> tuple[dict[str, Any], Any, float]:
        headers = {"x-tokenmill-run": f"{run}-{variant}"} if run else {}
        started = time.perf_counter()
        raw = self.clients[variant].chat.completions.with_raw_response.create(model=model, **request, extra_headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        return raw.parse().model_dump(), raw.headers, elapsed

    def send(self, request: dict[str, Any], session: Session, step: Step, run: str | None) -> dict[str, Any]:
        call = Call(session.name, step.kind)
        body, headers, call.client_ms["auto"] = self._send("auto", "auto", request, run)
        call.ids["auto"], call.chosen, call.route_header = (
            headers["x-request-id"],
            headers["x-tokenmill-model"],
            headers["x-tokenmill-route"],
        )
        for variant, model in (("direct", call.chosen), ("strong", STRONG), ("auto-no-run", "auto")):
            other, headers, call.client_ms[variant] = self._send(variant, model, request, None if variant == "auto-no-run" else run)
            call.ids[variant] = headers["x-request-id"]
            if other["choices"][0]["message"] != body["choices"][0]["message"]:
                raise RuntimeError(f"the {variant} variant got another answer: the fake must not depend on the model")
        self.calls.append(call)
        return body


# ---------------------------------------------------------------- figures


def model_list(fake: FakeOpenAIAPI) -> list[dict[str, Any]]:
    def deployment(name: str, provider: str, tier: str, **info: Any) -> dict[str, Any]:
        return {
            "model_name": name,
            "litellm_params": {"model": f"{provider}/{name}", "api_base": fake.base_url, "api_key": fake.api_key, "max_retries": 0},
            "model_info": {"tier": tier, **info},
        }

    return [
        deployment(
            "local-small",
            "tokenmill_engine",
            "local",
            supports_tools=False,
            input_cost_per_token=LOCAL_PRICE.input,
            output_cost_per_token=LOCAL_PRICE.output,
        ),
        # The fake stands in for OpenAI's own API, which takes prompt_cache_key.
        deployment("gpt-4o-mini", "openai", "cheap", prompt_cache_key=True),
        deployment(STRONG, "openai", "strong", prompt_cache_key=True),
    ]


def wait_rows(gw: GatewayProcess, sent: Variants) -> dict[str, Any]:
    wanted = {rid for call in sent.calls for rid in call.ids.values()}
    tenants = list(sent.tenants.values())

    def rows() -> dict[str, Any]:
        return {r.request_id: r for t in tenants for r in gw.usage_rows(tenant_id=t) if r.request_id in wanted}

    found = wait_for(rows, lambda got: len(got) == len(wanted), 30, f"{len(wanted)} usage rows")
    failed = [r for r in found.values() if r.status_code != 200]
    if failed:
        raise RuntimeError(f"{len(failed)} calls failed, e.g. {failed[0].status_code} {failed[0].error_type}")
    return found


def _mix(rows: list[Any]) -> str:
    tiers = Counter(r.tier for r in rows)
    return ", ".join(f"{t} {tiers[t]} ({tiers[t] / len(rows):.0%})" for t in TIER_ORDER)


def _reason(row: Any) -> str:
    return row.route_reason.removeprefix("route=auto;")


def header_thresholds(calls: list[Call]) -> dict[str, float]:
    """The thresholds the gateway reported in x-tokenmill-route, by the tier they decided."""
    out = {}
    for call in calls:
        parts = dict(part.split("=", 1) for part in call.route_header.split("; "))
        out[parts["tier"]] = float(parts["threshold"])
    return out


def report(sent: Variants, rows: dict[str, Any], load: tuple[float, float], seconds: float, args: argparse.Namespace) -> None:
    # The route's calibration as the gateway computes it (gateway/route_service.py), for what it expects.
    definition = RouteDefinition.calibrated(
        "auto", Target(strong_share=args.strong_share), get_router().model, local_share=args.local_share
    )
    expected = definition.expected
    calls = sent.calls
    seen = header_thresholds(calls)
    of = {v: [rows[c.ids[v]] for c in calls] for v in Variants.VARIANTS}
    auto, norun = of["auto"], of["auto-no-run"]
    local_t = "none" if definition.local_threshold is None else f"{definition.local_threshold:.3f}"
    print(
        f"# routing end to end through the gateway: {len(calls)} calls x {len(Variants.VARIANTS)} variants, {os.cpu_count()} CPUs, "
        f"load average {load[0]:.2f} before / {load[1]:.2f} after, {seconds:.0f} s in all"
    )
    print(
        f"# route auto: local-small (tokenmill_engine/ fake, ${LOCAL_PRICE.input * 1e6:.3f}/${LOCAL_PRICE.output * 1e6:.3f} per 1M in/out), "
        f"gpt-4o-mini (cheap), gpt-4o (strong) at litellm prices; strong_share {args.strong_share}, local_share {args.local_share} -> "
        f"strong threshold {definition.strong_threshold:.3f}, local threshold {local_t} "
        f"(headers said: {', '.join(f'{t} {v:.3f}' for t, v in sorted(seen.items()))})"
        + (
            f"; calibration expects strong share {expected.expected_strong_share:.2f}, quality kept {expected.expected_quality_kept:.3f}"
            if expected
            else ""
        )
    )
    print(
        "# response caches off (no call answered by Tokenmill); provider prompt caching on (OpenAI-style, per model and prompt_cache_key); "
        "costs and tiers from the ledger\n"
    )

    print(
        f"{'#':>2} {'session':<13} {'kind':<5} {'score':>6} {'tier':<6} {'reason (auto, run header sent)':<40} {'no-run':<6} "
        f"{'auto $':>9} {'no-run $':>9} {'strong $':>9}"
    )
    for i, call in enumerate(calls):
        a, n, s = rows[call.ids["auto"]], rows[call.ids["auto-no-run"]], rows[call.ids["strong"]]
        print(
            f"{i:>2} {call.session:<13} {call.kind:<5} {a.route_score:>6.3f} {a.tier:<6} {_reason(a):<40} {n.tier:<6} "
            f"{a.cost_nanos / 1e9:>9.6f} {n.cost_nanos / 1e9:>9.6f} {s.cost_nanos / 1e9:>9.6f}"
        )

    print(f"\n## tier mix, auto: {_mix(auto)}; auto without run header: {_mix(norun)}")
    for kind in sorted({c.kind for c in calls}):
        picked = [r for c, r in zip(calls, auto, strict=True) if c.kind == kind]
        print(f"   {kind:<6} ({len(picked):>2} calls) auto: {_mix(picked)}")
    print("## route reasons (auto): " + "; ".join(f"{reason} x{n}" for reason, n in Counter(_reason(r) for r in auto).most_common()))

    cost = {v: sum(r.cost_nanos for r in of[v]) for v in Variants.VARIANTS}
    strong = cost["strong"]
    print(
        f"## cost from the ledger: always-strong ${strong / 1e9:.6f}; auto ${cost['auto'] / 1e9:.6f} (ratio {cost['auto'] / strong:.3f}, "
        f"{1 - cost['auto'] / strong:.1%} lower); auto without run header ${cost['auto-no-run'] / 1e9:.6f} (ratio "
        f"{cost['auto-no-run'] / strong:.3f}, {1 - cost['auto-no-run'] / strong:.1%} lower); "
        f"identical conversations: {sum(r.prompt_tokens for r in auto)} prompt + {sum(r.completion_tokens for r in auto)} completion tokens per variant"
    )
    print(
        "   prompt tokens read from the provider's cache: "
        + ", ".join(f"{v} {sum(r.cached_tokens for r in of[v])}" for v in ("auto", "auto-no-run", "strong"))
    )
    for v in ("auto", "auto-no-run"):
        spend = Counter()
        for r in of[v]:
            spend[r.tier] += r.cost_nanos
        print(f"   {v} spend by tier: " + ", ".join(f"{t} ${spend[t] / 1e9:.6f}" for t in TIER_ORDER))

    med = statistics.median
    server = [rows[c.ids["auto"]].latency_ms - rows[c.ids["direct"]].latency_ms for c in calls]
    client = [c.client_ms["auto"] - c.client_ms["direct"] for c in calls]
    print(
        f"## router latency overhead per call (auto minus direct to the deployment auto chose, paired, n={len(calls)}): "
        f"ledger latency_ms median {med(server):+.2f} ms (auto median {med(r.latency_ms for r in auto):.2f}, "
        f"direct {med(r.latency_ms for r in of['direct']):.2f}); client wall time median {med(client):+.2f} ms "
        f"(auto {med(c.client_ms['auto'] for c in calls):.2f}, direct {med(c.client_ms['direct'] for c in calls):.2f})"
    )


def warm_up(gw: GatewayProcess) -> None:
    """Load the router (static embedder, weights) and open upstream connections before measuring."""
    client = gw.openai(gw.new_key("routing-warm-up")[0])
    for model in ("auto", "local-small", "gpt-4o-mini", STRONG, "auto"):
        client.chat.completions.create(model=model, max_tokens=20, messages=[{"role": "user", "content": "Warm up, please."}])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strong-share", type=float, default=0.3, help="the route's calibrated target share of strong calls")
    parser.add_argument("--local-share", type=float, default=0.3, help="share of calls the local tier may take")
    args = parser.parse_args()
    load_before = os.getloadavg()
    started = time.perf_counter()
    fake = FakeOpenAIAPI(think, {"local-small": LOCAL_PRICE, "gpt-4o-mini": GPT_4O_MINI, STRONG: GPT_4O}, prompt_caching=True).start()
    route = {
        "name": "auto",
        "strong_share": args.strong_share,
        "local_share": args.local_share,
        "models": ["local-small", "gpt-4o-mini", STRONG],
    }
    try:
        with tempfile.TemporaryDirectory(prefix="tm-routing-") as tmp:
            gw = GatewayProcess.start(
                Path(tmp),
                model_list=model_list(fake),
                routing={"routes": [route]},
                cache={"enabled": False},  # prompt-cache hints stay on (the default)
            )
            try:
                warm_up(gw)
                sent = Variants(gw, "bench")
                run_script(sent.send, "bench")
                rows = wait_rows(gw, sent)
                report(sent, rows, (load_before[0], os.getloadavg()[0]), time.perf_counter() - started, args)
                invoice, everything = fake.ledger, gw.usage_rows()
                print(
                    f"## check: ledger total for every call (all variants + warm-up) ${sum(r.cost_nanos for r in everything) / 1e9:.6f} over "
                    f"{len(everything)} rows; the fake provider's own invoice ${invoice.cost_usd:.6f} over {invoice.calls} calls "
                    f"{dict(sorted(invoice.by_model.items()))}"
                )
            finally:
                gw.stop()
    finally:
        fake.stop()


if __name__ == "__main__":
    main()

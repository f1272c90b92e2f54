"""A scripted 30-turn agent and fake upstreams that price prompt caching like Anthropic and OpenAI.

Library-free helpers for the agent-trace replay (issue 6): `run_agent(send)` drives the agent
through any `send(request) -> chat.completion body` (the gateway, later); `FakeUpstream` answers
deterministically and bills input tokens the way the providers do (cache reads, cache writes).
Run as a script, it replays the agent against the fakes with the cache library applied directly
(exact response cache + provider prompt-cache hints), caching off versus on:

    python bench/cache_agent_trace.py [--turns 30]
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# ---------------------------------------------------------------- the agent

SYSTEM_PROMPT = (
    "You are CodeFixer, an autonomous software agent. You work in a repository through tools. "
    "Rules: read before you edit; run the tests after each change; keep diffs minimal; explain "
    "each step in one sentence; never invent file contents; stop when the tests pass. "
) * 24  # about 1,500 tokens: a realistic agent system prompt
TOOLS = [
    {"type": "function", "function": {"name": name, "description": f"{desc} " * 30,
                                      "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}
    for name, desc in (("read_file", "Read a file of the repository and return its text."),
                       ("search_code", "Search the repository for a symbol and return matching lines."),
                       ("run_tests", "Run the test suite and return the failures."))
]
FILES = ("src/app.py", "src/db.py", "src/api.py", "tests/test_app.py", "README.md")


def tool_output(name: str, path: str) -> str:
    """What a tool returns: deterministic, ~2,000 characters, the same for the same call."""
    seed = hashlib.sha256(f"{name}:{path}".encode()).hexdigest()
    return f"[{name} {path}]\n" + "\n".join(f"line {i}: {seed[i % 40:i % 40 + 24]} value = {i * 7 % 13}" for i in range(60))


def run_agent(send: Callable[[dict[str, Any]], dict[str, Any]], turns: int = 30, model: str = "claude-sonnet-4-5") -> list[dict[str, Any]]:
    """Drive the agent: each turn one main call (growing context, tools) and one side call that
    summarises the latest tool output (temperature 0; the same output recurs, so does the call).
    Returns every reply body, in order."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM_PROMPT},
                                      {"role": "user", "content": "The test suite fails on main. Find and fix the bug."}]
    replies = []
    for _ in range(turns):
        reply = send({"model": model, "messages": list(messages), "tools": TOOLS, "temperature": 0, "max_tokens": 512})
        replies.append(reply)
        message = reply["choices"][0]["message"]
        messages.append({"role": "assistant", "content": message.get("content"), "tool_calls": message["tool_calls"]})
        call = message["tool_calls"][0]
        output = tool_output(call["function"]["name"], json.loads(call["function"]["arguments"])["path"])
        messages.append({"role": "tool", "tool_call_id": call["id"], "content": output})
        summary = send({"model": model, "temperature": 0, "max_tokens": 200, "messages": [
            {"role": "system", "content": "Summarise tool output for an agent's scratchpad in two sentences."},
            {"role": "user", "content": output}]})
        replies.append(summary)
    return replies


# ---------------------------------------------------------------- fake upstreams


@dataclass(frozen=True)
class Prices:
    """USD per token."""

    input: float
    output: float
    cache_read: float
    cache_write: float


ANTHROPIC_SONNET = Prices(3e-6, 15e-6, 0.30e-6, 3.75e-6)
OPENAI_GPT41 = Prices(2e-6, 8e-6, 0.50e-6, 2e-6)


def approx_tokens(text: str) -> int:
    return (len(text) + 3) // 4


def _blocks(request: dict[str, Any]) -> list[tuple[str, bool]]:
    """The prompt as provider cache blocks in prefix order (tools, system, messages), each with
    whether it carries a cache_control breakpoint."""
    out: list[tuple[str, bool]] = []
    for tool in request.get("tools") or []:
        out.append((json.dumps({k: v for k, v in tool.items() if k != "cache_control"}, sort_keys=True), "cache_control" in tool))
    for m in request["messages"]:
        content = m.get("content")
        parts = content if isinstance(content, list) else [{"type": "text", "text": content or ""}]
        for p in parts:
            out.append((m["role"] + ":" + str(p.get("text", "")), "cache_control" in p))
        if m.get("tool_calls"):
            out.append((json.dumps(m["tool_calls"], sort_keys=True), False))
    return out


@dataclass
class FakeUpstream:
    """Deterministic answers; input billed with the provider's prompt-cache rules.

    anthropic: prefixes up to each `cache_control` breakpoint (>= 1024 tokens) are written at the
    write price and read at the read price by later calls whose breakpoint finds them within 20
    blocks back. openai: automatic; prompts >= 1024 tokens read their longest earlier-seen prefix
    (in 128-token steps) at the cached price, per prompt_cache_key.
    """

    style: str
    prices: Prices
    prompt_caching: bool = True  # False: a provider without prompt caching (the no-caching baseline)
    calls: int = 0
    input_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    _seen: dict[str, set[str]] = field(default_factory=dict)

    def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        blocks = _blocks(request)
        cumulative, hashes, h, total = [], [], hashlib.sha256(), 0
        for text, _ in blocks:
            h.update(text.encode())
            total += approx_tokens(text)
            cumulative.append(total)
            hashes.append(h.hexdigest())
        read, write = self._cache(request, blocks, cumulative, hashes) if self.prompt_caching else (0, 0)
        body = self._answer(request, blocks)
        out_tokens = body["usage"]["completion_tokens"]
        body["usage"].update(prompt_tokens=total, total_tokens=total + out_tokens,
                             prompt_tokens_details={"cached_tokens": read, "cache_creation_tokens": write})
        cost = ((total - read - write) * self.prices.input + read * self.prices.cache_read
                + write * self.prices.cache_write + out_tokens * self.prices.output)
        self.calls += 1
        self.input_tokens += total
        self.cached_tokens += read
        self.cache_write_tokens += write
        self.output_tokens += out_tokens
        self.cost_usd += cost
        body["_cost_usd"] = cost  # the gateway would take this from its price table
        return body

    def _cache(self, request, blocks, cumulative, hashes) -> tuple[int, int]:
        seen = self._seen.setdefault(request.get("prompt_cache_key") or "", set())
        if self.style == "anthropic":
            breakpoints = [i for i, (_, bp) in enumerate(blocks) if bp and cumulative[i] >= 1024]
            read = 0
            for bp in breakpoints:
                for j in range(bp, max(-1, bp - 20), -1):
                    if hashes[j] in seen:
                        read = max(read, cumulative[j])
                        break
            write = max(0, cumulative[breakpoints[-1]] - read) if breakpoints else 0
            seen.update(hashes[i] for i in breakpoints)
            return read, write
        if self.style == "openai":
            read = max((cumulative[j] for j, hsh in enumerate(hashes) if hsh in seen), default=0)
            read = read // 128 * 128 if read >= 1024 else 0
            seen.update(hsh for hsh, c in zip(hashes, cumulative, strict=True) if c >= 1024)
            return read, 0
        raise ValueError(f"unknown upstream style {self.style!r}")

    def _answer(self, request: dict[str, Any], blocks: list[tuple[str, bool]]) -> dict[str, Any]:
        # The answer depends on the prompt's text only, never on cache hints.
        digest = hashlib.sha256(json.dumps([text for text, _ in blocks]).encode()).hexdigest()
        if request.get("tools"):
            step = sum(m["role"] == "tool" for m in request["messages"])
            name = TOOLS[step % 3]["function"]["name"]
            call = {"id": f"call_{digest[:8]}", "type": "function",
                    "function": {"name": name, "arguments": json.dumps({"path": FILES[(step * 2) % len(FILES)]})}}
            message = {"role": "assistant", "content": f"Step {step}: calling {name}.", "tool_calls": [call]}
            finish, out = "tool_calls", 40
        else:
            message = {"role": "assistant", "content": f"Summary {digest[:16]}: the output lists 60 values; nothing failed."}
            finish, out = "stop", 30
        return {"id": f"chatcmpl-{digest[:12]}", "object": "chat.completion", "created": 0, "model": request["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {"prompt_tokens": 0, "completion_tokens": out, "total_tokens": out}}


# ---------------------------------------------------------------- library-level replay


def replay(style: str, caching: bool, turns: int, provider_caching: bool = True) -> tuple[FakeUpstream, list[str], dict[str, int]]:
    from cache.canonical import CacheScope
    from cache.exact_memory import MemoryExactBackend
    from cache.policy import decide
    from cache.prompt_hints import add_anthropic_cache_breakpoints, with_prompt_cache_key
    from cache.response_cache import ResponseCache

    upstream = FakeUpstream(style, ANTHROPIC_SONNET if style == "anthropic" else OPENAI_GPT41, provider_caching)
    cache = ResponseCache(MemoryExactBackend())
    scope = CacheScope("bench-tenant", "agent-model")
    hits = {"exact": 0, "calls": 0}

    def send(request: dict[str, Any]) -> dict[str, Any]:
        hits["calls"] += 1
        if not caching:
            return upstream(request)
        lookup = cache.lookup(request, scope, decide(request))
        if lookup.response is not None:
            hits["exact"] += 1
            return lookup.response.reply_body()
        upstream_request = (add_anthropic_cache_breakpoints(request).request if style == "anthropic"
                            else with_prompt_cache_key(request, "bench-tenant", "run-1"))
        body = upstream(upstream_request)
        cache.store(lookup, body, body["_cost_usd"])
        return body

    replies = run_agent(send, turns)
    return upstream, [json.dumps(r["choices"], sort_keys=True) for r in replies], hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=30)
    args = parser.parse_args()
    for style in ("anthropic", "openai"):
        # OpenAI caches prefixes automatically, so "off" there still reads cache unless the
        # provider's caching is switched off too; both baselines are printed.
        baselines = [("caching off", replay(style, False, args.turns))]
        if style == "openai":
            baselines.append(("no caching anywhere", replay(style, False, args.turns, provider_caching=False)))
        on, answers_on, hits = replay(style, True, args.turns)
        print(f"{style}: {hits['calls']} calls; caching on ${on.cost_usd:.4f} ({on.calls} upstream calls, "
              f"{on.cached_tokens} cached + {on.cache_write_tokens} written of {on.input_tokens} input tokens); "
              f"exact hits {hits['exact']}/{hits['calls']}")
        for name, (off, answers_off, _) in baselines:
            print(f"  vs {name}: ${off.cost_usd:.4f} ({off.input_tokens} input tokens, {off.cached_tokens} cached): "
                  f"saving {1 - on.cost_usd / off.cost_usd:.1%}; answers identical: {answers_off == answers_on}")


if __name__ == "__main__":
    main()

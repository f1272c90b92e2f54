"""Router latency per call on CPU, embedding included: 50, 500 and 5,000-token prompts.

    python bench/router_latency.py [--calls 300]

One call = summarise the request (task part of the last user turn, conversation counts) +
embed the task text with the shared static embedder + features + score. Prompts longer than
2,000 characters are cut to their head and tail before features and embedding. Also timed in the
same run: the embedding alone (the share the cache would have paid anyway) and MiniLM at the
same text as a baseline. Tokens are counted with the MiniLM word-piece tokenizer. Read medians.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from local_engine.embedder import get_embedder
from local_engine.embedder_tokenizer import load_minilm_tokenizer
from routing.request import summarize_request
from routing.router import get_router

SENTENCES = [
    "The warehouse ships 240 parcels a day, and each truck carries at most 35 parcels.",
    "Refactor the billing module so that refunds are recorded as negative ledger rows.",
    "Our customers in Germany report that invoices show the wrong VAT rate after the update.",
    "If the queue is longer than 500 items, the worker should back off for twice the last delay.",
    "Summarise the attached meeting notes and list every decision with its owner.",
    "Alice must review the design before Bob merges it, unless Carol approves it first.",
]


def prompt_of_tokens(n: int, tok) -> str:
    text, i = "", 0
    while len(tok.encode(text, add_special_tokens=False).ids) < n:
        text += SENTENCES[i % len(SENTENCES)] + " "
        i += 1
    ids = tok.encode(text, add_special_tokens=False)
    return text[: ids.offsets[n - 1][1]] + " How many trucks are needed, and what should we change first?"


def timed(fn, calls: int) -> np.ndarray:
    for _ in range(10):
        fn()
    out = np.empty(calls)
    for i in range(calls):
        t0 = time.perf_counter()
        fn()
        out[i] = time.perf_counter() - t0
    return out * 1e3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args(argv)
    router = get_router()
    static = get_embedder(router.embedder_kind)
    minilm = get_embedder("minilm")
    tok = load_minilm_tokenizer(max_pieces=1_000_000)
    system = {"role": "system", "content": "You are a helpful operations assistant for a logistics company. " * 20}
    print(f"router embedder: {static.name}; {args.calls} calls per row (minilm baseline: 30)")
    print(f"{'tokens':>7} {'route p50':>10} {'route p99':>10} {'embed p50':>10} {'minilm p50':>11} {'minilm/route':>13}")
    for n in (50, 500, 5000):
        messages = [system, {"role": "user", "content": prompt_of_tokens(n, tok)}]
        tools = [{"type": "function", "function": {"name": "lookup_order", "parameters": {"type": "object"}}}]

        def route_call(messages=messages, tools=tools) -> float:
            summary = summarize_request(messages, tools=tools, tool_choice="auto")
            vec = static.embed([summary.task_text])[0]
            return router.score(summary, embedding=vec)

        summary = summarize_request(messages, tools=tools)
        route_ms = timed(route_call, args.calls)
        embed_ms = timed(lambda s=summary: static.embed([s.task_text]), args.calls)
        minilm_ms = timed(lambda s=summary: minilm.embed([s.task_text]), 30)
        print(
            f"{n:7d} {np.median(route_ms):10.3f} {np.percentile(route_ms, 99):10.3f} {np.median(embed_ms):10.3f} "
            f"{np.median(minilm_ms):11.1f} {np.median(minilm_ms) / np.median(route_ms):12.0f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

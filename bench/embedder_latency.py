"""Per-call latency of the shared embedder, one text per call, both kinds.

    python bench/embedder_latency.py [--calls 200] [--threads 2]

Prints p50/p99 per kind and length (word pieces incl. [CLS]/[SEP]) and the static/minilm ratio
measured in the same run. CPU timings on a shared machine are noisy: read medians.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from local_engine.embedder import get_embedder
from local_engine.embedder_tokenizer import load_minilm_tokenizer

BASE_TEXT = (
    "A farmer has 17 sheep and buys 3 times as many goats, then sells a quarter of all animals at the "
    "market on Tuesday. Write a short Python function that returns how many animals remain, explain each "
    "step of the arithmetic, and state any assumption you make about rounding when the count is not whole. "
)


def text_with_pieces(n: int) -> str:
    """A natural-looking text that tokenises to exactly n MiniLM pieces (counting [CLS] and [SEP])."""
    tok = load_minilm_tokenizer(max_pieces=100_000)
    enc = tok.encode(BASE_TEXT * (n // 40 + 2), add_special_tokens=False)
    start, end = enc.offsets[0][0], enc.offsets[n - 3][1]
    text = (BASE_TEXT * (n // 40 + 2))[start:end]
    assert len(tok.encode(text).ids) == n, len(tok.encode(text).ids)
    return text


def time_calls(fn, calls: int) -> np.ndarray:
    for _ in range(5):
        fn()
    out = np.empty(calls)
    for i in range(calls):
        t0 = time.perf_counter()
        fn()
        out[i] = time.perf_counter() - t0
    return out * 1e3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch threads {torch.get_num_threads()}, {args.calls} calls per cell (minilm: calls/4)")
    print(f"{'kind':8} {'pieces':>6} {'p50 ms':>9} {'p99 ms':>9}")
    medians: dict[tuple[str, int], float] = {}
    for pieces in (50, 256):
        text = text_with_pieces(pieces)
        for kind in ("static", "minilm"):
            emb = get_embedder(kind)
            calls = args.calls if kind == "static" else max(20, args.calls // 4)
            ms = time_calls(lambda emb=emb, text=text: emb.embed([text]), calls)
            medians[(kind, pieces)] = float(np.median(ms))
            print(f"{kind:8} {pieces:6d} {np.median(ms):9.3f} {np.percentile(ms, 99):9.3f}")
    for pieces in (50, 256):
        ratio = medians[("minilm", pieces)] / medians[("static", pieces)]
        print(f"minilm/static median ratio at {pieces} pieces: {ratio:.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

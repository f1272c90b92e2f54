"""Prompt-lookup (n-gram) speculation: propose the tokens that followed the latest earlier
occurrence of the sequence's last n tokens in its own context. No draft model."""

from __future__ import annotations

import numpy as np


def propose_ngram(token_ids: list[int], k: int, ngram_max: int = 3, ngram_min: int = 1, window: int = 4096) -> list[int]:
    """Up to k draft tokens continuing the longest (ngram_max..ngram_min) suffix match, latest match first."""
    if k <= 0 or len(token_ids) <= ngram_min:
        return []
    ctx = np.asarray(token_ids[-window:], dtype=np.int64)
    length = len(ctx)
    for n in range(min(ngram_max, length - 1), ngram_min - 1, -1):
        suffix = ctx[length - n :]
        # candidate starts 0..length-n-1 (exclude the suffix itself); need at least one token after
        windows = np.lib.stride_tricks.sliding_window_view(ctx[: length - 1], n)
        hits = np.flatnonzero((windows == suffix).all(axis=1))
        if hits.size:
            start = int(hits[-1]) + n
            return ctx[start : start + k].tolist()
    return []

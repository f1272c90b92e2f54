"""Token buckets for per-minute limits, and OpenAI's x-ratelimit-* headers.

A limit of N per minute is a bucket holding N that refills continuously at N/60 per second:
bursts up to N, N per minute sustained. A request takes 1 from the request bucket and its
estimated tokens (prompt + max output) from the token bucket; settlement refunds the part of
the estimate that was not used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

REQUESTS, TOKENS = "r", "t"


@dataclass(frozen=True)
class Bucket:
    id: str  # store key suffix, e.g. 'k:key_123:r'
    capacity: int
    kind: str  # REQUESTS | TOKENS

    @property
    def per_ms(self) -> float:
        return self.capacity / 60_000.0

    def as_arg(self) -> list:
        return [self.id, self.capacity, self.per_ms, self.kind]


def buckets_for(scope_id: str, rpm: int | None, tpm: int | None) -> list[Bucket]:
    out = []
    if rpm:
        out.append(Bucket(f"{scope_id}:r", rpm, REQUESTS))
    if tpm:
        out.append(Bucket(f"{scope_id}:t", tpm, TOKENS))
    return out


@dataclass(frozen=True)
class BucketState:
    """What a bucket looks like after an admission: for the response headers."""

    bucket: Bucket
    remaining: int
    reset_ms: int


def format_reset(ms: int) -> str:
    """OpenAI's style: '1s', '6m0s', '120ms'."""
    if ms < 1000:
        return f"{max(ms, 0)}ms"
    seconds = ms / 1000.0
    if seconds < 60:
        return f"{seconds:.3g}s"
    minutes, rest = divmod(int(math.ceil(seconds)), 60)
    return f"{minutes}m{rest}s"


def ratelimit_headers(states: list[BucketState]) -> dict[str, str]:
    """x-ratelimit-{limit,remaining,reset}-{requests,tokens} from the tightest bucket of each kind."""
    headers: dict[str, str] = {}
    for kind, name in ((REQUESTS, "requests"), (TOKENS, "tokens")):
        of_kind = [s for s in states if s.bucket.kind == kind]
        if not of_kind:
            continue
        tight = min(of_kind, key=lambda s: s.remaining / s.bucket.capacity)
        headers[f"x-ratelimit-limit-{name}"] = str(tight.bucket.capacity)
        headers[f"x-ratelimit-remaining-{name}"] = str(max(tight.remaining, 0))
        headers[f"x-ratelimit-reset-{name}"] = format_reset(tight.reset_ms)
    return headers

"""What a counter store does, and the values that pass in and out of it.

A store keeps, per budget counter (one budget in one period, see BudgetDef.counter_id):
spent and reserved amounts in nano-dollars and tokens; per request: its reservation (with an
expiry the owner keeps pushing forward) and a settled marker; per rate limit: a token bucket.
Every method is one atomic step. Two implementations share these semantics and one test
suite: RedisStore (one Lua script per step, shared by processes) and MemoryStore.

Epoch: a store that lost its state (Redis restarted, or a new process for the in-process
store) has no epoch. Admission then rebuilds the counters from the SQL ledger; settlements
that arrive meanwhile are parked as 'pending' and folded in when the rebuild finishes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from billing.ratelimit.buckets import Bucket, BucketState

NO_LIMIT = -1


@dataclass(frozen=True)
class Charge:
    """One budget counter a request is charged to, with that budget's walls."""

    counter_id: str
    limit_nanos: int = NO_LIMIT
    limit_tokens: int = NO_LIMIT
    clamp: bool = False  # may lower max_tokens instead of refusing
    soft_nanos: int = NO_LIMIT
    soft_tokens: int = NO_LIMIT


@dataclass
class AdmitRequest:
    request_id: str
    charges: list[Charge]
    prompt_nanos: int  # worst-case cost of the prompt, markup included, rounded up
    prompt_tokens: int  # prompt tokens reserved (the offline count plus a safety margin)
    out_nanos_per_token: float  # dearest output price, markup included
    out_tokens: int  # output tokens asked for (all choices together)
    out_step: int = 1  # choices (n): a clamped output is a multiple of this
    min_clamp_tokens: int = 16
    tpm_prompt_tokens: int = 0  # the plain prompt count, for token-per-minute limits
    buckets: list[Bucket] = field(default_factory=list)  # every one must have room
    alternatives: list[list[Bucket]] = field(default_factory=list)  # per candidate deployment: the first with room wins
    ttl_ms: int = 30_000
    # A hold (a reservation placed earlier, e.g. a batch's worst case) this request may draw on:
    # its remaining room counts as free for this request, and what the request reserves is
    # taken out of it in the same atomic step, so nobody else can take that room in between.
    draw_from: str = ""

    def reservation_nanos(self, out_tokens: int) -> int:
        """Worst case of a call allowed `out_tokens`: an upper bound of Price.cost_nanos."""
        return self.prompt_nanos + _ceil(out_tokens * self.out_nanos_per_token) + 1


def _ceil(x: float) -> int:
    i = int(x)
    return i + 1 if i < x else i


@dataclass
class Admitted:
    gen: str
    out_tokens: int  # == request.out_tokens unless clamped
    alternative: int  # index into request.alternatives, -1 when there were none
    reserved_nanos: int
    reserved_tokens: int
    min_left_nanos: int | None  # the tightest USD budget's headroom after this reservation
    buckets: list[BucketState] = field(default_factory=list)


@dataclass
class BudgetRefused:
    index: int  # into request.charges
    left_nanos: int  # limit - spent - reserved (meaningless when that charge has no USD limit)
    left_tokens: int


@dataclass
class RateLimited:
    bucket_id: str
    retry_ms: int  # -1: this request can never fit (it is larger than the bucket)
    remaining: int
    reset_ms: int


@dataclass
class NeedsEpoch:
    state: str  # '' (lost) or 'rebuilding:<gen>'


@dataclass
class NeedsInit:
    counter_ids: list[str]


AdmitResult = Admitted | BudgetRefused | RateLimited | NeedsEpoch | NeedsInit


@dataclass
class Settlement:
    request_id: str
    charges: list[Charge]
    nanos: int
    tokens: int
    token_buckets: list[Bucket] = field(default_factory=list)  # refunded the unused estimate
    tpm_estimate: int = 0
    marker_ttl_s: int = 3600


@dataclass
class Crossed:
    """A soft threshold crossed by this settlement (reported once per counter)."""

    index: int  # into settlement.charges
    spent_nanos: int
    spent_tokens: int


@dataclass
class SettleResult:
    status: str  # ok | duplicate | pending
    crossed: list[Crossed] = field(default_factory=list)


@dataclass(frozen=True)
class Held:
    """A reservation its owner still holds: kept alive, or re-created after a store loss (also
    while a rebuild runs, so that walls count every call in flight before admissions resume)."""

    request_id: str
    counter_ids: tuple[str, ...]
    nanos: int
    tokens: int


@dataclass
class CounterState:
    spent_nanos: int = 0
    spent_tokens: int = 0
    reserved_nanos: int = 0
    reserved_tokens: int = 0
    initialized: bool = False


@dataclass(frozen=True)
class CounterSum:
    """A counter's spend as the ledger tells it, for (re)initialisation."""

    counter_id: str
    nanos: int
    tokens: int
    expire_s: int = 0  # 0 = keep forever (period 'none')


@dataclass(frozen=True)
class PendingSettle:
    counter_ids: tuple[str, ...]
    nanos: int
    tokens: int


class CounterStore(Protocol):
    synchronous: bool  # True: settle_now() may be called from synchronous code

    async def admit(self, request: AdmitRequest) -> AdmitResult: ...
    async def settle(self, settlement: Settlement) -> SettleResult: ...
    async def heartbeat(self, held: list[Held], ttl_ms: int) -> tuple[str | None, int]: ...
    async def reap(self, limit: int = 1000) -> int: ...
    async def read(self, counter_ids: list[str]) -> dict[str, CounterState]: ...
    async def init_counters(self, sums: list[CounterSum]) -> bool: ...
    async def begin_rebuild(self, gen: str, timeout_s: int) -> str: ...
    async def pending(self) -> dict[str, PendingSettle]: ...
    async def finish_rebuild(self, gen: str, sums: list[CounterSum]) -> bool: ...
    async def abandon_rebuild(self, gen: str) -> None: ...  # give a claim back (the ledger could not be read)
    async def epoch(self) -> str | None: ...
    async def invalidate(self) -> None: ...
    async def open_reservations(self) -> int: ...
    async def ping(self, timeout_s: float = 1.0) -> bool: ...
    async def close(self) -> None: ...

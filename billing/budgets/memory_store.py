"""The in-process counter store: the embedded default, with RedisStore's semantics step for step.

Each method body runs under one lock, so a step is atomic against the event loop and against
the Celery worker thread that reaps. Settlement is synchronous (`settle_now`), so a cancelled
stream's `finally` can settle without scheduling anything.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from billing.budgets.store import (
    AdmitRequest,
    AdmitResult,
    Admitted,
    BudgetRefused,
    CounterState,
    CounterSum,
    Crossed,
    Held,
    NeedsEpoch,
    NeedsInit,
    PendingSettle,
    RateLimited,
    Settlement,
    SettleResult,
)
from billing.ratelimit.buckets import TOKENS, Bucket, BucketState


@dataclass
class _Counter:
    sn: int = 0
    st: int = 0
    rn: int = 0
    rt: int = 0
    init: bool = False
    alerted: bool = False
    expires_at: float | None = None


@dataclass
class _Reservation:
    counter_ids: tuple[str, ...]
    nanos: int
    tokens: int
    expires_ms: float
    hold: str | None = None  # the hold this reservation drew on, and how much it took
    hold_nanos: int = 0
    hold_tokens: int = 0


def wall_ms() -> float:
    return time.time() * 1000.0


class MemoryStore:
    synchronous = True

    def __init__(self, clock_ms: Callable[[], float] = wall_ms):
        self._now = clock_ms
        self._lock = threading.Lock()
        self._clear()

    def _clear(self) -> None:
        self._epoch: str | None = None
        self._counters: dict[str, _Counter] = {}
        self._reservations: dict[str, _Reservation] = {}
        self._markers: dict[str, float] = {}  # request id -> expiry (ms)
        self._pending: dict[str, PendingSettle] = {}
        self._buckets: dict[str, tuple[float, float]] = {}  # id -> (level, at ms)

    # -- helpers -----------------------------------------------------------------------

    def _ready_gen(self) -> str | None:
        if self._epoch and self._epoch.startswith("ready:"):
            return self._epoch[6:]
        return None

    def _counter(self, counter_id: str) -> _Counter:
        c = self._counters.get(counter_id)
        if c is None or (c.expires_at is not None and c.expires_at <= time.time()):
            c = self._counters[counter_id] = _Counter()
        return c

    def _level(self, b: Bucket, now: float) -> float:
        state = self._buckets.get(b.id)
        if state is None:
            return float(b.capacity)
        level, at = state
        return min(float(b.capacity), level + max(0.0, now - at) * b.per_ms)

    # -- steps ---------------------------------------------------------------------------

    async def admit(self, request: AdmitRequest) -> AdmitResult:
        with self._lock:
            return self._admit(request)

    def _admit(self, r: AdmitRequest) -> AdmitResult:
        gen = self._ready_gen()
        if gen is None:
            return NeedsEpoch(self._epoch or "")
        states = [self._counters.get(c.counter_id) for c in r.charges]
        need = [c.counter_id for c, s in zip(r.charges, states, strict=True) if s is None or not s.init]
        if need:
            return NeedsInit(need)
        hold = self._reservations.get(r.draw_from) if r.draw_from else None
        # What each charge may count as reserved: its hold's remaining room is free for this request.
        if hold is None:
            held_n = held_t = [0] * len(r.charges)
        else:
            held_n = [hold.nanos if c.counter_id in hold.counter_ids else 0 for c in r.charges]
            held_t = [hold.tokens if c.counter_id in hold.counter_ids else 0 for c in r.charges]
        out = r.out_tokens
        best, fail_any, fail_refuse = out, -1, -1
        for i, (c, s) in enumerate(zip(r.charges, states, strict=True)):
            k = out
            if c.limit_nanos >= 0:
                left = c.limit_nanos - s.sn - s.rn + held_n[i]
                if r.out_nanos_per_token > 0:
                    k = min(k, math.floor((left - r.prompt_nanos - 1) / r.out_nanos_per_token))
                elif left < r.prompt_nanos + 1:
                    k = -1
            if c.limit_tokens >= 0:
                k = min(k, c.limit_tokens - s.st - s.rt + held_t[i] - r.prompt_tokens)
            if k < out:
                fail_any = i if fail_any < 0 else fail_any
                if not c.clamp and fail_refuse < 0:
                    fail_refuse = i
            best = min(best, k)
        if best < out:
            clamped = (best // r.out_step) * r.out_step
            if fail_refuse >= 0 or clamped < r.min_clamp_tokens or clamped <= 0:
                f = fail_refuse if fail_refuse >= 0 else fail_any
                c, s = r.charges[f], states[f]
                return BudgetRefused(f, c.limit_nanos - s.sn - s.rn + held_n[f], c.limit_tokens - s.st - s.rt + held_t[f])
            out = clamped
        res_n, res_t = r.reservation_nanos(out), r.prompt_tokens + out

        now = self._now()
        tpm = r.tpm_prompt_tokens + out
        taken: list[tuple[Bucket, float, int]] = []
        for b in r.buckets:
            level, cost = self._level(b, now), (tpm if b.kind == TOKENS else 1)
            if level < cost:
                return self._limited(b, level, cost)
            taken.append((b, level, cost))
        alternative, first_fail = -1, None
        for ai, group in enumerate(r.alternatives):
            trial = []
            for b in group:
                level, cost = self._level(b, now), (tpm if b.kind == TOKENS else 1)
                if level < cost:
                    first_fail = first_fail or self._limited(b, level, cost)
                    trial = None
                    break
                trial.append((b, level, cost))
            if trial is not None:
                alternative = ai
                taken.extend(trial)
                break
        if r.alternatives and alternative < 0:
            return first_fail

        bucket_states = []
        for b, level, cost in taken:
            left = level - cost
            self._buckets[b.id] = (left, now)
            bucket_states.append(BucketState(b, math.floor(left), math.ceil((b.capacity - left) / b.per_ms)))
        take_n = take_t = 0
        if hold is not None and r.charges:
            take_n, take_t = min(res_n, hold.nanos), min(res_t, hold.tokens)
            hold.nanos -= take_n
            hold.tokens -= take_t
            for cid in hold.counter_ids:
                held = self._counter(cid)
                held.rn -= take_n
                held.rt -= take_t
        min_left = None
        for c, s in zip(r.charges, states, strict=True):
            s.rn += res_n
            s.rt += res_t
            if c.limit_nanos >= 0:
                left = c.limit_nanos - s.sn - s.rn
                min_left = left if min_left is None else min(min_left, left)
        if r.charges:
            self._reservations[r.request_id] = _Reservation(
                tuple(c.counter_id for c in r.charges), res_n, res_t, now + r.ttl_ms, r.draw_from if take_n or take_t else None, take_n, take_t
            )
        return Admitted(gen, out, alternative, res_n, res_t, min_left, bucket_states)

    @staticmethod
    def _limited(b: Bucket, level: float, cost: int) -> RateLimited:
        retry = math.ceil((cost - level) / b.per_ms) if cost <= b.capacity else -1
        return RateLimited(b.id, retry, math.floor(level), math.ceil((b.capacity - level) / b.per_ms))

    def _release(self, request_id: str) -> None:
        res = self._reservations.pop(request_id, None)
        if res is None:
            return
        for cid in res.counter_ids:
            c = self._counter(cid)
            c.rn = max(0, c.rn - res.nanos)  # a counter lost on its own must not turn into credit
            c.rt = max(0, c.rt - res.tokens)

    def _return_to_hold(self, drawn: _Reservation) -> None:
        """A call that spent nothing (refused upstream, to be retried) gives its draw back to its
        hold, so that a retry does not take the room of the lines after it."""
        hold = self._reservations.get(drawn.hold or "")
        if hold is None:
            return
        hold.nanos += drawn.hold_nanos
        hold.tokens += drawn.hold_tokens
        for cid in hold.counter_ids:
            c = self._counter(cid)
            c.rn += drawn.hold_nanos
            c.rt += drawn.hold_tokens

    async def settle(self, settlement: Settlement) -> SettleResult:
        return self.settle_now(settlement)

    def settle_now(self, s: Settlement) -> SettleResult:
        with self._lock:
            now = self._now()
            if self._markers.get(s.request_id, 0) > now:
                return SettleResult("duplicate")
            self._markers[s.request_id] = now + s.marker_ttl_s * 1000
            drawn = self._reservations.get(s.request_id)
            self._release(s.request_id)
            if drawn is not None and drawn.hold is not None and not s.nanos and not s.tokens:
                self._return_to_hold(drawn)
            refund = s.tpm_estimate - s.tokens
            if refund > 0:
                for b in s.token_buckets:
                    if b.id in self._buckets:
                        self._buckets[b.id] = (min(float(b.capacity), self._level(b, now) + refund), now)
            if self._ready_gen() is None:
                if s.nanos or s.tokens:
                    self._pending[s.request_id] = PendingSettle(tuple(c.counter_id for c in s.charges), s.nanos, s.tokens)
                return SettleResult("pending")
            crossed = []
            for i, ch in enumerate(s.charges):
                c = self._counter(ch.counter_id)
                c.sn += s.nanos
                c.st += s.tokens
                over = (ch.soft_nanos >= 0 and c.sn >= ch.soft_nanos) or (ch.soft_tokens >= 0 and c.st >= ch.soft_tokens)
                if over and not c.alerted:
                    c.alerted = True
                    crossed.append(Crossed(i, c.sn, c.st))
            return SettleResult("ok", crossed)

    async def heartbeat(self, held: list[Held], ttl_ms: int) -> tuple[str | None, int]:
        with self._lock:
            gen, now, recreated = self._ready_gen(), self._now(), 0
            for h in held:
                res = self._reservations.get(h.request_id)
                if res is not None:
                    res.expires_ms = now + ttl_ms
                elif self._markers.get(h.request_id, 0) <= now:
                    for cid in h.counter_ids:
                        c = self._counter(cid)
                        c.rn += h.nanos
                        c.rt += h.tokens
                    self._reservations[h.request_id] = _Reservation(h.counter_ids, h.nanos, h.tokens, now + ttl_ms)
                    recreated += 1
            return gen, recreated

    async def reap(self, limit: int = 1000) -> int:
        with self._lock:
            now = self._now()
            expired = [rid for rid, res in self._reservations.items() if res.expires_ms <= now][:limit]
            for rid in expired:
                self._release(rid)
            for rid in [rid for rid, at in self._markers.items() if at <= now]:
                del self._markers[rid]
            wall = time.time()
            for cid in [cid for cid, c in self._counters.items() if c.expires_at is not None and c.expires_at <= wall and not c.rn]:
                del self._counters[cid]
            return len(expired)

    async def read(self, counter_ids: list[str]) -> dict[str, CounterState]:
        with self._lock:
            out = {}
            for cid in counter_ids:
                c = self._counters.get(cid)
                out[cid] = CounterState(c.sn, c.st, c.rn, c.rt, c.init) if c else CounterState()
            return out

    async def init_counters(self, sums: list[CounterSum]) -> bool:
        with self._lock:
            if self._ready_gen() is None:
                return False
            for s in sums:
                c = self._counter(s.counter_id)
                if not c.init:
                    c.sn, c.st, c.init = s.nanos, s.tokens, True
                    c.expires_at = time.time() + s.expire_s if s.expire_s > 0 else None
            return True

    async def begin_rebuild(self, gen: str, timeout_s: int) -> str:
        with self._lock:
            if self._epoch is not None:
                return self._epoch
            self._epoch = f"rebuilding:{gen}"
            return "mine"

    async def pending(self) -> dict[str, PendingSettle]:
        with self._lock:
            return dict(self._pending)

    async def abandon_rebuild(self, gen: str) -> None:
        with self._lock:
            if self._epoch == f"rebuilding:{gen}":
                self._epoch = None

    async def finish_rebuild(self, gen: str, sums: list[CounterSum]) -> bool:
        with self._lock:
            if self._epoch != f"rebuilding:{gen}":
                return False
            totals = {s.counter_id: [s.nanos, s.tokens, s.expire_s] for s in sums}
            for p in self._pending.values():
                for cid in p.counter_ids:
                    t = totals.setdefault(cid, [0, 0, 0])
                    t[0] += p.nanos
                    t[1] += p.tokens
            for cid, (nanos, tokens, expire_s) in totals.items():
                c = self._counter(cid)
                c.sn, c.st, c.init = nanos, tokens, True
                c.expires_at = time.time() + expire_s if expire_s > 0 else None
            self._pending.clear()
            self._epoch = f"ready:{gen}"
            return True

    async def epoch(self) -> str | None:
        return self._epoch

    async def invalidate(self) -> None:
        with self._lock:
            self._epoch = None

    async def open_reservations(self) -> int:
        return len(self._reservations)

    def lose_everything(self) -> None:
        """What a crash of the store looks like (tests: the in-process twin of a Redis restart)."""
        with self._lock:
            self._clear()

    async def ping(self, timeout_s: float = 1.0) -> bool:
        return True

    async def close(self) -> None:
        return None

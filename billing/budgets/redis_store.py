"""The Redis counter store: each step is one Lua script, so every gateway process (and
machine) pointed at the same Redis shares the same walls."""

from __future__ import annotations

import asyncio
import hashlib

import orjson
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError

from billing.budgets import redis_scripts as lua
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
from billing.ratelimit.buckets import Bucket, BucketState


class _Script:
    def __init__(self, source: str):
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    async def __call__(self, store: RedisStore, *args: object):  # noqa: ANN204 - a Redis reply
        async def run():  # noqa: ANN202
            try:
                return await store.client.execute_command("EVALSHA", self.sha, 0, *args)
            except NoScriptError:
                return await store.client.execute_command("EVAL", self.source, 0, *args)

        async with store._slots:
            return await _once_more_if_dropped(run)


async def _once_more_if_dropped(run):  # noqa: ANN001, ANN202 - a Redis call and its reply
    """A pooled connection Redis dropped (a restart, a failover, a network blip) fails the first
    command sent on it, and redis-py disconnects it: that command is sent once more, on a fresh
    connection, instead of failing the call. Budget scripts are keyed by request id, so a repeat of
    one that did run only holds a reservation longer (the reaper frees it), never spends twice."""
    try:
        return await run()
    except RedisConnectionError:
        return await run()


_ADMIT, _SETTLE, _HEARTBEAT, _REAP = _Script(lua.ADMIT), _Script(lua.SETTLE), _Script(lua.HEARTBEAT), _Script(lua.REAP)
_INIT, _BEGIN, _FINISH = _Script(lua.INIT), _Script(lua.BEGIN_REBUILD), _Script(lua.FINISH_REBUILD)
_ABANDON = _Script(lua.ABANDON_REBUILD)


def _fields(values: list[object]) -> str:
    """The scripts' arguments as one string: ids never hold the unit separator (see BudgetDef)."""
    return "\x1f".join(map(str, values))


def _flat_buckets(args: list[object], buckets: list[Bucket]) -> None:
    args.append(len(buckets))
    for b in buckets:
        args += (b.id, b.capacity, b.per_ms, b.kind)


class RedisStore:
    synchronous = False

    def __init__(self, client: aioredis.Redis, namespace: str = "tokenmill:", max_concurrent: int = 64):
        self.client = client
        self.ns = namespace
        # A burst of calls waits here for a pooled connection instead of failing with 'Too many
        # connections' (cheaper than redis-py's BlockingConnectionPool on the common path).
        self._slots = asyncio.Semaphore(max_concurrent)

    @classmethod
    def from_url(cls, url: str, namespace: str = "tokenmill:", max_connections: int = 64) -> RedisStore:
        client = aioredis.Redis.from_url(url, decode_responses=True, health_check_interval=30, max_connections=max_connections)
        return cls(client, namespace, max_connections)

    async def _command(self, *args: object):  # noqa: ANN202 - a Redis reply
        async with self._slots:
            return await _once_more_if_dropped(lambda: self.client.execute_command(*args))

    async def admit(self, request: AdmitRequest) -> AdmitResult:
        args: list[object] = [
            self.ns, request.request_id, request.prompt_nanos, request.prompt_tokens, request.out_nanos_per_token, request.out_tokens,
            request.out_step, request.min_clamp_tokens, request.tpm_prompt_tokens, request.ttl_ms, len(request.charges),
        ]
        for c in request.charges:
            args += (c.counter_id, c.limit_nanos, c.limit_tokens, 1 if c.clamp else 0)
        _flat_buckets(args, request.buckets)
        args.append(len(request.alternatives))
        for group in request.alternatives:
            _flat_buckets(args, group)
        if request.draw_from:
            args.append(request.draw_from)
        r = await _ADMIT(self, self.ns, _fields(args[1:]))
        kind = r[0]
        if kind == "OK":
            by_id = {b.id: b for b in request.buckets}
            for group in request.alternatives:
                by_id.update({b.id: b for b in group})
            states = [BucketState(by_id[r[j]], int(r[j + 1]), int(r[j + 2])) for j in range(7, len(r), 3)]
            return Admitted(r[1], int(r[2]), int(r[3]), int(r[4]), int(r[5]), int(r[6]) if r[6] != "" else None, states)
        if kind == "BUDGET":
            return BudgetRefused(int(r[1]), int(r[2]), int(r[3]))
        if kind == "RATE":
            return RateLimited(r[1], int(r[2]), int(r[3]), int(r[4]))
        if kind == "INIT":
            return NeedsInit(list(r[1:]))
        return NeedsEpoch(r[1])

    async def settle(self, s: Settlement) -> SettleResult:
        args: list[object] = [self.ns, s.request_id, s.nanos, s.tokens, s.tpm_estimate, s.marker_ttl_s, len(s.charges)]
        for c in s.charges:
            args += (c.counter_id, c.soft_nanos, c.soft_tokens)
        args.append(len(s.token_buckets))
        for b in s.token_buckets:
            args += (b.id, b.capacity, b.per_ms)
        r = await _SETTLE(self, self.ns, _fields(args[1:]))
        if r[0] == "DUP":
            return SettleResult("duplicate")
        if r[0] == "PENDING":
            return SettleResult("pending")
        return SettleResult("ok", [Crossed(int(r[j]), int(r[j + 1]), int(r[j + 2])) for j in range(1, len(r), 3)])

    async def heartbeat(self, held: list[Held], ttl_ms: int) -> tuple[str | None, int]:
        payload = orjson.dumps({"ttl": ttl_ms, "h": [[h.request_id, h.nanos, h.tokens, list(h.counter_ids)] for h in held]})
        gen, recreated = await _HEARTBEAT(self, self.ns, payload)
        return gen or None, int(recreated)

    async def reap(self, limit: int = 1000) -> int:
        return int(await _REAP(self, self.ns, limit))

    async def read(self, counter_ids: list[str]) -> dict[str, CounterState]:
        if not counter_ids:
            return {}
        async with self._slots, self.client.pipeline(transaction=False) as pipe:
            for cid in counter_ids:
                pipe.hmget(self.ns + "c:" + cid, "sn", "st", "rn", "rt", "init")
            rows = await pipe.execute()
        return {
            cid: CounterState(int(sn or 0), int(st or 0), int(rn or 0), int(rt or 0), init == "1")
            for cid, (sn, st, rn, rt, init) in zip(counter_ids, rows, strict=True)
        }

    async def init_counters(self, sums: list[CounterSum]) -> bool:
        payload = orjson.dumps([[s.counter_id, s.nanos, s.tokens, s.expire_s] for s in sums])
        return bool(await _INIT(self, self.ns, payload))

    async def begin_rebuild(self, gen: str, timeout_s: int) -> str:
        return await _BEGIN(self, self.ns, gen, timeout_s)

    async def pending(self) -> dict[str, PendingSettle]:
        raw = await self._command("HGETALL", self.ns + "pending")
        out = {}
        for rid, value in (raw or {}).items():
            p = orjson.loads(value)
            out[rid] = PendingSettle(tuple(p["k"]) if isinstance(p["k"], list) else (), int(p["n"]), int(p["t"]))
        return out

    async def finish_rebuild(self, gen: str, sums: list[CounterSum]) -> bool:
        payload = orjson.dumps([[s.counter_id, s.nanos, s.tokens, s.expire_s] for s in sums])
        return bool(await _FINISH(self, self.ns, gen, payload))

    async def abandon_rebuild(self, gen: str) -> None:
        await _ABANDON(self, self.ns, gen)

    async def epoch(self) -> str | None:
        return await self._command("GET", self.ns + "epoch")

    async def invalidate(self) -> None:
        await self._command("DEL", self.ns + "epoch")

    async def open_reservations(self) -> int:
        return int(await self._command("ZCARD", self.ns + "rx"))

    async def ping(self, timeout_s: float = 1.0) -> bool:
        """Does Redis answer within `timeout_s`? (readiness: no counters, no admission)"""
        try:
            return bool(await asyncio.wait_for(self.client.ping(), timeout_s))
        except (RedisError, OSError, TimeoutError):
            return False

    async def close(self) -> None:
        await self.client.aclose(close_connection_pool=True)

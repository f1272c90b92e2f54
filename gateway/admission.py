"""Admission: rate limits and budget reservations before a call goes upstream; settlement after.

`admit` reserves the call's worst-case cost on every budget in scope, and takes its place in
every rate limit, in one atomic store step; `settle` replaces the reservation with the actual
cost. A background loop keeps this process's reservations alive (so those of a crashed
process expire), reaps expired ones, and re-reads the budget and rate-limit definitions.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge
from redis.exceptions import RedisError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from billing.budgets import recovery
from billing.budgets.alerts import record_alert
from billing.budgets.definitions import BudgetBook, BudgetDef, load_definitions
from billing.budgets.ledger_sums import CounterSpec, spec_for
from billing.budgets.memory_store import MemoryStore
from billing.budgets.redis_store import RedisStore
from billing.budgets.sizing import OutputBound, Rates, output_bound, output_sequences, reserved_prompt_tokens, set_output_bound
from billing.budgets.store import (
    NO_LIMIT,
    AdmitRequest,
    Admitted,
    BudgetRefused,
    Charge,
    CounterStore,
    NeedsEpoch,
    NeedsInit,
    RateLimited,
    Settlement,
    SettleResult,
)
from billing.budgets.ticket import Ticket
from billing.money import format_usd
from billing.periods import PeriodError, WindowCache
from billing.prices import Price
from billing.ratelimit.buckets import TOKENS, Bucket, buckets_for, format_reset, ratelimit_headers
from billing.ratelimit.rules import RuleBook, load_rules
from billing.tokens import count_request_tokens
from billing.usage import TokenUsage
from gateway.auth import Principal
from gateway.context import RequestContext
from gateway.errors import APIError
from gateway.settings import BillingSettings, Deployment, Settings

log = logging.getLogger(__name__)

REFUSED = Counter("tokenmill_budget_refusals_total", "Calls refused because a budget could not cover them", ["tenant"])
CLAMPED = Counter("tokenmill_budget_clamps_total", "Calls whose max_tokens a budget lowered", ["tenant"])
RATE_LIMITED = Counter("tokenmill_rate_limited_total", "Calls refused by a rate limit", ["scope"])
ALERTS = Counter("tokenmill_budget_alerts_total", "Soft budget thresholds crossed (once per budget and period)", ["tenant", "budget"])
REBUILDS = Counter("tokenmill_budget_rebuilds_total", "Budget counters rebuilt from the ledger")
REAPED = Counter("tokenmill_reservations_reaped_total", "Expired reservations released by the reaper")
UNSETTLED = Gauge("tokenmill_budget_unsettled", "Settlements waiting for the budget store to come back", multiprocess_mode="livesum")

CLAMP_HEADER = "x-tokenmill-max-tokens-clamped"
REMAINING_HEADER = "x-tokenmill-budget-remaining-usd"
_SCOPES = {"k": "key", "t": "tenant", "dep": "deployment"}
_ATTEMPTS = 6
EPOCH_WATCH_SECONDS = 0.25


def store_for(settings: Settings) -> CounterStore:
    if settings.redis_url:
        return RedisStore.from_url(settings.redis_url, settings.billing.redis_namespace)
    if settings.workers > 1:
        log.warning("without TOKENMILL_REDIS_URL each of the %d worker processes keeps its own budget and rate-limit counters: "
                    "walls are per process; set a Redis URL to share them", settings.workers)
    return MemoryStore()


class Admission:
    def __init__(self, store: CounterStore, engine: Engine, cfg: BillingSettings, deployments: list[Deployment]):
        self.store = store
        self.engine = engine
        self.cfg = cfg
        self.book = BudgetBook()
        self.rules = RuleBook()
        self._windows = WindowCache()
        self._deployment_buckets = {d.id: buckets_for(f"dep:{d.id}", d.litellm_params.rpm, d.litellm_params.tpm) for d in deployments}
        self._open: dict[str, Ticket] = {}
        # Settlements the store would not take (Redis unreachable for longer than the retries):
        # tried again on every upkeep tick. Each is keyed by request id in the store, so a late one
        # adds its cost once; dropped, the counter would lag the ledger and let the budget overspend.
        self._unsettled: dict[str, tuple[Ticket, Settlement]] = {}
        self._charge_cache: dict[tuple, tuple[Charge, CounterSpec]] = {}
        self._bad_zones: set[str] = set()
        self._pricing_cache: dict[tuple, tuple[Rates, list[int | None], tuple]] = {}
        self._tasks: set[asyncio.Task] = set()
        self._gen: str | None = None
        self._rebuild_lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._maintainer: asyncio.Task | None = None
        # Awaited before counters are read from the ledger: this process's queued usage rows
        # must be in it first (the gateway sets it to its usage recorder's flush).
        self.ledger_barrier: Callable[[], Awaitable[None]] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine, deployments: list[Deployment]) -> Admission:
        return cls(store_for(settings), engine, settings.billing, deployments)

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self.reload()
        if self.store.synchronous:
            await self.rebuild()  # a new process: its in-process counters start from the ledger
        self._maintainer = asyncio.create_task(self._maintain())

    async def reload(self) -> None:
        budgets, rules = await asyncio.to_thread(lambda: (load_definitions(self.engine), load_rules(self.engine)))
        self.book.replace(budgets)
        self.rules.replace(rules)
        self._charge_cache.clear()  # keyed by the identity of the BudgetDefs just replaced

    async def close(self) -> None:
        if self._maintainer is not None:
            self._maintainer.cancel()
            await asyncio.gather(self._maintainer, return_exceptions=True)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=10)
        if self._unsettled:
            try:
                await self.settle_pending()
            except (RedisError, OSError) as exc:
                log.error("%d settlements never reached the budget store (%s): run `tokenmill billing reconcile --fix`", len(self._unsettled), exc)
        await self.store.close()

    # -- admission ---------------------------------------------------------------------

    async def admit(self, ctx: RequestContext, candidates: list[Deployment], prices: Mapping[str, Price | None], body: dict) -> Ticket:
        p = ctx.principal
        budgets = self.book.in_scope(p.tenant_id, p.key_id, ctx.run_id, ctx.model_requested)
        buckets = [b for rule in self.rules.for_principal(p.tenant_id, p.key_id) for b in buckets_for(rule.bucket_id, rule.rpm, rule.tpm)]
        alternatives = [self._deployment_buckets.get(d.id, []) for d in candidates]
        if not any(alternatives):
            alternatives = []
        if not budgets and not buckets and not alternatives:
            return Ticket(ctx.request_id, candidates)

        counted = ctx.scratch.get("prompt_tokens")
        if counted is None:
            counted = ctx.scratch["prompt_tokens"] = count_request_tokens(ctx.endpoint, body, candidates[0].litellm_params.upstream_model)
        rates, limits = self._pricing(candidates, prices, p.markup)
        bound = output_bound(ctx.endpoint, body, limits, self.cfg.default_max_output_tokens)
        n = output_sequences(ctx.endpoint, body)
        reserved_prompt = reserved_prompt_tokens(counted, self.cfg.prompt_margin, self.cfg.prompt_margin_tokens)
        charges, labels, specs = self._charges(budgets, p.timezone, ctx.run_id)
        request = AdmitRequest(
            request_id=ctx.request_id,
            charges=charges,
            prompt_nanos=rates.prompt_nanos(reserved_prompt),
            prompt_tokens=reserved_prompt,
            out_nanos_per_token=rates.output_nanos,
            out_tokens=bound.tokens * n,
            out_step=n,
            min_clamp_tokens=self.cfg.min_clamp_tokens * n,
            tpm_prompt_tokens=counted,
            buckets=buckets,
            alternatives=alternatives,
            ttl_ms=int(self.cfg.reservation_ttl_seconds * 1000),
            draw_from=getattr(ctx.scratch.get("batch"), "hold", ""),
        )
        admitted = await self._admit(request, budgets, specs, p)
        return self._ticket(ctx, candidates, body, request, admitted, budgets, labels, bound)

    def _pricing(self, candidates: list[Deployment], prices: Mapping[str, Price | None], markup: float) -> tuple[Rates, list[int | None]]:
        """Dearest rates and output limits of a candidate list (memoised: prices are fixed per process)."""
        candidate_prices = tuple(prices.get(d.id) for d in candidates)
        # Keyed by the Price objects' identities; the entry holds them, so no id is reused meanwhile.
        key = (tuple(d.id for d in candidates), tuple(map(id, candidate_prices)), markup)
        hit = self._pricing_cache.get(key)
        if hit is None:
            limits = [d.model_info.max_output_tokens or (pr.max_output_tokens if pr else None) for d, pr in zip(candidates, candidate_prices, strict=True)]
            if len(self._pricing_cache) > 10_000:
                self._pricing_cache.clear()
            hit = self._pricing_cache[key] = (Rates.dearest(candidate_prices, markup), limits, candidate_prices)
        return hit[0], hit[1]

    def _charges(self, budgets: list[BudgetDef], timezone: str, run_id: str | None) -> tuple[list[Charge], list[str], dict[str, CounterSpec]]:
        now = datetime.now(UTC)
        charges, labels, specs = [], [], {}
        for b in budgets:
            try:
                window = self._windows.current(b.period, timezone, now)
            except PeriodError:
                if timezone not in self._bad_zones:
                    self._bad_zones.add(timezone)
                    log.warning("tenant %s has an unknown time zone %r; its budget periods use UTC", b.tenant_id, timezone)
                window = self._windows.current(b.period, "UTC", now)
            key = (id(b), window.label, run_id if b.per_run else None)
            made = self._charge_cache.get(key)
            if made is None:
                if len(self._charge_cache) > 50_000:
                    self._charge_cache.clear()
                spec = spec_for(b, window, run_id)
                made = self._charge_cache[key] = (_charge(b, spec.counter_id), spec)
            charges.append(made[0])
            specs[made[1].counter_id] = made[1]
            labels.append(window.label)
        return charges, labels, specs

    async def _admit(self, request: AdmitRequest, budgets: list[BudgetDef], specs: dict[str, CounterSpec], p: Principal) -> Admitted:
        for _ in range(_ATTEMPTS):
            try:
                result = await self.store.admit(request)
                if isinstance(result, Admitted):
                    if result.gen != self._gen:
                        self._note_generation(result.gen)
                    return result
                if isinstance(result, BudgetRefused):
                    REFUSED.labels(tenant=p.tenant_name or "").inc()
                    raise self._budget_error(request, budgets[result.index], result)
                if isinstance(result, RateLimited):
                    RATE_LIMITED.labels(scope=_SCOPES.get(result.bucket_id.split(":", 1)[0], "other")).inc()
                    raise _rate_error(request, result)
                if isinstance(result, NeedsEpoch):
                    await self.rebuild()
                elif isinstance(result, NeedsInit):
                    if self.ledger_barrier is not None:
                        await self.ledger_barrier()
                    await recovery.init_counters(self.store, self.engine, [specs[c] for c in result.counter_ids if c in specs])
            except (RedisError, OSError, SQLAlchemyError) as exc:
                log.error("budget store unavailable: %s", exc)
                raise APIError(503, "Budgets cannot be checked right now; try again shortly.", type="server_error", code="budget_store_unavailable") from exc
        raise APIError(503, "Budgets are being rebuilt; try again shortly.", type="server_error", code="budget_store_unavailable", headers={"Retry-After": "1"})

    def _ticket(self, ctx: RequestContext, candidates: list[Deployment], body: dict, request: AdmitRequest, a: Admitted, budgets: list[BudgetDef], labels: list[str], bound: OutputBound) -> Ticket:
        headers = ratelimit_headers(a.buckets)
        n = request.out_step
        if a.out_tokens < request.out_tokens:
            per_choice = a.out_tokens // n
            set_output_bound(ctx.endpoint, body, per_choice, bound.field)
            budget = next((b for b in budgets if b.on_exceed == "clamp"), budgets[0])
            headers[CLAMP_HEADER] = f"{per_choice}; budget={budget.id}"
            CLAMPED.labels(tenant=ctx.principal.tenant_name or "").inc()
        elif bound.inject and budgets:
            body[bound.field] = bound.tokens  # the bound the reservation assumed must hold upstream too
        if a.min_left_nanos is not None:
            headers[REMAINING_HEADER] = format_usd(max(a.min_left_nanos, 0))
        ticket = Ticket(
            request_id=ctx.request_id,
            candidates=candidates[a.alternative :] if a.alternative > 0 else candidates,
            charges=request.charges,
            budgets=budgets,
            period_labels=labels,
            run_id=ctx.run_id,
            reserved_nanos=a.reserved_nanos if request.charges else 0,
            reserved_tokens=a.reserved_tokens if request.charges else 0,
            token_buckets=[s.bucket for s in a.buckets if s.bucket.kind == TOKENS],
            tpm_estimate=request.tpm_prompt_tokens + a.out_tokens,
            headers=headers,
            output_bound_set=a.out_tokens < request.out_tokens or bool(bound.inject and budgets),
            gen=a.gen,
        )
        if ticket.charges:
            self._open[ticket.request_id] = ticket
        return ticket

    def _budget_error(self, request: AdmitRequest, budget: BudgetDef, refused: BudgetRefused) -> APIError:
        charge = request.charges[refused.index]
        worst = request.reservation_nanos(request.out_tokens)
        if charge.limit_nanos != NO_LIMIT and worst > refused.left_nanos:
            detail = f"${format_usd(max(refused.left_nanos, 0))} of its ${format_usd(charge.limit_nanos)} is left, and this request may cost up to ${format_usd(worst)}"
        else:
            need = request.prompt_tokens + request.out_tokens
            detail = f"{max(refused.left_tokens, 0)} of its {charge.limit_tokens} tokens are left, and this request may use up to {need}"
        message = (
            f"Budget exceeded: the {budget.describe()} cannot cover this request: {detail}. "
            "Lower max_tokens, wait for the next period, or raise the budget."
        )
        return APIError(429, message, type="insufficient_quota", code="insufficient_quota", headers={"x-tokenmill-budget": budget.id})

    # -- settlement --------------------------------------------------------------------

    def settle(self, ticket: Ticket, cost_nanos: int, usage: TokenUsage) -> None:
        """Replace the reservation with the actual cost. Synchronous, idempotent."""
        if ticket.done:
            return
        ticket.done = True
        if not ticket.active:
            return
        self._open.pop(ticket.request_id, None)
        settlement = Settlement(
            ticket.request_id,
            ticket.charges,
            max(cost_nanos, 0),
            usage.total_tokens,
            ticket.token_buckets,
            ticket.tpm_estimate,
            marker_ttl_s=max(60, int(self.cfg.reservation_ttl_seconds * 4)),
        )
        if self.store.synchronous:
            self._after_settle(ticket, self.store.settle_now(settlement))  # type: ignore[attr-defined]
        else:
            self._spawn(self._settle(ticket, settlement))

    def release(self, ticket: Ticket) -> None:
        """The call failed before costing anything: give the reservation back."""
        self.settle(ticket, 0, TokenUsage())

    async def _settle(self, ticket: Ticket, settlement: Settlement) -> None:
        for attempt in range(_ATTEMPTS):
            try:
                self._after_settle(ticket, await self.store.settle(settlement))
                return
            except (RedisError, OSError) as exc:
                log.warning("settling %s failed (%s), retrying", ticket.request_id, exc)
                await asyncio.sleep(0.05 * 2**attempt)
        log.error("could not settle %s now: it is kept and tried again while the budget store is away", ticket.request_id)
        self._unsettled[ticket.request_id] = (ticket, settlement)
        UNSETTLED.set(len(self._unsettled))

    async def settle_pending(self) -> int:
        """Try the settlements the store refused again, oldest first; returns how many are left."""
        for request_id, (ticket, settlement) in list(self._unsettled.items()):
            self._after_settle(ticket, await self.store.settle(settlement))  # a store error ends this round
            del self._unsettled[request_id]
            UNSETTLED.set(len(self._unsettled))
        return len(self._unsettled)

    def _after_settle(self, ticket: Ticket, result: SettleResult) -> None:
        for crossed in result.crossed:
            budget, label = ticket.budgets[crossed.index], ticket.period_labels[crossed.index]
            self._spawn(self._alert(budget, label, ticket.run_id if budget.per_run else None, crossed.spent_nanos, crossed.spent_tokens))

    async def _alert(self, budget: BudgetDef, label: str, run_id: str | None, spent_nanos: int, spent_tokens: int) -> None:
        try:
            new = await asyncio.to_thread(record_alert, self.engine, budget, label, run_id, spent_nanos, spent_tokens)
        except SQLAlchemyError as exc:
            log.error("could not record the soft-limit alert of budget %s: %s", budget.id, exc)
            return
        if new:
            ALERTS.labels(tenant=budget.tenant_id, budget=budget.id).inc()
            log.warning(
                "budget %s (tenant %s) passed its soft threshold of %.0f%% for %s: spent $%s%s",
                budget.id, budget.tenant_id, (budget.soft_fraction or 0) * 100, label, format_usd(spent_nanos),
                f" of ${format_usd(budget.limit_nanos)}" if budget.limit_nanos is not None else "",
            )

    def _spawn(self, coro: Coroutine) -> None:
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:  # called outside the event loop's thread
            assert self._loop is not None
            asyncio.run_coroutine_threadsafe(coro, self._loop)
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- routing's view ----------------------------------------------------------------

    async def remaining_fraction(self, principal: Principal, run_id: str | None, model: str | None = None) -> float | None:
        """The smallest share left over the budgets in scope; `model`: the model or route the client
        asked for, whose own budgets count too (a budget on `auto` moves that route's thresholds)."""
        budgets = self.book.in_scope(principal.tenant_id, principal.key_id, run_id, model)
        if not budgets:
            return None
        charges, _, _ = self._charges(budgets, principal.timezone, run_id)
        states = await self.store.read([c.counter_id for c in charges])
        shares = []
        for c in charges:
            s = states[c.counter_id]
            if not s.initialized:
                continue
            if c.limit_nanos != NO_LIMIT:
                shares.append(1.0 - (s.spent_nanos + s.reserved_nanos) / c.limit_nanos if c.limit_nanos else 0.0)
            if c.limit_tokens != NO_LIMIT:
                shares.append(1.0 - (s.spent_tokens + s.reserved_tokens) / c.limit_tokens if c.limit_tokens else 0.0)
        return min(1.0, max(0.0, min(shares))) if shares else None

    # -- recovery and upkeep -----------------------------------------------------------

    async def rebuild(self) -> None:
        async with self._rebuild_lock:
            fresh = self.store.synchronous and self._gen is None  # a new process's own counters
            quiet = 0.0 if self.store.synchronous else self.cfg.rebuild_quiet_seconds
            if self.ledger_barrier is not None:
                await self.ledger_barrier()
            outcome = await recovery.rebuild_counters(self.store, self.engine, self.book.all(), quiet, expected=fresh)
            if outcome == "rebuilt" and not fresh:
                REBUILDS.inc()

    def _note_generation(self, gen: str) -> None:
        first = self._gen is None
        self._gen = gen
        if not first and self._open:
            log.warning("budget counters were rebuilt: re-registering %d open reservations", len(self._open))
            self._spawn(self.heartbeat())

    async def heartbeat(self) -> None:
        deadline = time.monotonic() - self.cfg.max_request_seconds
        for rid in [rid for rid, t in self._open.items() if t.created < deadline]:
            del self._open[rid]  # past any sane request: let the reaper have it
        if not self._open:
            return
        gen, recreated = await self.store.heartbeat([t.held() for t in self._open.values()], int(self.cfg.reservation_ttl_seconds * 1000))
        if recreated:
            log.warning("re-created %d reservations lost with the counter store", recreated)
        if gen and gen != self._gen:
            self._gen = gen

    async def reap(self) -> int:
        count = await self.store.reap()
        if count:
            REAPED.inc(count)
            log.warning("released %d expired reservations (their process stopped renewing them)", count)
        return count

    async def _maintain(self) -> None:
        beat = self.cfg.reservation_ttl_seconds / 3
        # A shared store can lose its state under us: watch its epoch often enough that open
        # reservations are registered again well before a rebuild (quiet period) lets calls in.
        watch = None if self.store.synchronous else min(EPOCH_WATCH_SECONDS, max(self.cfg.rebuild_quiet_seconds / 4, 0.05))
        tick = min(beat, self.cfg.refresh_seconds, self.cfg.reap_interval_seconds or beat, watch or beat)
        due = {"heartbeat": 0.0, "reap": 0.0, "reload": time.monotonic() + self.cfg.refresh_seconds}
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            try:
                lost = False
                if watch is not None:
                    state = await self.store.epoch()
                    lost = state != f"ready:{self._gen}"
                    if state is None and self._gen is not None:
                        self._spawn(self.rebuild())  # recover now, not at the next admission
                if (lost and self._open) or now >= due["heartbeat"]:
                    due["heartbeat"] = now + beat
                    await self.heartbeat()
                if self.cfg.reap_interval_seconds and now >= due["reap"]:
                    due["reap"] = now + self.cfg.reap_interval_seconds
                    await self.reap()
                if self._unsettled:
                    await self.settle_pending()
                if now >= due["reload"]:
                    due["reload"] = now + self.cfg.refresh_seconds
                    await self.reload()
            except (RedisError, OSError, SQLAlchemyError) as exc:
                log.warning("budget upkeep failed, will retry: %s", exc)

    async def check(self) -> tuple[list[recovery.CounterDifference], int]:
        return await recovery.check_counters(self.store, self.engine, self.book.all())

    async def open_periods(self) -> int:
        await self.reload()
        return await recovery.open_periods(self.store, self.engine, self.book.all())

    async def force_rebuild(self) -> None:
        await self.store.invalidate()
        await self.rebuild()


def _charge(b: BudgetDef, counter_id: str) -> Charge:
    return Charge(
        counter_id,
        b.limit_nanos if b.limit_nanos is not None else NO_LIMIT,
        b.limit_tokens if b.limit_tokens is not None else NO_LIMIT,
        b.on_exceed == "clamp",
        b.soft_nanos if b.soft_nanos is not None else NO_LIMIT,
        b.soft_tokens if b.soft_tokens is not None else NO_LIMIT,
    )


def _rate_error(request: AdmitRequest, limited: RateLimited) -> APIError:
    buckets = {b.id: b for b in request.buckets} | {b.id: b for group in request.alternatives for b in group}
    bucket: Bucket = buckets[limited.bucket_id]
    scope_kind, _, rest = limited.bucket_id.partition(":")
    scope = f"{_SCOPES.get(scope_kind, scope_kind)} {rest.rsplit(':', 1)[0]}"
    unit = "tokens" if bucket.kind == TOKENS else "requests"
    headers = {
        f"x-ratelimit-limit-{unit}": str(bucket.capacity),
        f"x-ratelimit-remaining-{unit}": str(max(limited.remaining, 0)),
        f"x-ratelimit-reset-{unit}": format_reset(limited.reset_ms),
    }
    if limited.retry_ms < 0:
        message = f"Request too large for the {unit}-per-minute limit of {scope}: limit {bucket.capacity}, this request needs more. Lower max_tokens or shorten the prompt."
    else:
        headers["Retry-After"] = str(max(1, math.ceil(limited.retry_ms / 1000)))
        message = f"Rate limit reached for {scope} on {unit} per minute: limit {bucket.capacity}, remaining {max(limited.remaining, 0)}. Please try again in {format_reset(limited.retry_ms)}."
    return APIError(429, message, type=unit, code="rate_limit_exceeded", headers=headers)

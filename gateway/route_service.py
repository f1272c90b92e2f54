"""Difficulty routing inside the gateway: `model: "auto"` (or `auto-*`) picks a deployment per call.

The router library (routing/) scores the call and applies the policy; this module builds its
inputs from the config, the budget and the agent run's memory, and records what it decided.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy.engine import Engine
from sqlmodel import select

from billing.db import db_session
from billing.feedback_models import TenantRouteThreshold
from billing.prices import Price
from gateway.auth import Principal
from gateway.context import RequestContext
from gateway.errors import APIError, invalid_request
from gateway.models import ModelRegistry
from gateway.settings import Deployment, RouteSettings, Settings
from routing import (
    Candidate,
    RouteDecision,
    RouteDefinition,
    RouteFlags,
    RunState,
    Target,
    decide,
    fallback_chain,
    get_router,
    summarize_prompt,
    summarize_request,
)

log = logging.getLogger(__name__)

CONTEXT_MARGIN = 1.15  # a real tokenizer may count this many times the chars / 4 estimate
TEMPLATE_TOKENS_PER_MESSAGE = 6  # role markers around each message in a chat template

MAX_RUNS = 50_000  # agent runs remembered for stickiness, least recently used dropped first
THRESHOLD_RELOAD_SECONDS = 30.0


@dataclass
class RoutePlan:
    settings: RouteSettings
    definition: RouteDefinition
    deployments: list[Deployment]

    @property
    def name(self) -> str:
        return self.settings.name


@dataclass
class _Run:
    state: RunState = field(default_factory=RunState)
    last_used: float = 0.0


class RouteService:
    def __init__(self, settings: Settings, registry: ModelRegistry, prices: dict[str, Price | None], db: Engine):
        self.router = get_router()
        self._registry = registry
        self._prices = prices
        self._db = db
        # Fixed for the process: the model's own setting, else the price map's.
        self._windows = {d.id: d.model_info.context_window or getattr(prices.get(d.id), "context_window", None) for d in registry.all()}
        self.routes = self._plans(settings.routing.routes)
        self.tenant_routes = {tenant: self._plans(routes) for tenant, routes in settings.routing.tenant_routes.items()}
        self._runs: OrderedDict[tuple[str, str], _Run] = OrderedDict()
        self._thresholds: dict[tuple[str, str], float] = {}
        self._thresholds_loaded = 0.0

    def _plans(self, routes: list[RouteSettings]) -> dict[str, RoutePlan]:
        plans = {}
        for route in routes:
            plan = self._plan(route)
            if plan is None:
                log.warning("route %r has no chat deployment in tiers %s; it is not served", route.name, route.tiers)
            else:
                plans[route.name] = plan
        return plans

    def _plan(self, route: RouteSettings) -> RoutePlan | None:
        names = set(route.models)
        deployments = [d for d in self._registry.all() if d.model_info.mode == "chat" and d.tier in route.tiers and (not names or d.model_name in names)]
        if not deployments:
            return None
        target = Target(quality_floor=route.quality_floor) if route.quality_floor is not None else Target(strong_share=route.strong_share)
        definition = RouteDefinition.calibrated(
            route.name, target, self.router.model, local_share=route.local_share, tiers=tuple(route.tiers), budget_soft_limit=route.budget_soft_limit
        )
        return RoutePlan(route, definition, deployments)

    def names_for(self, principal: Principal) -> list[str]:
        return sorted({*self.routes, *self.tenant_routes.get(principal.tenant_name or "", {})})

    def plan_for(self, principal: Principal, model: str) -> RoutePlan | None:
        tenant = self.tenant_routes.get(principal.tenant_name or "", {})
        return tenant.get(model) or self.routes.get(model)

    # -- one call ------------------------------------------------------------------------

    def score(self, ctx: RequestContext, body: dict[str, Any]) -> tuple[float, Any]:
        """P(the cheap tier's answer would be worse), and the summary it came from."""
        if ctx.endpoint == "chat":
            summary = summarize_request(
                body["messages"],
                tools=body.get("tools"),
                tool_choice=body.get("tool_choice"),
                response_format=body.get("response_format"),
                prompt_tokens=ctx.scratch.get("prompt_tokens"),
            )
        elif ctx.endpoint == "completions" and isinstance(body.get("prompt"), str):
            summary = summarize_prompt(body["prompt"])
        else:
            raise invalid_request(f"Routes such as `{ctx.model_requested}` serve chat and single-prompt completions only.", param="model")
        embedding = self._embedding(ctx, summary.task_text)
        return self.router.score(summary, embedding=embedding), summary

    def _embedding(self, ctx: RequestContext, text: str) -> np.ndarray:
        cached = ctx.scratch.get("static_embedding")
        if cached is not None and cached[0] == text:
            return cached[1]
        vector = self.router.embedder.embed([text])[0]
        ctx.scratch["static_embedding"] = (text, vector)
        return vector

    def decide(self, ctx: RequestContext, plan: RoutePlan, body: dict[str, Any], budget_remaining: float | None) -> list[Deployment]:
        """Order the route's deployments for this call: the chosen one first, then its fallbacks."""
        self._maybe_reload_thresholds()
        score, summary = self.score(ctx, body)
        run = self._run(ctx)
        flags = RouteFlags(
            tool_required=summary.tool_required,
            tools_offered=summary.tools_enabled,
            long_plan=summary.long_plan,
            needs_json=summary.response_format is not None,
            needs_vision=summary.has_images,
            json_failed_on_local=run is not None and _schema_key(body) in run.state.json_failures_on_local,
        )
        deployments, too_small = self._fitting(plan, body, summary.prompt_tokens)
        by_id = {d.id: d for d in deployments}
        candidates = [self._candidate(d) for d in deployments]
        sticky = None
        if run is not None and run.state.sticky in by_id and time.monotonic() - run.last_used <= plan.settings.sticky_seconds:
            sticky = run.state.sticky
        try:
            decision = decide(score, candidates, self._definition(ctx.principal, plan), budget_remaining=budget_remaining, sticky=sticky, flags=flags)
        except ValueError as exc:
            raise APIError(400, f"Route `{plan.name}` cannot serve this call: {exc}", code="no_route") from None
        self._record(ctx, decision)
        ctx.local_first_allowed = not (flags.tool_required or flags.json_failed_on_local or flags.long_plan)
        ctx.tools_offered = flags.tools_offered
        if too_small:
            ctx.route_reason += ";context-too-long-for=" + ",".join(too_small)
        return [by_id[decision.deployment]] + [by_id[c.deployment] for c in fallback_chain(decision, candidates, flags)]

    def _fitting(self, plan: RoutePlan, body: dict[str, Any], estimated_prompt_tokens: int) -> tuple[list[Deployment], list[str]]:
        """The route's deployments whose context window holds the prompt (the estimate is routing.request.approx_tokens,
        so it gets a margin and a chat template's few tokens per message), and the names of those
        too small for it."""
        needed = int(estimated_prompt_tokens * CONTEXT_MARGIN) + TEMPLATE_TOKENS_PER_MESSAGE * len(body.get("messages") or ())
        fitting = [d for d in plan.deployments if (self._windows.get(d.id) or needed) >= needed]
        if not fitting:
            largest = max(self._windows.get(d.id) or 0 for d in plan.deployments)
            raise APIError(
                400, f"This call's prompt is about {needed:,} tokens; the largest context window among `{plan.name}`'s models is {largest:,}.",
                param="messages", code="context_length_exceeded",
            )
        fit_ids = {d.id for d in fitting}
        return fitting, sorted({d.model_name for d in plan.deployments if d.id not in fit_ids})

    def _definition(self, principal: Principal, plan: RoutePlan) -> RouteDefinition:
        tuned = self._thresholds.get((principal.tenant_id or "", plan.name))
        if tuned is None:
            return plan.definition
        local = plan.definition.local_threshold
        return RouteDefinition(
            name=plan.name, tiers=plan.definition.tiers, strong_threshold=tuned,
            local_threshold=None if local is None else min(local, tuned), budget_soft_limit=plan.definition.budget_soft_limit,
        )

    def _candidate(self, d: Deployment) -> Candidate:
        price = self._prices.get(d.id)
        return Candidate(
            deployment=d.id, tier=d.tier, supports_tools=d.model_info.supports_tools, supports_json=d.model_info.supports_json,
            supports_vision=d.supports_vision,
            input_price=price.input if price else 0.0, output_price=price.output if price else 0.0,
            cached_input_price=price.cache_read if price else None,
        )

    @staticmethod
    def _record(ctx: RequestContext, decision: RouteDecision) -> None:
        ctx.route_score = decision.score
        ctx.route_threshold = decision.threshold
        ctx.route_tier = decision.tier
        ctx.route_reason = f"route={ctx.model_requested};{decision.reason}"

    # -- agent runs ----------------------------------------------------------------------

    def _run(self, ctx: RequestContext) -> _Run | None:
        if not ctx.run_id or ctx.scratch.get("batch") is not None:
            return None  # batch lines share a run id but no prompt prefix: never sticky
        key = (ctx.principal.isolation_scope, ctx.run_id)
        run = self._runs.get(key)
        if run is None:
            run = self._runs[key] = _Run()
            if len(self._runs) > MAX_RUNS:
                self._runs.popitem(last=False)
        else:
            self._runs.move_to_end(key)
        return run

    def warm_first(self, ctx: RequestContext, candidates: list[Deployment], window_seconds: float = 300.0) -> list[Deployment]:
        """The run's last deployment first, while its prefix is likely still cached there."""
        run = self._run(ctx)
        if run is None or run.state.sticky is None or time.monotonic() - run.last_used > window_seconds:
            return candidates
        warm = [d for d in candidates if d.id == run.state.sticky]
        return warm + [d for d in candidates if d.id != run.state.sticky] if warm else candidates

    def after_call(self, ctx: RequestContext, served: Deployment) -> None:
        """The run's prefix is now warm on `served`: later calls stick to it."""
        run = self._run(ctx)
        if run is not None:
            run.state.sticky = served.id
            run.last_used = time.monotonic()

    def note_json_failure(self, ctx: RequestContext, body: dict[str, Any]) -> None:
        run = self._run(ctx)
        if run is not None:
            run.state.json_failures_on_local.add(_schema_key(body))

    # -- per-tenant thresholds learnt from feedback -----------------------------------------

    def _maybe_reload_thresholds(self) -> None:
        now = time.monotonic()
        if now - self._thresholds_loaded < THRESHOLD_RELOAD_SECONDS:
            return
        self._thresholds_loaded = now
        with db_session(self._db) as session:
            rows = session.exec(select(TenantRouteThreshold)).all()
        self._thresholds = {(r.tenant_id, r.route): r.threshold for r in rows}


def cheaper_candidates(candidates: list[Deployment], prices: dict[str, Price | None]) -> Iterator[tuple[list[Deployment], str]]:
    """What a routed call may still be served on when its budget cannot cover the dearest
    candidate: first the router's choice without dearer fallbacks, then the candidates cheaper
    than that choice; each with the note for the route reason."""
    first = prices.get(candidates[0].id)
    if first is None:
        return

    def price_at_most(d: Deployment, strictly: bool) -> bool:
        p = prices.get(d.id)
        if p is None or p.input > first.input or p.output > first.output:
            return False
        return not strictly or (p.input, p.output) != (first.input, first.output)

    trimmed = [candidates[0]] + [d for d in candidates[1:] if price_at_most(d, strictly=False)]
    if len(trimmed) < len(candidates):
        yield trimmed, ";budget-drops-dearer-fallbacks"
    cheaper = [d for d in candidates[1:] if price_at_most(d, strictly=True)]
    if cheaper:
        yield cheaper, ";budget-steps-down"


def _schema_key(body: dict[str, Any]) -> str:
    fmt = body.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("name") if isinstance(fmt, dict) else None
    return f"{fmt.get('type') if isinstance(fmt, dict) else ''}:{schema or ''}"

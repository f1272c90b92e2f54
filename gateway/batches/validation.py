"""Checking a batch's lines against the key and the models, and sizing each line's worst case.

Everything here runs before a batch is accepted: a batch with a bad line is never started.
The worst case of a line is what admission would reserve for it as a live call (same prompt
count, margins, output bound and dearest candidate price), so the batch's hold covers its lines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from billing.budgets.sizing import Rates, output_bound, output_sequences, reserved_prompt_tokens
from billing.tokens import count_request_tokens
from gateway.auth import Principal
from gateway.batches.jsonl import ENDPOINTS, InputLine, LineError, ParsedInput
from gateway.body import validate
from gateway.errors import APIError, invalid_request
from gateway.pipeline import MODES, SCHEMAS
from gateway.services import Services
from gateway.settings import Deployment


@dataclass(frozen=True)
class PlannedLine:
    line: InputLine
    model: str
    worst_nanos: int
    worst_tokens: int


@dataclass
class BatchPlan:
    lines: list[PlannedLine] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)

    @property
    def worst_nanos(self) -> int:
        return sum(p.worst_nanos for p in self.lines)

    @property
    def models(self) -> list[str]:
        return sorted({p.model for p in self.lines})


@dataclass(frozen=True)
class _ModelCost:
    candidates: list[Deployment]
    rates: Rates
    limits: list[int | None]


def plan_batch(services: Services, principal: Principal, endpoint_url: str, parsed: ParsedInput) -> BatchPlan:
    kind = ENDPOINTS[endpoint_url]
    plan = BatchPlan(errors=list(parsed.errors))
    models: dict[str, _ModelCost | APIError] = {}
    for line in parsed.lines:
        try:
            plan.lines.append(_plan_line(services, principal, kind, endpoint_url, line, models))
        except APIError as exc:
            plan.errors.append(LineError(exc.code or exc.type, f"Line {line.file_line}: {exc.message}", line.file_line, exc.param))
    plan.errors.sort(key=lambda e: (e.line is None, e.line or 0))
    return plan


def _plan_line(services: Services, principal: Principal, kind: str, endpoint_url: str, line: InputLine, models: dict[str, _ModelCost | APIError]) -> PlannedLine:
    if line.url != endpoint_url:
        raise invalid_request(f"url {line.url} does not match the batch's endpoint {endpoint_url}.", param="url", code="mismatched_url")
    body = line.body
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid_request("body.model must name a model.", param="body.model", code="missing_model")
    if body.get("stream"):
        raise invalid_request("Batch requests cannot stream; drop body.stream.", param="body.stream", code="invalid_body")
    try:
        validate(SCHEMAS[kind], body)
    except APIError as exc:
        raise invalid_request(exc.message, param=f"body.{exc.param}" if exc.param else "body", code="invalid_body") from None
    cost = models.get(model)
    if cost is None:
        try:
            cost = models[model] = _model_cost(services, principal, kind, model)
        except APIError as exc:
            cost = models[model] = exc
    if isinstance(cost, APIError):
        raise cost
    nanos, tokens = worst_case(services, cost, kind, body)
    return PlannedLine(line, model, nanos, tokens)


def _model_cost(services: Services, principal: Principal, kind: str, model: str) -> _ModelCost:
    """The deployments a call to `model` may reach (as the pipeline resolves them), priced."""
    routes = getattr(services, "routes", None)
    plan = routes.plan_for(principal, model) if routes is not None else None
    if plan is not None:
        principal.check_model(plan.name)
        candidates = list(plan.deployments)
        if kind == "embeddings":
            raise invalid_request(f"The route `{model}` does not serve the embeddings endpoint.", param="body.model", code="wrong_endpoint")
    else:
        group = services.registry.group(model)  # 404 for unknown names
        principal.check_model(model)  # 403 when the key may not use it
        if group[0].model_info.mode != MODES[kind]:
            raise invalid_request(f"The model `{model}` does not serve the {kind} endpoint.", param="body.model", code="wrong_endpoint")
        candidates = services.registry.candidates(model)
    prices = [services.prices.get(d.id) for d in candidates]
    limits = [d.model_info.max_output_tokens or (p.max_output_tokens if p else None) for d, p in zip(candidates, prices, strict=True)]
    return _ModelCost(candidates, Rates.dearest(prices, principal.markup), limits)


def worst_case(services: Services, cost: _ModelCost, kind: str, body: dict[str, Any]) -> tuple[int, int]:
    """Nano-dollars and tokens admission would reserve for this body (the same sizing functions)."""
    cfg = services.settings.billing
    counted = count_request_tokens(kind, body, cost.candidates[0].litellm_params.upstream_model)
    prompt = reserved_prompt_tokens(counted, cfg.prompt_margin, cfg.prompt_margin_tokens)
    out = output_bound(kind, body, cost.limits, cfg.default_max_output_tokens).tokens * output_sequences(kind, body)
    return cost.rates.prompt_nanos(prompt) + math.ceil(out * cost.rates.output_nanos) + 1, prompt + out

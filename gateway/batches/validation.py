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
from billing.money import format_usd
from billing.sql_totals import BIGINT_MAX
from billing.tokens import count_request_tokens
from gateway.auth import Principal
from gateway.batches.jsonl import ENDPOINTS, InputLine, LineError, ParsedInput
from gateway.body import validate
from gateway.errors import APIError, invalid_request
from gateway.pipeline import MODES, SCHEMAS
from gateway.services import Services
from gateway.settings import Deployment

# OpenAI refuses an integer parameter above a 32-bit int; so does a batch line, before it runs.
MAX_OUTPUT_TOKENS = 2**31 - 1
# A batch's worst case (nano-dollars, and tokens) is stored and held on budgets as a 64-bit integer.
MAX_WORST_CASE = BIGINT_MAX
_JSON_TYPES = {type(None): "null", bool: "a boolean", int: "a number", float: "a number", dict: "an object", list: "an array"}


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
    nanos = tokens = 0
    for line in parsed.lines:
        try:
            planned = _plan_line(services, principal, kind, endpoint_url, line, models)
        except APIError as exc:
            plan.errors.append(LineError(exc.code or exc.type, f"Line {line.file_line}: {exc.message}", line.file_line, exc.param))
            continue
        if nanos + planned.worst_nanos > MAX_WORST_CASE or tokens + planned.worst_tokens > MAX_WORST_CASE:
            message = (
                f"Line {line.file_line}: with this request the batch's worst case passes the most one batch can hold "
                f"(${format_usd(MAX_WORST_CASE)}, or {MAX_WORST_CASE} tokens); lower its max_tokens or split the batch."
            )
            plan.errors.append(LineError("batch_too_large", message, line.file_line, "body.max_tokens"))
            continue
        nanos, tokens = nanos + planned.worst_nanos, tokens + planned.worst_tokens
        plan.lines.append(planned)
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
    _check_body(kind, body)
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


def _check_body(kind: str, body: dict[str, Any]) -> None:
    """What the schema lets through but OpenAI refuses: a text part whose text is not a string,
    an output bound above a 32-bit int (which no model could write)."""
    messages = body.get("messages") if kind == "chat" else None
    for i, message in enumerate(messages or []):
        content = message.get("content")
        for j, part in enumerate(content if isinstance(content, list) else []):
            if isinstance(part, dict) and (part.get("type") == "text" or "text" in part) and not isinstance(part.get("text"), str):
                found = _JSON_TYPES.get(type(part.get("text")), "another type")
                param = f"body.messages[{i}].content[{j}].text"
                raise invalid_request(f"Invalid type for '{param}': expected a string, but got {found} instead.", param=param, code="invalid_body")
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if isinstance(value, int) and value > MAX_OUTPUT_TOKENS:
            raise invalid_request(
                f"Invalid 'body.{name}': integer above maximum value. Expected a value <= {MAX_OUTPUT_TOKENS}, but got {value} instead.",
                param=f"body.{name}", code="invalid_body",
            )


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

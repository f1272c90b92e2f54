"""Sizing a call before it goes upstream: prompt tokens, output bound, worst-case prices."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from billing.prices import Price

NANOS = 1_000_000_000



@dataclass(frozen=True)
class OutputBound:
    tokens: int  # per choice
    field: str | None  # the body field that holds it
    inject: bool  # the bound is ours, not the request's or the models': send it upstream


def _output_fields(endpoint: str) -> tuple[str, ...]:
    # `max_completion_tokens` is a chat field: a completions upstream reads only max_tokens.
    return ("max_completion_tokens", "max_tokens") if endpoint == "chat" else ("max_tokens",)


def _requested_output(endpoint: str, body: dict) -> tuple[int | None, str | None]:
    """The request's own output bound; with both chat fields set, the larger (the worst case:
    providers differ in which one wins)."""
    found = [(v, name) for name in _output_fields(endpoint)
             if isinstance(v := body.get(name), int) and not isinstance(v, bool) and v > 0]
    return max(found) if found else (None, None)


def set_output_bound(endpoint: str, body: dict, tokens: int, field: str) -> None:
    """Send `tokens` as the call's output bound: in `field`, and in the other output field too
    when the request set it, so that no provider reads a larger one."""
    body[field] = tokens
    for name in _output_fields(endpoint):
        if name != field and name in body:
            body[name] = tokens


def output_bound(endpoint: str, body: dict, model_limits: Sequence[int | None], default: int) -> OutputBound:
    """The most output tokens the call can produce: the request's max_tokens (no more than the
    largest of the candidate models' limits when every one is known), else that largest limit,
    else `default` (which must then be sent upstream)."""
    if endpoint == "embeddings":
        return OutputBound(0, None, False)
    largest = max(x for x in model_limits if x) if model_limits and all(model_limits) else None
    requested, name = _requested_output(endpoint, body)
    if requested is not None:
        # A model writes no more than its limit, whatever the request asks for (10**17 included).
        return OutputBound(requested if largest is None else min(requested, largest), name, False)
    field = "max_completion_tokens" if endpoint == "chat" else "max_tokens"
    if largest is not None:
        return OutputBound(largest, field, False)
    known = [x for x in model_limits if x]
    return OutputBound(min([default, *known]), field, True)


@dataclass(frozen=True)
class Rates:
    """Dearest per-token prices among the candidates, markup applied, in nano-dollars."""

    input_nanos: float
    output_nanos: float

    @classmethod
    def dearest(cls, prices: Sequence[Price | None], markup: float) -> Rates:
        known = [p for p in prices if p is not None]
        dearest_in = max((max(p.input, p.cache_write or 0.0) for p in known), default=0.0)
        dearest_out = max((max(p.output, p.reasoning or 0.0) for p in known), default=0.0)
        scale = max(0.0, 1.0 + markup) * NANOS
        return cls(dearest_in * scale, dearest_out * scale)

    def prompt_nanos(self, tokens: int) -> int:
        return math.ceil(tokens * self.input_nanos)


def reserved_prompt_tokens(counted: int, margin: float, margin_tokens: int) -> int:
    """The offline count is close to, not exactly, what a provider bills: keep a margin."""
    return math.ceil(counted * (1.0 + margin)) + margin_tokens


def _count_field(body: dict, name: str) -> int:
    value = body.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 1 else 1


def output_sequences(endpoint: str, body: dict) -> int:
    """How many outputs one call generates, each up to max_tokens: `n` for chat; for completions
    max(n, best_of) for every prompt of a prompt list (each is billed, best_of's unreturned ones too)."""
    n = _count_field(body, "n")
    if endpoint != "completions":
        return n
    prompt = body.get("prompt")
    prompts = len(prompt) if isinstance(prompt, list) and prompt and isinstance(prompt[0], str | list) else 1
    return max(n, _count_field(body, "best_of")) * prompts

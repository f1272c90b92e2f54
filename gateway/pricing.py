"""The price of each deployment: its config overrides, else litellm's bundled price map."""

from __future__ import annotations

from billing.prices import Price, PriceBook
from gateway.settings import Deployment

# Prefill runs far faster than decode on the same hardware, so a local input token is
# priced at this share of an output token.
LOCAL_INPUT_SHARE = 0.1


def _scaled(own: float | None, mapped: float | None, mapped_base: float | None, base: float) -> float | None:
    """A price the config leaves unset keeps the map's ratio to its base price (a cache read at a
    tenth of the input price stays a tenth of an overridden input price)."""
    if own is not None:
        return own
    if mapped is None or not mapped_base:
        return None
    return mapped / mapped_base * base


def deployment_price(deployment: Deployment, book: PriceBook) -> Price | None:
    info = deployment.model_info
    if info.input_cost_per_token is not None or info.output_cost_per_token is not None:
        mapped = book.listed_price(deployment.litellm_params.model)
        m = mapped or Price(0.0, 0.0)
        input_price = info.input_cost_per_token if info.input_cost_per_token is not None else m.input
        output_price = info.output_cost_per_token if info.output_cost_per_token is not None else m.output
        return Price(
            input=input_price,
            output=output_price,
            cache_read=_scaled(info.cache_read_input_token_cost, m.cache_read, m.input, input_price),
            cache_write=_scaled(info.cache_creation_input_token_cost, m.cache_write, m.input, input_price),
            reasoning=_scaled(info.output_cost_per_reasoning_token, m.reasoning, m.output, output_price),
            max_output_tokens=info.max_output_tokens or m.max_output_tokens,
            context_window=info.context_window or m.context_window,
        )
    if info.gpu_hourly_usd is not None and info.tokens_per_second:
        per_output_token = info.gpu_hourly_usd / 3600.0 / info.tokens_per_second
        return Price(input=per_output_token * LOCAL_INPUT_SHARE, output=per_output_token, max_output_tokens=info.max_output_tokens)
    price = book.price_for(deployment.id, deployment.litellm_params.model)
    if price is not None and (info.max_output_tokens or info.context_window):
        return Price(**{**price.__dict__, "max_output_tokens": info.max_output_tokens or price.max_output_tokens, "context_window": info.context_window or price.context_window})
    return price

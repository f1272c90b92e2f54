"""The price of each deployment: its config overrides, else litellm's bundled price map."""

from __future__ import annotations

from billing.prices import Price, PriceBook
from gateway.settings import Deployment

# Prefill runs far faster than decode on the same hardware, so a local input token is
# priced at this share of an output token.
LOCAL_INPUT_SHARE = 0.1


def deployment_price(deployment: Deployment, book: PriceBook) -> Price | None:
    info = deployment.model_info
    if info.input_cost_per_token is not None or info.output_cost_per_token is not None:
        return Price(
            input=info.input_cost_per_token or 0.0,
            output=info.output_cost_per_token or 0.0,
            cache_read=info.cache_read_input_token_cost,
            cache_write=info.cache_creation_input_token_cost,
            reasoning=info.output_cost_per_reasoning_token,
            max_output_tokens=info.max_output_tokens,
            context_window=info.context_window,
        )
    if info.gpu_hourly_usd is not None and info.tokens_per_second:
        per_output_token = info.gpu_hourly_usd / 3600.0 / info.tokens_per_second
        return Price(input=per_output_token * LOCAL_INPUT_SHARE, output=per_output_token, max_output_tokens=info.max_output_tokens)
    price = book.price_for(deployment.id, deployment.litellm_params.model)
    if price is not None and (info.max_output_tokens or info.context_window):
        return Price(**{**price.__dict__, "max_output_tokens": info.max_output_tokens or price.max_output_tokens, "context_window": info.context_window or price.context_window})
    return price

"""A deployment's price: config overrides over litellm's bundled price map."""

from __future__ import annotations

import pytest

from billing.prices import PriceBook
from billing.usage import TokenUsage
from gateway.pricing import deployment_price
from gateway.settings import Deployment


def _deployment(**info: float) -> Deployment:
    return Deployment.model_validate({"model_name": "gpt-4o", "litellm_params": {"model": "openai/gpt-4o"}, "model_info": info})


def test_overriding_list_prices_keeps_the_maps_cached_token_discount() -> None:
    book = PriceBook()
    listed = deployment_price(_deployment(), book)
    same = deployment_price(_deployment(input_cost_per_token=listed.input, output_cost_per_token=listed.output), book)
    usage = TokenUsage(prompt_tokens=2000, completion_tokens=5, cached_tokens=1500)
    assert listed.cache_read is not None and listed.cache_read < listed.input
    assert same.cost_usd(usage) == pytest.approx(listed.cost_usd(usage))
    # A negotiated half price: the cache read stays at the map's share of the input price.
    half = deployment_price(_deployment(input_cost_per_token=listed.input / 2), book)
    assert half.output == listed.output and half.cache_read == pytest.approx(listed.cache_read / 2)
    # An explicit cache price wins.
    assert deployment_price(_deployment(input_cost_per_token=1e-6, cache_read_input_token_cost=1e-9), book).cache_read == 1e-9


def test_a_model_the_map_does_not_know_takes_only_its_overrides() -> None:
    local = Deployment.model_validate(
        {"model_name": "mine", "litellm_params": {"model": "local/smollm2-135m-instruct"}, "model_info": {"input_cost_per_token": 1e-9, "output_cost_per_token": 2e-8}}
    )
    price = deployment_price(local, PriceBook())
    assert (price.input, price.output, price.cache_read) == (1e-9, 2e-8, None)

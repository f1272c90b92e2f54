import pytest

from cache.savings import PromptCachePrices, PromptTokenUsage, prompt_cache_savings, usage_from_response

# Anthropic Sonnet-like prices per token: input 3 $/M, cache read 0.30 $/M, cache write 3.75 $/M.
PRICES = PromptCachePrices(3e-6, 0.3e-6, 3.75e-6)


def test_read_hit_saves_ninety_percent_of_cached_part():
    s = prompt_cache_savings(PromptTokenUsage(10_000, cached_tokens=9_000), PRICES)
    assert s.cost_without_cache_usd == pytest.approx(0.03)
    assert s.cost_with_cache_usd == pytest.approx(1_000 * 3e-6 + 9_000 * 0.3e-6)
    assert s.saved_usd == pytest.approx(9_000 * 2.7e-6)


def test_cache_write_costs_a_premium():
    s = prompt_cache_savings(PromptTokenUsage(5_000, cache_write_tokens=4_000), PRICES)
    assert s.saved_usd == pytest.approx(-4_000 * 0.75e-6)


def test_usage_shapes():
    openai = {"prompt_tokens": 2006, "completion_tokens": 300, "prompt_tokens_details": {"cached_tokens": 1920}}
    assert usage_from_response(openai) == PromptTokenUsage(2006, 1920, 0)
    litellm_anthropic = {"prompt_tokens": 3000, "prompt_tokens_details": {"cached_tokens": 1000, "cache_creation_tokens": 1500}, "cache_creation_input_tokens": 1500}
    assert usage_from_response(litellm_anthropic) == PromptTokenUsage(3000, 1000, 1500)
    anthropic_raw = {"input_tokens": 50, "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 200, "output_tokens": 10}
    assert usage_from_response(anthropic_raw) == PromptTokenUsage(1250, 1000, 200)


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError):
        usage_from_response({"completion_tokens": 3})
    with pytest.raises(ValueError):
        PromptTokenUsage(10, cached_tokens=8, cache_write_tokens=8)
    with pytest.raises(ValueError):
        PromptCachePrices(-1, 0, 0)

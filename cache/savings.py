"""Money saved by provider prompt caching, from a usage object and the three input prices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PromptCachePrices:
    """USD per input token: uncached, read from cache, written to cache."""

    input_per_token: float
    cached_input_per_token: float
    cache_write_per_token: float

    def __post_init__(self) -> None:
        if min(self.input_per_token, self.cached_input_per_token, self.cache_write_per_token) < 0:
            raise ValueError("prices must be non-negative")


@dataclass(frozen=True)
class PromptTokenUsage:
    """Prompt tokens split three ways; `prompt_tokens` is the total, reads and writes included."""

    prompt_tokens: int
    cached_tokens: int = 0
    cache_write_tokens: int = 0

    def __post_init__(self) -> None:
        if min(self.prompt_tokens, self.cached_tokens, self.cache_write_tokens) < 0:
            raise ValueError("token counts must be non-negative")
        if self.cached_tokens + self.cache_write_tokens > self.prompt_tokens:
            raise ValueError("cached + cache-write tokens exceed the prompt tokens")

    @property
    def uncached_tokens(self) -> int:
        return self.prompt_tokens - self.cached_tokens - self.cache_write_tokens


def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def usage_from_response(usage: dict[str, Any]) -> PromptTokenUsage:
    """Read an OpenAI-format usage (as OpenAI and litellm report it) or Anthropic's raw usage.

    OpenAI/litellm: `prompt_tokens` counts everything; reads are `prompt_tokens_details.cached_tokens`;
    writes are `prompt_tokens_details.cache_creation_tokens` / `cache_write_tokens` or the top-level
    `cache_creation_input_tokens`. Anthropic raw: `input_tokens` excludes reads and writes.
    """
    if not isinstance(usage, dict):
        raise ValueError("usage must be a JSON object")
    details = usage.get("prompt_tokens_details") or {}
    if "prompt_tokens" in usage:
        total = _int(usage["prompt_tokens"])
        cached = _int(details.get("cached_tokens")) or _int(usage.get("cache_read_input_tokens"))
        written = (
            _int(details.get("cache_creation_tokens"))
            or _int(details.get("cache_write_tokens"))
            or _int(usage.get("cache_creation_input_tokens"))
        )
        return PromptTokenUsage(total, cached, written)
    if "input_tokens" in usage:
        cached = _int(usage.get("cache_read_input_tokens"))
        written = _int(usage.get("cache_creation_input_tokens"))
        return PromptTokenUsage(_int(usage["input_tokens"]) + cached + written, cached, written)
    raise ValueError("usage has neither 'prompt_tokens' nor 'input_tokens'")


@dataclass(frozen=True)
class PromptCacheSavings:
    cost_without_cache_usd: float
    cost_with_cache_usd: float

    @property
    def saved_usd(self) -> float:
        """Can be negative: a call that only writes the cache pays the write premium."""
        return self.cost_without_cache_usd - self.cost_with_cache_usd


def prompt_cache_savings(usage: PromptTokenUsage, prices: PromptCachePrices) -> PromptCacheSavings:
    """Input cost as billed (reads and writes at their prices) versus all tokens at the input price."""
    with_cache = (
        usage.uncached_tokens * prices.input_per_token
        + usage.cached_tokens * prices.cached_input_per_token
        + usage.cache_write_tokens * prices.cache_write_per_token
    )
    return PromptCacheSavings(usage.prompt_tokens * prices.input_per_token, with_cache)

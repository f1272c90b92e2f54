"""The price book: litellm's bundled price map, read offline, plus per-deployment overrides."""

from __future__ import annotations

import importlib.util
import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from billing.usage import TokenUsage

log = logging.getLogger(__name__)

PRICE_MAP_FILE = "model_prices_and_context_window_backup.json"


@dataclass(frozen=True)
class Price:
    """USD per token. Unset cache/reasoning prices fall back to the plain input/output price."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None
    reasoning: float | None = None
    max_output_tokens: int | None = None
    context_window: int | None = None

    def cost_usd(self, usage: TokenUsage) -> float:
        cache_read = self.input if self.cache_read is None else self.cache_read
        cache_write = self.input if self.cache_write is None else self.cache_write
        reasoning = self.output if self.reasoning is None else self.reasoning
        uncached = max(usage.prompt_tokens - usage.cached_tokens - usage.cache_write_tokens, 0)
        visible_output = max(usage.completion_tokens - usage.reasoning_tokens, 0)
        return (
            uncached * self.input
            + usage.cached_tokens * cache_read
            + usage.cache_write_tokens * cache_write
            + visible_output * self.output
            + usage.reasoning_tokens * reasoning
        )

    def cost_nanos(self, usage: TokenUsage, markup: float = 0.0) -> int:
        return round(self.cost_usd(usage) * (1.0 + markup) * 1_000_000_000)

    def worst_case_nanos(self, prompt_tokens: int, max_output_tokens: int, markup: float = 0.0) -> int:
        """Upper bound before the call: no cache discount, every output token at the dearest rate."""
        dearest_output = max(self.output, self.reasoning or 0.0)
        dearest_input = max(self.input, self.cache_write or 0.0)
        usd = prompt_tokens * dearest_input + max_output_tokens * dearest_output
        return round(usd * (1.0 + markup) * 1_000_000_000) + 1


def _litellm_price_file() -> Path:
    spec = importlib.util.find_spec("litellm")  # locate without importing (import goes online)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("litellm is not installed: its bundled price map is the default price book")
    return Path(spec.submodule_search_locations[0]) / PRICE_MAP_FILE


@lru_cache(maxsize=1)
def litellm_price_map() -> dict[str, dict[str, Any]]:
    return json.loads(_litellm_price_file().read_text())


def price_from_entry(entry: dict[str, Any]) -> Price:
    return Price(
        input=float(entry.get("input_cost_per_token") or 0.0),
        output=float(entry.get("output_cost_per_token") or 0.0),
        cache_read=entry.get("cache_read_input_token_cost"),
        cache_write=entry.get("cache_creation_input_token_cost"),
        reasoning=entry.get("output_cost_per_reasoning_token"),
        max_output_tokens=entry.get("max_output_tokens"),
        context_window=entry.get("max_input_tokens"),
    )


class PriceBook:
    """Looks a price up by upstream model name; overrides win over the bundled map."""

    def __init__(self, overrides: dict[str, Price] | None = None, price_map: dict[str, dict[str, Any]] | None = None):
        self._overrides = dict(overrides or {})
        self._map = litellm_price_map() if price_map is None else price_map
        self._cache: dict[str, Price | None] = {}

    def set_override(self, key: str, price: Price) -> None:
        self._overrides[key] = price
        self._cache.pop(key, None)

    def price_for(self, key: str, upstream_model: str = "") -> Price | None:
        """`key` names a deployment (for overrides); `upstream_model` is e.g. 'openai/gpt-4o-mini'."""
        if key in self._overrides:
            return self._overrides[key]
        cache_key = upstream_model or key
        if cache_key not in self._cache:
            self._cache[cache_key] = self._lookup(cache_key)
        return self._cache[cache_key]

    def listed_price(self, upstream_model: str) -> Price | None:
        """The price map's entry for a model, without the warning an unpriced model gets."""
        return self._find(upstream_model)

    def _lookup(self, model: str) -> Price | None:
        price = self._find(model)
        if price is None:
            log.warning("no price known for model %r; its calls are recorded at cost 0", model)
        return price

    def _find(self, model: str) -> Price | None:
        candidates = [model]
        if "/" in model:
            candidates.append(model.split("/", 1)[1])
        for name in candidates:
            entry = self._map.get(name)
            if entry and ("input_cost_per_token" in entry or "output_cost_per_token" in entry):
                return price_from_entry(entry)
        return None

"""Token usage of one call, in OpenAI's accounting (cached and reasoning tokens are subsets)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class TokenUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens read from the provider's prompt cache
    cache_write_tokens: int = 0  # prompt tokens written to it (Anthropic bills these higher)
    reasoning_tokens: int = 0  # completion tokens spent on hidden reasoning

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @classmethod
    def from_openai(cls, usage: Any) -> TokenUsage | None:
        """Parse an OpenAI-shaped `usage` object (also what litellm returns for other vendors).

        None when there is none or it cannot be trusted (a count that is not a non-negative
        integer, details that are not objects): the gateway then counts the tokens itself."""
        if not usage or not isinstance(usage, dict):
            return None
        prompt_details = usage.get("prompt_tokens_details") or {}
        completion_details = usage.get("completion_tokens_details") or {}
        if not isinstance(prompt_details, dict) or not isinstance(completion_details, dict):
            return None
        counts = (
            usage.get("prompt_tokens"),
            usage.get("completion_tokens"),
            prompt_details.get("cached_tokens"),
            usage.get("cache_creation_input_tokens") or prompt_details.get("cache_creation_tokens"),
            completion_details.get("reasoning_tokens"),
        )
        parsed = [_count(value) for value in counts]
        if any(value is None for value in parsed):
            return None
        return cls(*parsed)

    def to_openai(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }
        if self.cached_tokens:
            out["prompt_tokens_details"] = {"cached_tokens": self.cached_tokens}
        if self.reasoning_tokens:
            out["completion_tokens_details"] = {"reasoning_tokens": self.reasoning_tokens}
        return out


def _count(value: Any) -> int | None:
    """A token count as a provider may write it (absent, an int, or an integral float); None if invalid."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if value != value or value < 0 or value > 2**53 or value != int(value):
        return None
    return int(value)

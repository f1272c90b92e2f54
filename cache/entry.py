"""What a cache stores: the full upstream chat completion plus the cost it had, and when it may be stored."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from cache.canonical import CacheRequestError

STORABLE_FINISH_REASONS = frozenset({"stop", "length", "tool_calls"})


def checked_ttl(ttl_s: float | None, default_ttl_s: float) -> float:
    """An entry's lifetime: the cache's default when none is given; never zero or negative."""
    ttl = default_ttl_s if ttl_s is None else ttl_s
    if ttl <= 0:
        raise ValueError("ttl_s must be positive")
    return ttl


class UnreadableEntry(ValueError):
    """Stored bytes that are not a cached response (another writer, a truncated value)."""


@dataclass(frozen=True)
class CachedResponse:
    """One cached answer: the OpenAI `chat.completion` body exactly as the upstream returned it.

    `cost_usd` is what the original call cost, so a hit can be recorded at zero upstream cost
    with that much money saved. `deployment` names who answered (for the usage row).
    """

    body: dict[str, Any]
    cost_usd: float
    deployment: str = ""
    created_at: float = field(default_factory=time.time)

    @property
    def usage(self) -> dict[str, Any]:
        return dict(self.body.get("usage") or {})

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {"body": self.body, "cost_usd": self.cost_usd, "deployment": self.deployment, "created_at": self.created_at}
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> CachedResponse:
        try:
            raw = orjson.loads(data)
            return cls(raw["body"], float(raw["cost_usd"]), raw.get("deployment", ""), float(raw["created_at"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise UnreadableEntry(f"not a cached response: {exc}") from None

    def reply_body(self, response_id: str | None = None, created: int | None = None) -> dict[str, Any]:
        """A copy of the body for a new reply: fresh id and timestamp, original content and usage."""
        body = copy.deepcopy(self.body)
        if response_id is not None:
            body["id"] = response_id
        body["created"] = int(time.time()) if created is None else created
        return body


def storable_reason(body: Any, status_code: int = 200) -> str | None:
    """None when an upstream reply may be cached, else why not (errors, filtered or empty answers)."""
    if status_code != 200:
        return f"upstream status {status_code}"
    if not isinstance(body, dict):
        return "body is not a JSON object"
    if body.get("error") is not None:
        return "body carries an error"
    if body.get("object") != "chat.completion":
        return "not a chat.completion"
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        return "no choices"
    for choice in choices:
        if not isinstance(choice, dict) or not isinstance(choice.get("message"), dict):
            return "choice without a message"
        if choice.get("finish_reason") not in STORABLE_FINISH_REASONS:
            return f"finish_reason {choice.get('finish_reason')!r}"
        message = choice["message"]
        if not message.get("content") and not message.get("tool_calls"):
            return "empty answer"
    return None


def semantic_storable_reason(body: Any, status_code: int = 200) -> str | None:
    """Stricter rule for the semantic layer: one complete plain-text answer, no tool calls."""
    reason = storable_reason(body, status_code)
    if reason is not None:
        return reason
    if len(body["choices"]) != 1:
        return "more than one choice"
    choice = body["choices"][0]
    if choice.get("finish_reason") != "stop":
        return f"finish_reason {choice.get('finish_reason')!r}"
    message = choice["message"]
    if message.get("tool_calls") or message.get("function_call"):
        return "answer calls tools"
    if not isinstance(message.get("content"), str):
        return "answer is not plain text"
    return None


def make_cached_response(body: dict[str, Any], cost_usd: float, deployment: str = "") -> CachedResponse:
    if not isinstance(cost_usd, (int, float)) or cost_usd < 0:
        raise CacheRequestError("cost_usd must be a non-negative number")
    return CachedResponse(copy.deepcopy(body), float(cost_usd), deployment)

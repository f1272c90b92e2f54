"""When the response cache may answer or store a request, and what the `x-tokenmill-cache` header says.

Request header `x-tokenmill-cache`: absent or `auto` (cache deterministic requests only), `on`
(the caller accepts cached answers for any request) or `off` (bypass). A per-key policy set by an
admin can force `off` (wins over the header), force `on`, or disable only the semantic layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cache.canonical import CacheRequestError

CACHE_HEADER = "x-tokenmill-cache"


class CacheStatus(StrEnum):
    """Value of the `x-tokenmill-cache` response header."""

    HIT_EXACT = "hit-exact"
    HIT_SEMANTIC = "hit-semantic"
    MISS = "miss"
    BYPASS = "bypass"


class CacheMode(StrEnum):
    AUTO = "auto"
    ON = "on"
    OFF = "off"


@dataclass(frozen=True)
class KeyCachePolicy:
    """Per API key (or tenant) cache policy, set by an admin."""

    mode: CacheMode = CacheMode.AUTO
    semantic: bool = True
    ttl_s: float | None = None  # None: the backend's default TTL

    def __post_init__(self) -> None:
        if self.ttl_s is not None and self.ttl_s <= 0:
            raise CacheRequestError("cache ttl_s must be positive")


@dataclass(frozen=True)
class CacheDecision:
    use: bool  # look up and store at all
    semantic: bool  # the semantic layer may also be used
    reason: str
    ttl_s: float | None = None

    @property
    def status_if_not_found(self) -> CacheStatus:
        return CacheStatus.MISS if self.use else CacheStatus.BYPASS


def parse_cache_header(value: str | None) -> CacheMode:
    """Parse the request header; unknown values are a clear 400, not a silent bypass."""
    if value is None:
        return CacheMode.AUTO
    normalised = value.strip().lower()
    try:
        return CacheMode(normalised)
    except ValueError:
        raise CacheRequestError(
            f"{CACHE_HEADER} must be one of 'on', 'off' or 'auto', got {value!r}"
        ) from None


def is_deterministic(request: dict[str, Any]) -> bool:
    """Temperature 0 or a fixed seed: the upstream answer is meant to be repeatable."""
    temperature = request.get("temperature")
    if isinstance(temperature, (int, float)) and not isinstance(temperature, bool) and temperature == 0:
        return True
    seed = request.get("seed")
    return isinstance(seed, int) and not isinstance(seed, bool)


def decide(
    request: dict[str, Any],
    header: str | None = None,
    key_policy: KeyCachePolicy | None = None,
) -> CacheDecision:
    """Whether the cache is used for this request (and whether its semantic layer may be)."""
    key_policy = key_policy or KeyCachePolicy()
    mode = parse_cache_header(header)
    if key_policy.mode is CacheMode.OFF:
        return CacheDecision(False, False, "key policy off")
    if mode is CacheMode.OFF:
        return CacheDecision(False, False, "header off")
    if mode is CacheMode.ON:
        reason = "header on"
    elif key_policy.mode is CacheMode.ON:
        reason = "key policy on"
    elif is_deterministic(request):
        reason = "deterministic"
    else:
        return CacheDecision(False, False, "not deterministic (set temperature 0, a seed, or x-tokenmill-cache: on)")
    return CacheDecision(True, key_policy.semantic, reason, key_policy.ttl_s)

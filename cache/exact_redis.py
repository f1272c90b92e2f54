"""Redis exact cache: shared by every gateway replica; TTL per key, keys under one namespace.

The size bound at scale is Redis's own (`maxmemory` with `allkeys-lru` or `volatile-lru`); this
backend bounds each entry and always sets an expiry, so nothing it writes lives forever.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis

from cache.entry import CachedResponse, UnreadableEntry, checked_ttl

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RedisExactConfig:
    url: str = "redis://127.0.0.1:6379/0"
    namespace: str = "tokenmill:cache:"
    default_ttl_s: float = 3600.0
    max_entry_bytes: int = 4 * 1024 * 1024
    socket_timeout_s: float = 0.5

    def __post_init__(self) -> None:
        if self.default_ttl_s <= 0 or self.max_entry_bytes < 1:
            raise ValueError("default_ttl_s and max_entry_bytes must be positive")


class RedisExactBackend:
    blocking = True  # network I/O: call from a worker thread inside an event loop

    def __init__(self, config: RedisExactConfig | None = None, client: redis.Redis | None = None):
        self.config = config or RedisExactConfig()
        self._client = client or redis.Redis.from_url(
            self.config.url, socket_timeout=self.config.socket_timeout_s, socket_connect_timeout=self.config.socket_timeout_s
        )

    def _key(self, key: str) -> str:
        return f"{self.config.namespace}exact:{key}"

    def get(self, key: str) -> CachedResponse | None:
        data = self._client.get(self._key(key))
        if data is None:
            return None
        try:
            return CachedResponse.from_bytes(data)
        except UnreadableEntry:  # written by something else, or half a value: a miss, and the next answer replaces it
            log.warning("unreadable exact-cache entry %s in Redis: dropped", self._key(key))
            self._client.delete(self._key(key))
            return None

    def put(self, key: str, value: CachedResponse, ttl_s: float | None = None) -> bool:
        ttl = checked_ttl(ttl_s, self.config.default_ttl_s)
        data = value.to_bytes()
        if len(data) > self.config.max_entry_bytes:
            return False
        self._client.set(self._key(key), data, px=max(1, int(ttl * 1000)))
        return True

    def delete(self, key: str) -> None:
        self._client.delete(self._key(key))

    def clear(self) -> None:
        """Delete every exact entry of this namespace (SCAN, never KEYS)."""
        batch: list[bytes] = []
        for key in self._client.scan_iter(match=self._key("*"), count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                self._client.delete(*batch)
                batch.clear()
        if batch:
            self._client.delete(*batch)

    def close(self) -> None:
        self._client.close()

"""In-process exact cache: LRU with a TTL, bounded in entries and in bytes (the embedded default)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from cache.entry import CachedResponse, checked_ttl


@dataclass(frozen=True)
class MemoryExactConfig:
    max_entries: int = 10_000
    max_bytes: int = 256 * 1024 * 1024
    default_ttl_s: float = 3600.0
    max_entry_bytes: int = 4 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.max_entries < 1 or self.max_bytes < 1 or self.max_entry_bytes < 1:
            raise ValueError("cache bounds must be positive")
        if self.default_ttl_s <= 0:
            raise ValueError("default_ttl_s must be positive")


class MemoryExactBackend:
    """Thread-safe LRU of serialised entries. Values are stored as bytes so the byte bound is exact
    and a hit can never alias (and let a caller mutate) the stored body."""

    blocking = False  # no I/O: fine to call on the event loop

    def __init__(self, config: MemoryExactConfig | None = None, clock: Callable[[], float] = time.monotonic):
        self.config = config or MemoryExactConfig()
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()  # key -> (expires_at, value)
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def bytes_used(self) -> int:
        return self._bytes

    def get(self, key: str) -> CachedResponse | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            expires_at, data = item
            if expires_at <= self._clock():
                self._drop(key)
                return None
            self._items.move_to_end(key)
        return CachedResponse.from_bytes(data)

    def put(self, key: str, value: CachedResponse, ttl_s: float | None = None) -> bool:
        """Store; False when the entry alone exceeds the per-entry bound (it is then not cached)."""
        ttl = checked_ttl(ttl_s, self.config.default_ttl_s)
        data = value.to_bytes()
        if len(data) > min(self.config.max_entry_bytes, self.config.max_bytes):
            return False
        with self._lock:
            if key in self._items:
                self._drop(key)
            self._items[key] = (self._clock() + ttl, data)
            self._bytes += len(data)
            while len(self._items) > self.config.max_entries or self._bytes > self.config.max_bytes:
                self._drop(next(iter(self._items)))
        return True

    def delete(self, key: str) -> None:
        with self._lock:
            if key in self._items:
                self._drop(key)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def _drop(self, key: str) -> None:
        _, data = self._items.pop(key)
        self._bytes -= len(data)

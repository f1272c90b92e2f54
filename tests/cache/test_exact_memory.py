import pytest

from cache.entry import CachedResponse
from cache.exact_memory import MemoryExactBackend, MemoryExactConfig


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def entry(text: str = "hello", pad: int = 0) -> CachedResponse:
    body = {"object": "chat.completion", "choices": [{"message": {"role": "assistant", "content": text + "x" * pad}}]}
    return CachedResponse(body, cost_usd=0.01, deployment="d", created_at=1.0)


def test_get_returns_what_was_put_and_copies_are_independent():
    cache = MemoryExactBackend()
    cache.put("k", entry("hi"))
    got = cache.get("k")
    assert got == entry("hi")
    got.body["choices"][0]["message"]["content"] = "mutated"
    assert cache.get("k").body["choices"][0]["message"]["content"] == "hi"
    assert cache.get("missing") is None


def test_ttl_expires_entries():
    clock = FakeClock()
    cache = MemoryExactBackend(MemoryExactConfig(default_ttl_s=10), clock=clock)
    cache.put("a", entry())
    cache.put("b", entry(), ttl_s=100)
    clock.now += 10.5
    assert cache.get("a") is None and len(cache) == 1
    assert cache.get("b") is not None


def test_lru_entry_bound_evicts_least_recently_used():
    cache = MemoryExactBackend(MemoryExactConfig(max_entries=2))
    cache.put("a", entry())
    cache.put("b", entry())
    cache.get("a")  # a is now the most recently used
    cache.put("c", entry())
    assert cache.get("b") is None
    assert cache.get("a") is not None and cache.get("c") is not None


def test_byte_bound_is_kept_exactly():
    one = len(entry(pad=1000).to_bytes())
    cache = MemoryExactBackend(MemoryExactConfig(max_bytes=3 * one + 10))
    for key in "abcde":
        cache.put(key, entry(pad=1000))
        assert cache.bytes_used <= 3 * one + 10
    assert len(cache) == 3 and cache.get("a") is None and cache.get("e") is not None


def test_oversized_entry_is_refused_not_stored():
    cache = MemoryExactBackend(MemoryExactConfig(max_entry_bytes=500))
    assert cache.put("big", entry(pad=1000)) is False
    assert cache.get("big") is None and cache.bytes_used == 0


def test_replacing_a_key_keeps_byte_count_right():
    cache = MemoryExactBackend()
    cache.put("k", entry(pad=100))
    cache.put("k", entry(pad=10))
    assert cache.bytes_used == len(entry(pad=10).to_bytes())
    cache.delete("k")
    assert cache.bytes_used == 0 and len(cache) == 0


def test_bad_config_is_rejected():
    with pytest.raises(ValueError):
        MemoryExactConfig(max_entries=0)
    with pytest.raises(ValueError):
        MemoryExactBackend().put("k", entry(), ttl_s=0)

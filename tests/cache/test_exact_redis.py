import time

import pytest
import redis

from cache.entry import CachedResponse
from cache.exact_redis import RedisExactBackend, RedisExactConfig

pytestmark = pytest.mark.redis


def entry(text="hello", pad=0):
    body = {"object": "chat.completion", "choices": [{"message": {"role": "assistant", "content": text + "x" * pad}}]}
    return CachedResponse(body, cost_usd=0.02, deployment="dep", created_at=5.0)


@pytest.fixture
def backend(redis_url, redis_namespace):
    b = RedisExactBackend(RedisExactConfig(url=redis_url, namespace=redis_namespace, default_ttl_s=30))
    yield b
    b.close()


def test_round_trip_and_namespacing(backend, redis_url, redis_namespace):
    assert backend.put("k1", entry("hi"))
    assert backend.get("k1") == entry("hi")
    client = redis.Redis.from_url(redis_url)
    keys = [k.decode() for k in client.scan_iter(match=redis_namespace + "*")]
    assert keys == [f"{redis_namespace}exact:k1"]
    assert 0 < client.pttl(keys[0]) <= 30_000  # always written with an expiry
    client.close()


@pytest.mark.parametrize("stored", [b"not json", b'{"body": {}}', b"[1, 2]", b'{"body": {}, "cost_usd": "x", "created_at": 1}'])
def test_an_unreadable_entry_is_a_miss_and_is_dropped(backend, redis_url, redis_namespace, stored):
    client = redis.Redis.from_url(redis_url)
    client.set(f"{redis_namespace}exact:odd", stored, px=30_000)
    assert backend.get("odd") is None
    assert client.get(f"{redis_namespace}exact:odd") is None
    client.close()


def test_shared_across_backend_instances(backend, redis_url, redis_namespace):
    other = RedisExactBackend(RedisExactConfig(url=redis_url, namespace=redis_namespace))
    backend.put("shared", entry("from replica 1"))
    assert other.get("shared").body["choices"][0]["message"]["content"] == "from replica 1"
    other.close()


def test_other_namespace_does_not_see_entries(backend, redis_url, redis_namespace):
    stranger = RedisExactBackend(RedisExactConfig(url=redis_url, namespace=redis_namespace + "other:"))
    backend.put("k", entry())
    assert stranger.get("k") is None
    stranger.close()


def test_ttl_expiry(backend):
    backend.put("short", entry(), ttl_s=0.05)
    time.sleep(0.15)
    assert backend.get("short") is None


def test_entry_bound_and_clear(redis_url, redis_namespace):
    b = RedisExactBackend(RedisExactConfig(url=redis_url, namespace=redis_namespace, max_entry_bytes=300))
    assert b.put("big", entry(pad=1000)) is False and b.get("big") is None
    b.put("a", entry())
    b.put("b", entry())
    b.clear()
    assert b.get("a") is None and b.get("b") is None
    b.close()

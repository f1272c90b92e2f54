import pytest

from cache.canonical import CacheRequestError
from cache.policy import CacheMode, CacheStatus, KeyCachePolicy, decide, is_deterministic, parse_cache_header

REQ = {"messages": [{"role": "user", "content": "hi"}]}


def test_deterministic_requests():
    assert is_deterministic({**REQ, "temperature": 0})
    assert is_deterministic({**REQ, "temperature": 0.0})
    assert is_deterministic({**REQ, "temperature": 1.0, "seed": 42})
    assert not is_deterministic(REQ)  # default temperature is 1
    assert not is_deterministic({**REQ, "temperature": 0.2})
    assert not is_deterministic({**REQ, "temperature": False, "seed": True})


def test_auto_uses_cache_only_for_deterministic_requests():
    used = decide({**REQ, "temperature": 0})
    assert used.use and used.semantic and used.status_if_not_found is CacheStatus.MISS
    skipped = decide({**REQ, "temperature": 0.7})
    assert not skipped.use and skipped.status_if_not_found is CacheStatus.BYPASS


def test_header_on_opts_in_and_off_bypasses():
    assert decide({**REQ, "temperature": 0.7}, header="on").use
    assert decide({**REQ, "temperature": 0.7}, header=" ON ").use
    assert not decide({**REQ, "temperature": 0}, header="off").use
    assert decide({**REQ, "temperature": 0}, header="auto").use


def test_key_policy_off_wins_over_header_on():
    decision = decide({**REQ, "temperature": 0}, header="on", key_policy=KeyCachePolicy(CacheMode.OFF))
    assert not decision.use and decision.status_if_not_found is CacheStatus.BYPASS


def test_key_policy_on_and_semantic_switch_and_ttl():
    decision = decide({**REQ, "temperature": 0.9}, key_policy=KeyCachePolicy(CacheMode.ON, semantic=False, ttl_s=60))
    assert decision.use and not decision.semantic and decision.ttl_s == 60


def test_unknown_header_value_is_a_clear_error():
    with pytest.raises(CacheRequestError, match="x-tokenmill-cache"):
        parse_cache_header("maybe")
    with pytest.raises(CacheRequestError):
        KeyCachePolicy(ttl_s=0)

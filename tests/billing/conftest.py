"""Fixtures for billing tests: both counter stores, both databases, tenants and budgets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from billing.budgets.memory_store import MemoryStore
from billing.budgets.redis_store import RedisStore
from billing.budgets.store import CounterStore, CounterSum


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, anyio_backend: str) -> AsyncIterator[CounterStore]:
    """Each counter store, fresh (no epoch): the shared contract runs against both."""
    if request.param == "memory":
        yield MemoryStore()
        return
    redis_store = RedisStore.from_url(request.getfixturevalue("redis_url"), request.getfixturevalue("redis_namespace"))
    yield redis_store
    # Bounded: a test stopped by pytest-timeout can leave the pool mid-operation, and an
    # unbounded close then hung the whole suite.
    await asyncio.wait_for(redis_store.close(), timeout=10)


async def make_ready(store: CounterStore, sums: list[CounterSum] = ()) -> str:
    """Take a fresh store through the rebuild protocol with the given ledger sums."""
    assert await store.begin_rebuild("g0", 30) == "mine"
    assert await store.finish_rebuild("g0", list(sums))
    return "g0"


async def lose_state(store: CounterStore) -> None:
    """What a Redis restart (or a crashed process, for the in-process store) does to the counters."""
    if isinstance(store, MemoryStore):
        store.lose_everything()
        return
    keys = [k async for k in store.client.scan_iter(match=store.ns + "*", count=1000)]
    if keys:
        await store.client.delete(*keys)


async def lose_counter(store: CounterStore, counter_id: str) -> None:
    """One counter gone on its own (an eviction under memory pressure), its reservations left."""
    if isinstance(store, MemoryStore):
        store._counters.pop(counter_id, None)
        return
    await store.client.delete(store.ns + "c:" + counter_id)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:  # noqa: ANN001
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/billing.db"
    return request.getfixturevalue("postgres_schema_url")


@pytest.fixture(scope="session")
def fake_openai():  # noqa: ANN201 - FakeOpenAI
    from tests.fakes.openai_upstream import FakeOpenAI

    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


def billing_models(fake, **metered_info) -> list[dict]:  # noqa: ANN001
    """A strong 'metered' model and a cheap 'mini' one on the fake upstream, both priced."""

    def model(name: str, tier: str, input_cost: float, output_cost: float, **info) -> dict:  # noqa: ANN003
        return {
            "model_name": name,
            "litellm_params": {"model": f"openai/{name}-upstream", "api_base": fake.base_url, "api_key": fake.api_key, "max_retries": 0},
            "model_info": {"tier": tier, "input_cost_per_token": input_cost, "output_cost_per_token": output_cost, "max_output_tokens": 1000, **info},
        }

    return [model("metered", "strong", 1e-5, 3e-5, **metered_info), model("mini", "cheap", 1e-6, 2e-6)]


def upstream_cost_nanos(fake, markup: float = 0.0, model: str | None = None) -> int:  # noqa: ANN001
    """What the fake upstream reported for every chat call it answered, priced: the bill to match."""
    from billing.prices import Price
    from billing.usage import TokenUsage
    from tests.fakes.openai_upstream import prompt_tokens_of, reply_words

    prices = {"metered-upstream": Price(input=1e-5, output=3e-5), "mini-upstream": Price(input=1e-6, output=2e-6)}
    total = 0
    for request in fake.requests:
        if model and request["model"] != model:
            continue
        last_user = next(m for m in reversed(request["messages"]) if m["role"] == "user")
        usage = TokenUsage(prompt_tokens_of(request), len(reply_words(f"echo: {last_user['content']}")))
        total += prices[request["model"]].cost_nanos(usage, markup)
    return total

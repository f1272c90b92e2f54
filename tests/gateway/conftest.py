"""Fixtures for gateway tests: fake upstreams and the gateway on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.openai_upstream import FakeOpenAI
from tests.support.db import database_url
from tests.support.gateway import GatewayUnderTest, start_gateway


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def fake_anthropic() -> Iterator[FakeAnthropic]:
    fake = FakeAnthropic().start()
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def _clean_fakes(request: pytest.FixtureRequest) -> None:
    for name in ("fake_openai", "fake_anthropic"):
        if name in request.fixturenames:
            fake = request.getfixturevalue(name)
            if hasattr(fake, "reset"):
                fake.reset()


def model_list(fake: FakeOpenAI, anthropic: FakeAnthropic | None = None) -> list[dict[str, Any]]:
    def openai_model(name: str, upstream: str, tier: str = "strong", **extra: Any) -> dict[str, Any]:
        params = {"model": f"openai/{upstream}", "api_base": fake.base_url, "api_key": fake.api_key, "max_retries": 2, **extra.pop("params", {})}
        return {"model_name": name, "litellm_params": params, "model_info": {"tier": tier, **extra.pop("info", {})}, **extra}

    models = [
        openai_model("gpt-4o-mini", "gpt-4o-mini", tier="cheap", info={"prompt_cache_key": True}),
        openai_model("gpt-4o", "gpt-4o"),
        openai_model("flaky", "flaky-upstream", info={"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}),
        openai_model("primary", "primary-upstream", fallbacks=["backup"], params={"max_retries": 0}),
        openai_model("backup", "backup-upstream"),
        openai_model("slow", "slow-upstream", params={"first_byte_timeout": 0.3, "max_retries": 0}),
        openai_model("embedder", "text-embedding-3-small", info={"mode": "embedding"}),
        openai_model("instruct", "gpt-3.5-turbo-instruct"),
        # Two engine instances behind one name: traffic alternates, an agent run stays on one.
        openai_model("pool", "pool-a", tier="local", deployment_id="pool-a"),
        openai_model("pool", "pool-b", tier="local", deployment_id="pool-b"),
        # A stand-in for a remote Tokenmill engine: the local tier, priced like one.
        {
            "model_name": "local-small",
            "litellm_params": {"model": "tokenmill_engine/local-small", "api_base": fake.base_url, "api_key": fake.api_key, "max_retries": 0},
            "model_info": {"tier": "local", "supports_tools": False, "input_cost_per_token": 1e-9, "output_cost_per_token": 1e-8, "context_window": 4096},
        },
    ]
    if anthropic is not None:
        models.append(
            {
                "model_name": "claude",
                "litellm_params": {"model": "anthropic/claude-sonnet-4-5", "api_base": anthropic.base_url, "api_key": anthropic.api_key},
                "model_info": {"tier": "strong"},
            }
        )
    return models


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def gateway(request: pytest.FixtureRequest, fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayUnderTest]:
    tmp = tmp_path_factory.mktemp("gw")
    with database_url(request.param, request, tmp, "gw") as url:
        gw = start_gateway(url, str(tmp), model_list=model_list(fake_openai, fake_anthropic))
        yield gw
        gw.stop()

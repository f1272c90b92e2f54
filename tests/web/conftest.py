"""Fixtures for the admin UI tests: a fake upstream and the real gateway (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.openai_upstream import FakeOpenAI
from tests.support.db import database_url
from tests.support.gateway import GatewayUnderTest, start_gateway
from tests.web.support import AdminClient, model_list


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


def _gateway(request: pytest.FixtureRequest, fake: FakeOpenAI, tmp: str, backend: str) -> Iterator[GatewayUnderTest]:
    with database_url(backend, request, tmp, "web") as url:
        gw = start_gateway(url, tmp, model_list=model_list(fake))
        try:
            yield gw
        finally:
            gw.stop()


@pytest.fixture(scope="package", params=["sqlite", "postgres"])
def admin_gateway(request: pytest.FixtureRequest, fake_openai: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayUnderTest]:
    yield from _gateway(request, fake_openai, str(tmp_path_factory.mktemp("web")), request.param)


@pytest.fixture(scope="module")
def sqlite_gateway(request: pytest.FixtureRequest, fake_openai: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayUnderTest]:
    yield from _gateway(request, fake_openai, str(tmp_path_factory.mktemp("webui")), "sqlite")


@pytest.fixture
def admin(admin_gateway: GatewayUnderTest) -> Iterator[AdminClient]:
    client = AdminClient(admin_gateway.url)
    client.sign_in(admin_gateway.admin_key)
    yield client
    client.close()

"""Fixtures shared by every test package: real services, found or reported loudly.

In CI (CI=true) a test that needs Redis or PostgreSQL fails when the service is missing;
elsewhere it is skipped with a reason that names the service and the URL tried.
"""

from __future__ import annotations

import os

# Triton chooses interpreter or compiler when it is first imported, and importing some
# transformers model classes imports it: set this before anything else so the Triton kernel
# tests run on CPU tensors whatever order pytest collects modules in.
os.environ.setdefault("TRITON_INTERPRET", "1")
import socket
import uuid
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

REDIS_URL = os.environ.get("TOKENMILL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get(
    "TOKENMILL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), 1.0):
            return True
    except OSError:
        return False


def require_service(name: str, url: str, default_port: int) -> None:
    """Fail in CI, skip loudly elsewhere, when a service the test needs is not there."""
    if _reachable(url, default_port):
        return
    message = f"{name} is not reachable at {url}: this test needs a real {name}"
    if IN_CI:
        pytest.fail(message + " (CI=true, so this is a failure, not a skip)")
    pytest.skip("SKIPPED LOUDLY: " + message)


@pytest.fixture(scope="session")
def redis_url() -> str:
    require_service("Redis", REDIS_URL, 6379)
    return REDIS_URL


@pytest.fixture
def redis_namespace(redis_url: str) -> Iterator[str]:
    """A key prefix unique to one test; its keys are deleted afterwards."""
    import redis

    prefix = f"tmtest:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    require_service("PostgreSQL", POSTGRES_URL, 5432)
    return POSTGRES_URL


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL schema for one test, dropped afterwards; the URL selects it."""
    from tests.support.db import postgres_schema

    with postgres_schema(postgres_url) as url:
        yield url

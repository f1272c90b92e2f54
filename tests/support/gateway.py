"""The real gateway under uvicorn on loopback, in a background thread, for tests and benches."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import sqlalchemy as sa
import uvicorn

from billing import accounts
from billing.db import create_db_engine, db_session
from billing.models import UsageRecord
from gateway.app import create_app
from gateway.bootstrap import prepare_database
from gateway.settings import Settings, load_settings
from tests.fakes.server import free_port

ADMIN_KEY = "sk-tm-admin-test-0123456789abcdef"


class UvicornThread:
    def __init__(self, app: Any, port: int):
        self.port = port
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self, timeout: float = 60.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the gateway failed to start (see the log above)")
            if time.monotonic() > deadline:
                raise TimeoutError("the gateway did not start in time")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


@dataclass
class GatewayUnderTest:
    settings: Settings
    server: UvicornThread
    db: sa.Engine
    admin_key: str = ADMIN_KEY
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    @property
    def services(self) -> Any:
        """The running gateway's Services (tests reach in only where no API exists)."""
        app = self.server.server.config.loaded_app
        while not hasattr(app, "state"):
            app = app.app  # uvicorn wraps the FastAPI app in middleware
        return app.state.services

    def principal_tenant(self, key: str) -> str:
        with db_session(self.db) as session:
            return accounts.find_key_by_secret(session, key).tenant_id

    def new_key(self, tenant: str = "acme", **kwargs: Any) -> str:
        with db_session(self.db) as session:
            created = accounts.create_key(session, accounts.ensure_tenant(session, tenant), **kwargs)
        return created.secret

    def openai(self, key: str | None = None, **kwargs: Any):  # noqa: ANN201 - openai.OpenAI
        import openai

        return openai.OpenAI(base_url=self.base_url, api_key=key or self.new_key(), max_retries=0, **kwargs)

    def http(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def usage_rows(self, **filters: Any) -> list[UsageRecord]:
        query = sa.select(UsageRecord).order_by(UsageRecord.id)
        for name, value in filters.items():
            query = query.where(getattr(UsageRecord, name) == value)
        with db_session(self.db) as session:
            return list(session.execute(query).scalars())

    def wait_for_usage(self, request_id: str, timeout: float = 10.0) -> UsageRecord:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.usage_rows(request_id=request_id)
            if rows:
                return rows[0]
            time.sleep(0.02)
        raise AssertionError(f"no usage row for {request_id} after {timeout}s")

    def wait_until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.02)
        raise AssertionError("condition not met in time")

    def stop(self) -> None:
        self.server.stop()
        self.db.dispose()


def start_gateway(database_url: str, tmp_dir: str, **settings: Any) -> GatewayUnderTest:
    config = {
        "database_url": database_url,
        "admin_key": ADMIN_KEY,
        "spool_dir": f"{tmp_dir}/spool",
        "retry_backoff_seconds": 0.01,
        "usage_flush_interval": 0.01,
        **settings,
    }
    resolved = load_settings(**config)
    db = create_db_engine(database_url)
    prepare_database(db, ADMIN_KEY)
    server = UvicornThread(create_app(resolved), free_port())
    server.start()
    return GatewayUnderTest(settings=resolved, server=server, db=db)

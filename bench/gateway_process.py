"""The real gateway as benchmarks run it: `tokenmill serve --config FILE` in its own process.

Keys are created and the ledger is read straight from the gateway's SQLite database (the same
tables the admin API reads), so a bench needs no admin calls and no `tokenmill keys` processes.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from _procs import free_port, start, stop, wait_http

from billing import accounts
from billing.db import create_db_engine, db_session
from billing.models import UsageRecord

BIN = Path(sys.executable).parent


@dataclass
class GatewayProcess:
    proc: subprocess.Popen
    port: int
    db: sa.Engine
    log: Path

    @classmethod
    def start(cls, workdir: Path, **settings: Any) -> GatewayProcess:
        """Write the config (SQLite under `workdir` unless given), start the gateway, wait for /healthz."""
        workdir.mkdir(parents=True, exist_ok=True)
        config = {
            "database_url": f"sqlite:///{workdir}/tokenmill.db",
            "spool_dir": str(workdir / "spool"),
            "log_level": "warning",
            "usage_flush_interval": 0.05,
            **settings,
        }
        path = workdir / "tokenmill.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        port = free_port()
        log = workdir / "gateway.log"
        env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "TOKENMILL_CONFIG": str(path)}
        proc = start([str(BIN / "tokenmill"), "serve", "--config", str(path), "--port", str(port)], log, env)
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", proc, log, timeout=180)
        except BaseException:
            stop(proc)
            raise
        return cls(proc, port, create_db_engine(config["database_url"]), log)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def new_key(self, tenant: str) -> tuple[str, str]:
        """A user key for `tenant` (created if new): (secret, tenant id)."""
        with db_session(self.db) as session:
            owner = accounts.ensure_tenant(session, tenant)
            tenant_id = owner.id
            secret = accounts.create_key(session, owner).secret
        return secret, tenant_id

    def openai(self, key: str):  # noqa: ANN201 - openai.OpenAI
        import openai

        return openai.OpenAI(base_url=self.base_url, api_key=key, max_retries=0, timeout=120)

    def usage_rows(self, tenant_id: str | None = None) -> list[UsageRecord]:
        """The ledger's rows (of one tenant, or all)."""
        query = sa.select(UsageRecord).order_by(UsageRecord.id)
        if tenant_id is not None:
            query = query.where(UsageRecord.tenant_id == tenant_id)
        with db_session(self.db) as session:
            return list(session.execute(query).scalars())

    def wait_rows(self, tenant_id: str, count: int, timeout: float = 30.0) -> list[UsageRecord]:
        """The tenant's usage rows once `count` of them are in the ledger (writes are batched)."""
        return wait_for(lambda: self.usage_rows(tenant_id), lambda rows: len(rows) >= count, timeout, f"{count} usage rows of {tenant_id}")

    def stop(self) -> None:
        stop(self.proc)
        self.db.dispose()


def wait_for(get: Callable[[], Any], done: Callable[[Any], bool], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = get()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout} s for {what}")
        time.sleep(0.05)

"""What tasks need from their process: settings, a database engine, and (when the worker runs
inside a gateway) that gateway's Admission, whose in-process counters only it can reach."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.engine import Engine

from gateway.settings import Settings, load_settings

_settings: Settings | None = None
_engine: Engine | None = None
_admission: Any = None  # gateway.admission.Admission of this process, when embedded


def use_settings(settings: Settings) -> None:
    global _settings, _engine
    _settings, _engine = settings, None


def settings() -> Settings:
    global _settings
    if _settings is None:
        _settings = load_settings()
    return _settings


def engine() -> Engine:
    global _engine
    if _admission is not None:
        return _admission.engine
    if _engine is None:
        from billing.db import create_db_engine

        _engine = create_db_engine(settings().database_url)
    return _engine


def use_local_admission(admission: Any) -> None:
    global _admission
    _admission = admission


def local_admission() -> Any:
    return _admission


def on_gateway_loop(coro: Any, timeout: float = 60.0) -> Any:
    """Run a coroutine on the gateway's event loop (the admission's store belongs to it)."""
    return asyncio.run_coroutine_threadsafe(coro, _admission._loop).result(timeout)

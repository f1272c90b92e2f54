"""Fresh databases for tests: a SQLite file, or a PostgreSQL schema dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa


@contextmanager
def postgres_schema(base_url: str, prefix: str = "t") -> Iterator[str]:
    """A new schema on the server at `base_url`; the URL it yields selects it."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(base_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@contextmanager
def database_url(backend: str, request: pytest.FixtureRequest, folder: Path | str, prefix: str) -> Iterator[str]:
    """A fresh database of `backend` ("sqlite": a file in `folder`; "postgres": a schema)."""
    if backend == "sqlite":
        yield f"sqlite:///{folder}/tokenmill.db"
        return
    with postgres_schema(request.getfixturevalue("postgres_url"), prefix) as url:
        yield url

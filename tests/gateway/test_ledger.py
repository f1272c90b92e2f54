"""The usage ledger never loses a row: batched writes, shutdown flush, spool and replay."""

from __future__ import annotations

from datetime import UTC
from urllib.parse import urlparse

import orjson
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import billing.tables  # noqa: F401 - registers the tables
from billing.db import create_db_engine, upgrade_schema
from billing.ledger import Spool, insert_usage
from tests.gateway.conftest import model_list
from tests.support.gateway import start_gateway
from tests.support.tcp_proxy import TcpProxy

MESSAGES = [{"role": "user", "content": "count me"}]


def _row(request_id: str) -> dict:
    from datetime import datetime

    return {
        "request_id": request_id, "created_at": datetime.now(UTC), "tenant_id": "t", "key_id": "k", "run_id": None,
        "endpoint": "chat", "model_requested": "m", "model_served": "m", "deployment": "d", "provider": "openai", "tier": "cheap",
        "route_reason": "", "route_score": None, "cache": "", "prompt_tokens": 3, "completion_tokens": 4, "cached_tokens": 0,
        "cache_write_tokens": 0, "reasoning_tokens": 0, "cost_nanos": 1234, "saved_nanos": 0, "latency_ms": 1.0, "ttft_ms": None,
        "stream": False, "status_code": 200, "error_type": None,
    }


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/ledger.db"
    return request.getfixturevalue("postgres_schema_url")


def test_migrations_match_the_models(db_url):
    engine = create_db_engine(db_url)
    upgrade_schema(engine)
    upgrade_schema(engine)  # idempotent
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations disagree; add a migration: {diff}"


def test_inserts_are_idempotent_by_request_id_and_spool_replays(db_url, tmp_path):
    engine = create_db_engine(db_url)
    upgrade_schema(engine)
    insert_usage(engine, [_row("r1"), _row("r2")])
    insert_usage(engine, [_row("r2"), _row("r3")])  # r2 again: skipped, not an error
    spool = Spool(tmp_path / "spool.jsonl")
    spool.append([_row("r3"), _row("r4")])
    assert spool.replay(engine) == 2 and not spool.pending()
    with engine.connect() as conn:
        ids = sorted(conn.execute(sa.text("SELECT request_id FROM usage_records")).scalars())
    engine.dispose()
    assert ids == ["r1", "r2", "r3", "r4"]


def test_text_with_nul_is_written_not_refused(db_url):
    engine = create_db_engine(db_url)
    upgrade_schema(engine)
    insert_usage(engine, [_row("nul") | {"model_requested": "gpt\x004o", "run_id": "run\x00"}])
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT model_requested, run_id FROM usage_records WHERE request_id = 'nul'")).one()
    engine.dispose()
    assert tuple(row) == ("gpt\ufffd4o", "run\ufffd")


def test_a_spooled_row_the_database_refuses_does_not_hold_back_the_others(db_url, tmp_path):
    engine = create_db_engine(db_url)
    upgrade_schema(engine)
    spool = Spool(tmp_path / "spool.jsonl")
    spool.append([_row("before"), _row("poison") | {"tenant_id": None, "request_id": None}, _row("after")])
    assert spool.replay(engine) == 2 and not spool.pending()
    with engine.connect() as conn:
        ids = sorted(conn.execute(sa.text("SELECT request_id FROM usage_records")).scalars())
    engine.dispose()
    assert ids == ["after", "before"]
    assert [r["request_id"] for r in map(orjson.loads, spool.rejected_path.read_bytes().splitlines())] == [None]


def test_rows_read_back_exactly_as_written(db_url):
    from sqlmodel import select

    from billing.db import db_session
    from billing.models import UsageRecord

    engine = create_db_engine(db_url)
    upgrade_schema(engine)
    written = _row("exact") | {"run_id": "run-1", "stream": True, "route_score": 0.25, "ttft_ms": 3.5, "error_type": "x"}
    insert_usage(engine, [written])
    with db_session(engine) as session:
        row = session.exec(select(UsageRecord).where(UsageRecord.request_id == "exact")).one()
    engine.dispose()
    assert {c: getattr(row, c) for c in written} == written  # created_at included, to the microsecond


def test_rows_are_flushed_on_shutdown(fake_openai, tmp_path):
    gw = start_gateway(f"sqlite:///{tmp_path}/flush.db", str(tmp_path), model_list=model_list(fake_openai), usage_flush_interval=60)
    client = gw.openai()
    request_ids = [client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES).headers["x-request-id"] for _ in range(5)]
    assert gw.usage_rows() == []  # nothing written yet: the flush interval is a minute
    gw.stop()
    engine = create_db_engine(f"sqlite:///{tmp_path}/flush.db")
    with engine.connect() as conn:
        written = set(conn.execute(sa.text("SELECT request_id FROM usage_records")).scalars())
    engine.dispose()
    assert set(request_ids) <= written


def test_database_outage_spools_rows_and_replays_them(fake_openai, postgres_schema_url, tmp_path):
    real = urlparse(postgres_schema_url.replace("postgresql+psycopg", "postgresql"))
    proxy = TcpProxy(real.hostname, real.port or 5432).start()
    url = postgres_schema_url.replace(f"{real.hostname}:{real.port or 5432}", f"127.0.0.1:{proxy.port}")
    gw = start_gateway(url, str(tmp_path), model_list=model_list(fake_openai), usage_replay_interval=0.2)
    try:
        client = gw.openai()
        before = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES).headers["x-request-id"]
        gw.wait_for_usage(before)

        proxy.cut()
        gw.db.dispose()
        with gw.http() as http:
            assert http.get("/readyz").status_code == 503
        during = [client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES).headers["x-request-id"] for _ in range(3)]
        spool = Spool(tmp_path / "spool" / "usage.jsonl")
        gw.wait_until(spool.pending)

        proxy.restore()
        for request_id in during:
            assert gw.wait_for_usage(request_id).status_code == 200
        gw.wait_until(lambda: not spool.pending())
        with gw.http() as http:
            assert http.get("/readyz").status_code == 200
    finally:
        gw.stop()
        proxy.stop()


def _through_recorder(db_url: str, spool: Spool, steps) -> list[str]:  # noqa: ANN001 - async steps(recorder)
    """Run `steps` on a UsageRecorder over a fresh ledger (its replay loop never runs on its own);
    the request ids the ledger then holds, sorted."""
    import asyncio

    from gateway.usage_recorder import UsageRecorder

    engine = create_db_engine(db_url)
    upgrade_schema(engine)
    asyncio.run(steps(UsageRecorder(engine, spool, replay_interval=3600)))
    with engine.connect() as conn:
        ids = sorted(conn.execute(sa.text("SELECT request_id FROM usage_records")).scalars())
    engine.dispose()
    return ids


def test_the_ledger_barrier_of_a_counter_rebuild_takes_in_the_spool_too(db_url, tmp_path):
    """Counters are rebuilt from the ledger right after this barrier: rows spooled while the database
    was away used to be left out of it (replayed seconds later), and the rebuilt counter missed
    their spend, which the budget then let be spent again."""
    spool = Spool(tmp_path / "spool.jsonl")
    spool.append([_row("spooled-1"), _row("spooled-2")])

    async def barrier(recorder) -> None:  # noqa: ANN001
        recorder.record(_row("queued"))
        await recorder.into_ledger()

    assert _through_recorder(db_url, spool, barrier) == ["queued", "spooled-1", "spooled-2"] and not spool.pending()


def test_a_row_the_database_cannot_hold_is_set_aside_and_the_rows_after_it_are_written(db_url, tmp_path):
    """SQLite's driver raises a bare OverflowError for an integer past 64 bits: it used to escape
    the writer and stop the ledger for good."""
    spool = Spool(tmp_path / "spool.jsonl")

    async def write(recorder) -> None:  # noqa: ANN001
        recorder.record({**_row("absurd"), "cost_nanos": 2**64})
        recorder.record(_row("before"))
        await recorder.flush()
        recorder.record(_row("after"))
        await recorder.into_ledger()

    assert _through_recorder(db_url, spool, write) == ["after", "before"] and not spool.pending()
    rejected = [orjson.loads(line)["request_id"] for line in spool.rejected_path.read_bytes().splitlines() if line.strip()]
    assert rejected == ["absurd"]

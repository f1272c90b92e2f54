"""Sending chunk tasks to the broker (Redis, or SQLite through kombu's SQLAlchemy transport).

Messages go through a connection opened for this call on the configured broker, not through
the Celery app's producer pool: the gateway process only publishes, and may never have
configured the app for consuming.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from kombu.exceptions import KombuError
from sqlalchemy.engine import Engine

from gateway.batches.store import CHUNKS, now_ms

log = logging.getLogger(__name__)

RUN_CHUNK = "tokenmill.batches.run_chunk"


def publish_chunks(settings: Any, engine: Engine, batch_id: str, chunk_nos: list[int]) -> bool:
    """Mark the chunks dispatched and send one task each. On a broker error the marks are
    cleared so the next sweep sends them again; returns whether the messages went out."""
    if not chunk_nos:
        return True
    mark(engine, batch_id, chunk_nos, now_ms())
    try:
        send(settings, [(RUN_CHUNK, [batch_id, n]) for n in chunk_nos])
        return True
    except (KombuError, OSError) as exc:
        log.error("could not send %d chunk tasks of %s to the broker (%s); the batch sweep will retry", len(chunk_nos), batch_id, exc)
        mark(engine, batch_id, chunk_nos, None)
        return False


def mark(engine: Engine, batch_id: str, chunk_nos: list[int], when_ms: int | None) -> None:
    with engine.begin() as conn:
        values: dict[str, Any] = {"dispatched_at_ms": when_ms}
        if when_ms is not None:
            values["dispatches"] = CHUNKS.c.dispatches + 1
        conn.execute(sa.update(CHUNKS).where(CHUNKS.c.batch_id == batch_id, CHUNKS.c.chunk_no.in_(chunk_nos)).values(**values))


def send(settings: Any, messages: list[tuple[str, list[Any]]]) -> None:
    from gateway.celery_app import app, broker_url_for

    with app.connection_for_write(broker_url_for(settings)) as conn:
        conn.ensure_connection(max_retries=3)
        queue = app.amqp.queues[app.conf.task_default_queue]
        queue(conn.default_channel).declare()
        producer = app.amqp.Producer(conn, auto_declare=False)
        for name, args in messages:
            app.send_task(name, args=args, producer=producer, ignore_result=True)

"""Housekeeping: the embedded broker (kombu's SQLAlchemy transport marks delivered messages
invisible but never deletes them, so its table would grow for ever) and the shared pgvector
semantic cache (expired rows, and rows past `cache.semantic_max_entries`)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa

from gateway.celery_app import app
from gateway.tasks import runtime

log = logging.getLogger(__name__)

KEEP = timedelta(hours=1)


def purge_delivered(broker_url: str, older_than: timedelta = KEEP) -> int:
    """Delete delivered (invisible) messages older than `older_than` from a `sqla+` broker."""
    if not broker_url.startswith("sqla+"):
        return 0
    engine = sa.create_engine(broker_url.removeprefix("sqla+"))
    try:
        with engine.begin() as conn:
            if not sa.inspect(conn).has_table("kombu_message"):
                return 0
            # kombu stamps messages with naive local time (datetime.now).
            cutoff = datetime.now() - older_than
            result = conn.execute(sa.text("DELETE FROM kombu_message WHERE visible = :no AND timestamp < :cutoff"), {"no": False, "cutoff": cutoff})
            return result.rowcount or 0
    finally:
        engine.dispose()


@app.task(name="tokenmill.broker.purge_delivered")
def purge_delivered_messages() -> int:
    count = purge_delivered(app.conf.broker_url or "")
    if count:
        log.info("purged %d delivered broker messages", count)
    return count


@app.task(name="tokenmill.cache.purge_semantic")
def purge_semantic_cache() -> int:
    cfg = runtime.settings().cache
    if not (cfg.enabled and cfg.semantic and cfg.semantic_backend == "pgvector" and cfg.pgvector_url):
        return 0
    from cache.semantic_pgvector import purge_table

    count = purge_table(cfg.pgvector_url, max_entries=cfg.semantic_max_entries)
    if count:
        log.info("purged %d semantic cache rows (expired or past %d entries)", count, cfg.semantic_max_entries)
    return count

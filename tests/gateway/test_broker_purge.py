"""The embedded broker's delivered messages are purged once old; waiting ones are kept."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from kombu import Connection

from gateway.tasks.maintenance import purge_delivered


def test_only_delivered_messages_are_purged(tmp_path):
    url = f"sqla+sqlite:///{tmp_path}/broker.sqlite"
    with Connection(url) as conn:
        queue = conn.SimpleQueue("jobs")
        queue.put({"n": 1})
        queue.put({"n": 2})
        queue.get(timeout=5).ack()  # delivered: kombu keeps it, invisible
        queue.close()

    assert purge_delivered(url, older_than=timedelta(hours=1)) == 0  # too recent
    assert purge_delivered(url, older_than=timedelta(seconds=-1)) == 1
    engine = sa.create_engine(url.removeprefix("sqla+"))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM kombu_message")).scalar_one() == 1  # the waiting one stays
    engine.dispose()
    with Connection(url) as conn:
        assert conn.SimpleQueue("jobs").get(timeout=5).payload == {"n": 2}
    assert purge_delivered("redis://127.0.0.1:6379/0") == 0  # other brokers delete on ack

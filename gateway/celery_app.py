"""The Celery app: scheduled billing work (period openings, rollups, the reservation reaper,
alert delivery); other packages add their task modules to INCLUDE.

Importing this module only creates the app object. `configure(settings)` sets the broker
(Redis when TOKENMILL_REDIS_URL is set, else SQLite through kombu's SQLAlchemy transport) and
the beat schedule; `tokenmill worker` / `tokenmill beat` and the embedded jobs call it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
from pathlib import Path

from celery import Celery

from gateway.settings import Settings
from gateway.tasks import runtime

log = logging.getLogger(__name__)

INCLUDE = ["gateway.tasks.billing", "gateway.tasks.routing", "gateway.tasks.maintenance", "gateway.tasks.batch"]

app = Celery("tokenmill", include=INCLUDE)
app.conf.update(
    task_ignore_result=True,
    task_serializer="json",
    accept_content=["json"],
    timezone="UTC",
    enable_utc=True,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)


def broker_url_for(settings: Settings) -> str:
    if settings.billing.broker_url:
        return settings.billing.broker_url
    if settings.redis_url:
        return settings.redis_url
    return f"sqla+sqlite:///{_state_dir(settings) / 'celery-broker.sqlite'}"


def _state_dir(settings: Settings) -> Path:
    folder = Path(settings.spool_dir).resolve().parent
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def beat_schedule(settings: Settings) -> dict[str, dict]:
    cfg = settings.billing
    return {
        "reap-reservations": {"task": "tokenmill.billing.reap", "schedule": cfg.reap_schedule_seconds},
        "deliver-alerts": {"task": "tokenmill.billing.deliver_alerts", "schedule": cfg.alert_interval_seconds},
        "rollup-usage": {"task": "tokenmill.billing.rollup", "schedule": cfg.rollup_interval_seconds},
        # A new period's counters start from the ledger (and a day's first call does not pay for it).
        "open-periods": {"task": "tokenmill.billing.open_periods", "schedule": 300.0},
        "recalibrate-routes": {"task": "tokenmill.routing.recalibrate", "schedule": 3600.0},
        "purge-broker": {"task": "tokenmill.broker.purge_delivered", "schedule": 900.0},
        "purge-semantic-cache": {"task": "tokenmill.cache.purge_semantic", "schedule": 300.0},
    }


def configure(settings: Settings) -> Celery:
    runtime.use_settings(settings)
    app.conf.update(broker_url=broker_url_for(settings), beat_schedule=beat_schedule(settings))
    return app


class EmbeddedJobs:
    """A Celery worker (solo pool) and beat, in threads of the gateway process."""

    def __init__(self, settings: Settings, lock_file):  # noqa: ANN001 - an open file holding the lock
        from celery.beat import EmbeddedService
        from celery.worker import WorkController

        self._lock_file = lock_file
        configure(settings)
        app.finalize()
        self.worker = WorkController(
            app=app,
            hostname=f"tokenmill-embedded@{socket.gethostname()}.{os.getpid()}",
            pool="solo",
            concurrency=1,
            loglevel="WARNING",
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
        )
        self.beat = EmbeddedService(app, thread=True, schedule_filename=str(_state_dir(settings) / "celery-beat-schedule"))
        self._thread = threading.Thread(target=self.worker.start, name="celery-worker", daemon=True)

    def start(self) -> EmbeddedJobs:
        self._thread.start()
        self.beat.start()
        return self

    def stop(self) -> None:
        self.beat.stop()
        self.worker.stop(in_sighandler=False)
        self._thread.join(15)
        runtime.use_local_admission(None)
        fcntl.flock(self._lock_file, fcntl.LOCK_UN)
        self._lock_file.close()


def start_embedded_jobs(settings: Settings, admission) -> EmbeddedJobs | None:  # noqa: ANN001 - gateway.admission.Admission
    """In the embedded default (no Redis), run the jobs in this process; with several gateway
    worker processes only the first one to take the lock does."""
    if settings.redis_url or not settings.billing.embedded_worker:
        return None
    lock_file = open(_state_dir(settings) / "celery-embedded.lock", "w")  # noqa: SIM115 - held for the jobs' lifetime
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock_file.close()
        return None
    runtime.use_local_admission(admission)
    return EmbeddedJobs(settings, lock_file).start()

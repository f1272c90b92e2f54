"""Celery tasks of the Batches API: a chunk of lines per task, and the sweep each worker runs.

Chunk tasks ack late and are rejected (requeued) when their worker process is lost; beyond
what the broker redelivers, chunk leases in the database and the per-worker sweep make sure a
chunk whose worker died is redone (gateway/batches/supervisor.py).
"""

from __future__ import annotations

import logging

from celery.signals import worker_init, worker_shutdown, worker_shutting_down

from gateway.batches import runner, runtime, supervisor
from gateway.batches.config import batch_settings
from gateway.celery_app import app
from gateway.tasks import runtime as task_runtime

log = logging.getLogger(__name__)

_supervisor: supervisor.Supervisor | None = None


@app.task(name="tokenmill.batches.run_chunk", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_chunk(batch_id: str, chunk_no: int) -> str:
    rt = runtime.current()
    return rt.run(runner.run_chunk(rt, batch_id, chunk_no))


@app.task(name="tokenmill.batches.sweep", ignore_result=True)
def sweep_batches() -> dict[str, int]:
    """The same pass the per-worker supervisor makes, for a beat schedule that wants one."""
    return supervisor.sweep(runtime.current())


@worker_init.connect
def _start_supervisor(**_kwargs: object) -> None:
    global _supervisor
    if _supervisor is not None:
        _supervisor.stop()
    _supervisor = supervisor.Supervisor(runtime.available, batch_settings(task_runtime.settings()).sweep_seconds).start()


@worker_shutting_down.connect
def _drain(**_kwargs: object) -> None:
    runtime.drain()


@worker_shutdown.connect
def _stop(**_kwargs: object) -> None:
    global _supervisor
    if _supervisor is not None:
        _supervisor.stop()
        _supervisor = None
    runtime.shutdown_worker()

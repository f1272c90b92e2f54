"""Where batch lines run in this process: an event loop, the gateway Services and a Pipeline.

Inside a gateway (the embedded Celery worker) that is the gateway's own loop and pipeline, so
lines share its budget counters and caches; the app registers them at start-up. In a
`tokenmill worker` process the Services are built once, on a loop owned by a thread here.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from gateway.pipeline import Pipeline
from gateway.services import Services
from gateway.tasks import runtime as task_runtime

log = logging.getLogger(__name__)

T = TypeVar("T")
GATEWAY_WAIT_SECONDS = 60.0


@dataclass
class BatchRuntime:
    services: Services
    pipeline: Pipeline
    loop: asyncio.AbstractEventLoop
    owner: str = field(default_factory=lambda: f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}")
    draining: threading.Event = field(default_factory=threading.Event)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine on this runtime's loop from another thread and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


_gateway: BatchRuntime | None = None
_gateway_ready = threading.Event()
_worker: BatchRuntime | None = None
_worker_thread: threading.Thread | None = None
_lock = threading.Lock()


def attach_gateway(services: Services, pipeline: Pipeline) -> BatchRuntime:
    """Called by the gateway app at start-up, on its event loop."""
    global _gateway
    _gateway = BatchRuntime(services, pipeline, asyncio.get_running_loop())
    _gateway_ready.set()
    return _gateway


def detach_gateway() -> None:
    """At shutdown: running chunks stop taking lines and hand their chunks back."""
    global _gateway
    if _gateway is not None:
        _gateway.draining.set()
    _gateway_ready.clear()
    _gateway = None


def gateway_runtime() -> BatchRuntime | None:
    return _gateway


def current(wait: float = GATEWAY_WAIT_SECONDS) -> BatchRuntime:
    """The runtime for a task running in this process."""
    found = available(wait)
    if found is None:
        raise RuntimeError("the gateway did not register its pipeline for batch jobs")
    return found


def available(wait: float = 0.0) -> BatchRuntime | None:
    """This process's runtime; inside a gateway, None until (or after) the gateway holds one."""
    if task_runtime.local_admission() is not None:  # the embedded worker, inside a gateway
        _gateway_ready.wait(wait)
        return _gateway
    return worker_runtime()


def worker_runtime() -> BatchRuntime:
    global _worker, _worker_thread
    with _lock:
        if _worker is not None:
            return _worker
        settings = task_runtime.settings()
        # This process is a worker: it must not start another embedded worker of its own.
        settings = settings.model_copy(update={"billing": settings.billing.model_copy(update={"embedded_worker": False})})
        loop = asyncio.new_event_loop()
        _worker_thread = threading.Thread(target=loop.run_forever, name="batch-loop", daemon=True)
        _worker_thread.start()
        services = asyncio.run_coroutine_threadsafe(Services.start(settings, migrate=False), loop).result()
        _worker = BatchRuntime(services, Pipeline(services), loop)
        log.info("batch runtime started (owner %s)", _worker.owner)
        return _worker


def drain() -> None:
    """Ask running chunks of this process to stop taking lines (warm shutdown)."""
    for rt in (_gateway, _worker):
        if rt is not None:
            rt.draining.set()


def shutdown_worker(timeout: float = 30.0) -> None:
    global _worker, _worker_thread
    with _lock:
        rt, thread = _worker, _worker_thread
        _worker = _worker_thread = None
    if rt is None:
        return
    rt.draining.set()
    try:
        rt.run(rt.services.close(), timeout)
    finally:
        rt.loop.call_soon_threadsafe(rt.loop.stop)
        if thread is not None:
            thread.join(timeout)

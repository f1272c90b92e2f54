"""Scheduled routing work: recalibrate per-tenant thresholds from client feedback."""

from __future__ import annotations

import logging

from gateway.celery_app import app
from gateway.feedback import recalibrate
from gateway.tasks import runtime

log = logging.getLogger(__name__)


def default_thresholds() -> dict[str, float]:
    """Each configured route's calibrated strong threshold (per-tenant routes included)."""
    from gateway.models import ModelRegistry
    from gateway.route_service import RouteService

    settings = runtime.settings()
    service = RouteService(settings, ModelRegistry(settings.model_list), {}, runtime.engine())
    plans = [*service.routes.values(), *(p for tenant in service.tenant_routes.values() for p in tenant.values())]
    return {plan.name: plan.definition.strong_threshold for plan in plans}


@app.task(name="tokenmill.routing.recalibrate")
def recalibrate_thresholds() -> int:
    changes = recalibrate(runtime.engine(), default_thresholds())
    for c in changes:
        log.info("route %s for tenant %s: threshold %.3f -> %.3f from %d feedback samples", c.route, c.tenant_id, c.old_threshold, c.new_threshold, c.samples)
    return len(changes)

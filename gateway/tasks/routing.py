"""Scheduled routing work: recalibrate per-tenant thresholds from client feedback."""

from __future__ import annotations

import logging

from gateway.celery_app import app
from gateway.feedback import DefaultThresholds, recalibrate
from gateway.tasks import runtime

log = logging.getLogger(__name__)


def default_thresholds() -> DefaultThresholds:
    """Each configured route's calibrated strong threshold: the global routes', and per tenant
    (by name) its own routes', which take precedence over a global route of the same name."""
    from gateway.models import ModelRegistry
    from gateway.route_service import RouteService

    settings = runtime.settings()
    service = RouteService(settings, ModelRegistry(settings.model_list), {}, runtime.engine())
    return DefaultThresholds(
        {name: plan.definition.strong_threshold for name, plan in service.routes.items()},
        {tenant: {name: plan.definition.strong_threshold for name, plan in plans.items()} for tenant, plans in service.tenant_routes.items()},
    )


@app.task(name="tokenmill.routing.recalibrate")
def recalibrate_thresholds() -> int:
    changes = recalibrate(runtime.engine(), default_thresholds())
    for c in changes:
        log.info("route %s for tenant %s: threshold %.3f -> %.3f from %d feedback samples", c.route, c.tenant_id, c.old_threshold, c.new_threshold, c.samples)
    return len(changes)

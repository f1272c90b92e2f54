"""The composition root of a running gateway: every long-lived part, built once at start-up."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from billing.db import create_db_engine, upgrade_schema
from billing.ledger import Spool
from billing.prices import Price, PriceBook
from gateway.admission import Admission
from gateway.auth import KeyStore
from gateway.cache_layer import CacheLayer
from gateway.models import ModelRegistry
from gateway.pricing import deployment_price
from gateway.providers.base import Provider
from gateway.providers.dispatcher import Dispatcher
from gateway.providers.litellm_provider import LiteLLMProvider
from gateway.providers.openai_compat import OpenAICompatProvider
from gateway.route_service import RouteService
from gateway.settings import Deployment, Settings
from gateway.usage_recorder import UsageRecorder

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    db: Engine
    keys: KeyStore
    registry: ModelRegistry
    dispatcher: Dispatcher
    recorder: UsageRecorder
    prices: dict[str, Price | None]
    admission: Admission
    providers: dict[str, Provider] = field(default_factory=dict)
    cache: CacheLayer | None = None
    routes: RouteService | None = None
    jobs: Any = None
    background: list[asyncio.Task] = field(default_factory=list)  # start-up work that must not delay serving  # the embedded Celery worker and beat (gateway.celery_app.EmbeddedJobs)

    def provider_for(self, deployment: Deployment) -> Provider:
        if deployment.is_local:
            return self.providers["local"]
        if deployment.is_openai_compatible:
            return self.providers["openai"]
        return self.providers["litellm"]

    def price(self, deployment: Deployment) -> Price | None:
        return self.prices.get(deployment.id)

    @classmethod
    async def start(cls, settings: Settings, migrate: bool = True) -> Services:
        db = create_db_engine(settings.database_url)
        if migrate:
            upgrade_schema(db)
        registry = ModelRegistry(settings.model_list)
        book = PriceBook()
        prices = {d.id: deployment_price(d, book) for d in registry.all()}
        providers: dict[str, Provider] = {"openai": OpenAICompatProvider(), "litellm": LiteLLMProvider()}
        if any(d.is_local for d in registry.all()):
            from gateway.providers.local import LocalProvider

            providers["local"] = LocalProvider(settings.local_engine)
        services = cls(
            settings=settings,
            db=db,
            keys=KeyStore(db, ttl=settings.key_cache_seconds),
            registry=registry,
            dispatcher=Dispatcher(lambda d: services.provider_for(d), settings.retry_backoff_seconds),
            recorder=UsageRecorder(
                db,
                Spool(Path(settings.spool_dir) / "usage.jsonl"),
                flush_interval=settings.usage_flush_interval,
                batch_size=settings.usage_batch_size,
                replay_interval=settings.usage_replay_interval,
            ),
            prices=prices,
            admission=Admission.from_settings(settings, db, registry.all()),
            providers=providers,
            cache=CacheLayer.from_settings(settings) if settings.cache.enabled else None,
            routes=RouteService(settings, registry, prices, db) if settings.routing.routes or settings.routing.tenant_routes else None,
        )
        services.admission.ledger_barrier = services.recorder.into_ledger
        if any(d.is_local and d.model_info.mode != "embedding" for d in registry.all()):
            providers["local"].start()  # load the chat model now, not on the first call (embeddings need no model)
        if services.cache is not None:
            services.background.append(asyncio.create_task(services.cache.warm()))
        await services.recorder.start()
        await services.recorder.replay_spool()
        await services.admission.start()
        from gateway.celery_app import start_embedded_jobs

        services.jobs = start_embedded_jobs(settings, services.admission)
        return services

    async def close(self) -> None:
        await asyncio.gather(*self.background, return_exceptions=True)
        if self.jobs is not None:
            await asyncio.to_thread(self.jobs.stop)
        await self.admission.close()
        if self.cache is not None:
            await self.cache.close()
        await self.recorder.close()
        for provider in self.providers.values():
            await provider.aclose()
        self.db.dispose()

"""The application: the hot-path ASGI entry in front of the FastAPI app (routers, error
envelope, and the lifespan that owns the services)."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import web
from gateway.bootstrap import ensure_admin_key
from gateway.errors import install_error_handlers
from gateway.hot_path import HotPathApp
from gateway.pipeline import Pipeline
from gateway.routes import admin_api, admin_billing, feedback_api, files_batches, health, openai_api
from gateway.services import Services
from gateway.settings import Settings, load_settings

log = logging.getLogger(__name__)

# Set by `tokenmill serve` in worker processes: the parent already migrated and bootstrapped.
PREPARED_ENV = "TOKENMILL_DATABASE_PREPARED"


def create_app(settings: Settings | None = None) -> HotPathApp:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        prepared = os.environ.get(PREPARED_ENV) == "1"
        services = await Services.start(settings, migrate=not prepared)
        if not prepared and settings.admin_key is not None:
            ensure_admin_key(services.db, settings.admin_key.get_secret_value())
        app.state.services = services
        app.state.pipeline = Pipeline(services)
        # Everything built so far (models, embedders, tables) lives for the whole process: move
        # it out of the collector's sight, or every full collection walks it and stalls requests.
        gc.freeze()
        try:
            yield
        finally:
            await services.close()

    app = FastAPI(title="Tokenmill", version="0.1.0", lifespan=lifespan, docs_url="/docs", redoc_url=None)
    install_error_handlers(app)
    app.include_router(openai_api.router)
    app.include_router(feedback_api.router)
    app.include_router(health.router)
    app.include_router(admin_api.router)
    app.include_router(admin_billing.router)
    app.include_router(files_batches.router)
    web.mount(app, settings)
    return HotPathApp(app)


def app_from_environment() -> HotPathApp:
    """Factory for uvicorn workers: settings come from TOKENMILL_CONFIG and TOKENMILL_*."""
    return create_app(load_settings())

"""The FastAPI application. ``create_app()`` builds it from settings (``uvicorn --factory
service.app:create_app``); nothing is read or connected at import time."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from core.connection import api_async_redis, api_redis
from core.context import Context
from core.maintenance import start_maintenance
from core.settings import Settings, get_settings
from core.storage import Storage
from service.access_log import RequestLog
from service.errors import install_error_handlers
from service.limits import BodySizeLimit
from service.metrics import JobCollector, RequestMetrics
from service.openapi import build_openapi, operation_id
from service.routes import content, derived, playground, system, videos

logger = logging.getLogger(__name__)

DESCRIPTION = """Text (and optionally a reference image) to video. `POST /videos` queues a job and answers 202;
poll `GET /videos/{id}` (or pass `Prefer: wait=N`, or a `webhook_url`) and download
`GET /videos/{id}/content`. Errors are always `{"error": {"code", "message"}}`."""


def check_auth_settings(settings: Settings) -> None:
    if settings.auth_enabled and not settings.all_api_keys:
        raise ValueError(
            "auth is on but no API keys are set: set VIDEOGEN_API_KEYS=key1,key2 or, for local use only,"
            " VIDEOGEN_AUTH_ENABLED=false"
        )


def create_app(
    settings: Settings | None = None, maintenance: bool = True, storage: Storage | None = None
) -> FastAPI:
    """The API. ``maintenance`` runs the sweeps and webhook sender in this process too (safe with many
    replicas); ``storage`` replaces the one the settings name (tests)."""
    settings = settings or get_settings()
    check_auth_settings(settings)
    ctx = Context.build(settings, api_redis(settings.redis_url), storage)
    registry = CollectorRegistry()
    registry.register(JobCollector(ctx))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx.aredis = api_async_redis(settings.redis_url)  # bound to this event loop
        loops = start_maintenance(ctx) if maintenance else []
        # Everything imported and built so far (FastAPI's and pydantic's models, boto3's service descriptions)
        # lives as long as the process: out of the collector's reach, a full collection no longer walks it.
        # Under load those walks were the API's longest pauses (92 ms, docs/performance.md).
        gc.collect()
        gc.freeze()
        logger.info(
            "API ready: storage=%s auth=%s queue=%s",
            settings.storage,
            settings.auth_enabled,
            settings.queue_name,
        )
        yield
        for loop in loops:
            loop.stop()
        ctx.redis.close()
        await ctx.aredis.aclose()
        ctx.aredis = None

    app = FastAPI(
        title="videogen",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    app.state.context = ctx
    app.state.registry = registry
    install_error_handlers(app)
    app.include_router(derived.router)
    app.include_router(videos.router)
    app.include_router(content.router)
    app.include_router(system.router)
    app.include_router(playground.router)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestMetrics, registry=registry)
    app.add_middleware(RequestLog)  # outermost: its line covers the whole request
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    return app

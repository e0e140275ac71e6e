"""The ASGI application: routes, middleware and the lifespan that wires everything up.

Start-up order: logging; the database (the embedded server is started, provisioned and
migrated when no ``DATABASE_URL`` is set); the ORM; the listener of tenant erasures
(``tenants.lifecycle.notices``); the job runtime (with no broker, worker threads and the
sweeper run inside this process).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route, WebSocketRoute

from api.graphql.schema import build_schema
from api.graphql.view import GraphQLView
from api.health import health_endpoints
from api.http import EdgeMiddleware
from api.import_http import errors_endpoint, upload_endpoint
from api.oauth import token_endpoint
from api.runtime import AppRuntime
from api.web import web_routes
from domain.dashboards.cache import period_cache
from domain.imports.reports import use_import_keys
from domain.jobs.service import job_service
from domain.people.service import employee_service
from tenants.crypto.imports import ImportKeys
from tenants.database.embedded import stop_embedded_server
from tenants.database.migrate import apply_migrations
from tenants.database.runtime import close_orm, init_orm, resolve_database
from tenants.lifecycle.notices import ErasureListener
from tenants.logs import configure_logging
from tenants.service import tenant_service
from tenants.settings import Settings, get_settings
from workers.broker import InProcessWorker, start_job_runtime
from workers.sweeper import sweep_forever

_log = structlog.get_logger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    configure_logs: bool = True,
    in_process_worker: bool | None = None,
) -> Starlette:
    """The application. ``in_process_worker`` defaults to "only when there is no broker";
    tests turn it on with a real broker too, to consume their jobs on their own loop."""
    settings = settings or get_settings()
    if configure_logs:
        configure_logging(settings)
    runtime = AppRuntime.create(settings)
    schema = build_schema(settings, runtime.matrix)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        urls = await resolve_database(settings)
        if settings.embedded and urls.admin_url is not None:
            await apply_migrations(
                urls.admin_url, report=lambda line: _log.info("migration", step=line)
            )
        await init_orm(urls.app_url, pool_size=settings.database_pool_size)
        runtime.notices = ErasureListener(settings.notices_url or urls.app_url, runtime.forget)
        runtime.notices.start()
        employee_service.use_sealer(runtime.pii)
        use_import_keys(ImportKeys(runtime.pii.keysets))
        tenant_service.use_keysets(runtime.pii.keysets)
        period_cache.resize(settings.dashboard_cache_entries)
        in_process = (
            settings.broker_kind == "stub" if in_process_worker is None else in_process_worker
        )
        runtime.jobs = start_job_runtime(
            settings, host_loop=asyncio.get_running_loop() if in_process else None
        )
        worker: InProcessWorker | None = None
        sweeper: asyncio.Task[None] | None = None
        if in_process:
            worker = InProcessWorker(runtime.jobs, threads=settings.worker_threads)
            worker.start()
            sweeper = asyncio.create_task(
                sweep_forever(
                    interval_s=settings.sweep_interval_s, stuck_after_s=settings.stuck_after_s
                )
            )
        _log.info(
            "started",
            database="embedded" if settings.embedded else "external",
            broker=settings.broker_kind,
            rate_limits=runtime.limiter.backend,
        )
        try:
            yield
        finally:
            if sweeper is not None:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
            if worker is not None:
                await asyncio.to_thread(worker.stop)
            job_service.set_dispatcher(None)
            await runtime.notices.stop()
            employee_service.use_sealer(None)
            use_import_keys(None)
            tenant_service.use_keysets(None)
            await close_orm()
            if settings.embedded:
                # Here rather than at interpreter exit: uvicorn re-raises SIGTERM after its
                # shutdown, which ends the process before exit handlers run, leaving the
                # server (and this process's claim on it) behind.
                await asyncio.to_thread(stop_embedded_server, settings.home)

    health = health_endpoints(runtime)
    view = GraphQLView(schema, runtime)
    routes = [
        Route("/graphql", view, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", view),  # subscriptions (graphql-transport-ws)
        Route("/oauth/token", token_endpoint(runtime), methods=["POST"]),
        Route("/imports/{import_id}/content", upload_endpoint(runtime), methods=["PUT"]),
        Route("/imports/{import_id}/errors.csv", errors_endpoint(runtime), methods=["GET"]),
        *(Route(path, endpoint, methods=["GET"]) for path, endpoint in health.items()),
        # The web app last: its routes never shadow the API's.
        *web_routes(),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(EdgeMiddleware, runtime=runtime)],
    )
    app.state.runtime = runtime
    return app

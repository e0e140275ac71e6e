"""Test harness: a real PostgreSQL and a real broker, a fresh database per run.

``RENSHI_TEST_POSTGRES`` chooses the server: unset or ``embedded`` starts the embedded
PostgreSQL wheel in a temporary folder (the fresh-machine path); a superuser URL uses that
server (the production path). ``BROKER_URL`` chooses the broker as in production: unset is
dramatiq's stub broker, ``redis://`` or ``amqp://`` a real one. Either way a new database is
provisioned with an owner and a separate application role, migrated as the owner, and the
application connects as the weak role, so every test runs under row-level security.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import structlog
from starlette.applications import Starlette

from api.app import create_app
from api.runtime import AppRuntime
from domain.dashboards.cache import period_cache
from tenants.database.embedded import start_embedded_server, stop_embedded_server
from tenants.database.migrate import apply_migrations
from tenants.database.provision import provision
from tenants.database.urls import with_role
from tenants.settings import Settings
from tests.support.graphql import GraphQLClient

# Tests never call ``configure_logging`` (the app is made with ``configure_logs=False``), so
# structlog keeps its default console renderer, which formats a logged traceback with rich
# (installed with schemathesis), locals included: seconds per logged error. Plain ones.
structlog.configure(
    processors=[
        *structlog.get_config()["processors"][:-1],
        structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        ),
    ]
)

TEST_OWNER = "renshi_test_owner"
TEST_APP = "renshi_test_app"


@pytest.fixture(scope="session")
def home() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="renshi-test-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def superuser_url(home: Path) -> Iterator[str]:
    configured = os.environ.get("RENSHI_TEST_POSTGRES", "embedded")
    if configured != "embedded":
        yield configured
        return
    yield start_embedded_server(home)
    # Before ``home`` goes: a server whose data folder was removed would run on, orphaned.
    stop_embedded_server(home)


@pytest.fixture(scope="session")
async def database(superuser_url: str) -> AsyncIterator[tuple[str, str]]:
    """A freshly provisioned and migrated database: (owner URL, application URL)."""
    name = f"renshi_test_{secrets.token_hex(4)}"
    provisioned = await provision(superuser_url, database=name, owner=TEST_OWNER, app=TEST_APP)
    await apply_migrations(provisioned.admin_url)
    yield provisioned.admin_url, provisioned.app_url
    conn = await asyncpg.connect(superuser_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def settings(home: Path, database: tuple[str, str]) -> Settings:
    admin_url, app_url = database
    return Settings(
        database_url=app_url,
        database_admin_url=admin_url,
        broker_url=os.environ.get("BROKER_URL") or None,
        home=home,
        # Generous limits: the rate-limit tests swap in strict ones.
        rate_limit="100000/minute",
        login_rate_limit="100000/minute",
        log_format="console",
        log_level="WARNING",
        sweep_interval_s=3600,
        # Fact changes are rescored at once: tests wait for the job they queue.
        recompute_delay_s=0,
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    await _flush_test_broker(settings)
    application = create_app(settings, configure_logs=False, in_process_worker=True)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
def runtime(app: Starlette) -> AppRuntime:
    runtime: AppRuntime = app.state.runtime
    return runtime


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="https://renshi.test") as client:
        yield client


@pytest.fixture
def gql(http: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(http)


@pytest.fixture
async def superuser(
    superuser_url: str, database: tuple[str, str]
) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection to the test database, for catalog checks and bypassing RLS."""
    conn = await asyncpg.connect(
        with_role(superuser_url, user=_user(superuser_url), database=_db(database[1]))
    )
    yield conn
    await conn.close()


def _user(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).username or "postgres"


def _db(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path.lstrip("/")


async def _flush_test_broker(settings: Settings) -> None:
    """Leftover messages of an earlier run would name jobs of a dropped database."""
    if settings.broker_kind == "redis" and settings.broker_url is not None:
        import redis.asyncio as aioredis

        client = aioredis.from_url(settings.broker_url)
        try:
            await client.flushdb()
        finally:
            await client.aclose()


@pytest.fixture(autouse=True)
def _no_kept_dashboards() -> None:
    """Each test starts with no kept dashboard results (``domain.dashboards.cache``)."""
    period_cache.clear()


@pytest.fixture(autouse=True)
def _application_running(app: Starlette) -> None:
    """Every test runs with the application started (ORM, job runtime, in-process worker)."""

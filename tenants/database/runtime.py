"""Connecting a process to its database: which server, which roles, and the ORM's pool."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
from tortoise import Tortoise

from tenants.database.config import orm_config
from tenants.database.embedded import embedded_database
from tenants.settings import Settings


@dataclass(frozen=True)
class DatabaseUrls:
    app_url: str
    admin_url: str | None


async def resolve_database(settings: Settings) -> DatabaseUrls:
    """The configured server, or the embedded one (started and provisioned on demand)."""
    if settings.embedded:
        provisioned = await embedded_database(settings.home)
        return DatabaseUrls(app_url=provisioned.app_url, admin_url=provisioned.admin_url)
    assert settings.database_url is not None
    return DatabaseUrls(app_url=settings.database_url, admin_url=settings.database_admin_url)


async def init_orm(app_url: str, *, pool_size: int) -> None:
    """Start the ORM for the application role, usable from every task of this process."""
    # The global fallback lets tasks started elsewhere (uvicorn's lifespan, dramatiq's loop
    # thread, test fixtures) see the ORM initialised here.
    await Tortoise.init(
        config=orm_config(app_url, pool_size=pool_size), _enable_global_fallback=True
    )


async def close_orm() -> None:
    await Tortoise.close_connections()


# What the URL parser may give besides where and who: the pool's own settings, not asyncpg's.
_POOL_ONLY = frozenset({"minsize", "maxsize", "min_size", "max_size", "application_name"})


async def connect_alone(url: str, *, application_name: str) -> asyncpg.Connection:
    """A connection of its own to ``url``, outside the ORM's pool, its parameters read as the
    pool reads them (TLS included): for a session that outlives transactions (LISTEN)."""
    credentials: dict[str, Any] = dict(orm_config(url)["connections"]["default"]["credentials"])
    for name in _POOL_ONLY:
        credentials.pop(name, None)
    if credentials.get("port") is not None:
        credentials["port"] = int(credentials["port"])
    return await asyncpg.connect(
        **credentials, server_settings={"application_name": application_name}
    )

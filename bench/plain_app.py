"""The baseline of ``bench.api``: the ``viewer`` request's work with no GraphQL and no ORM.

One Starlette endpoint, ``POST /viewer``, does what the ``/graphql`` path must do for an
authenticated ``viewer`` query and nothing else: the same bearer token check
(``TokenIssuer.verify``), one transaction on an asyncpg pool of the application role with
the same ``set_config`` scope statement, and the same query that loads the caller
(``tenants.repository.ACTIVE_USER_SQL``), answered with a JSON body shaped like the GraphQL
response. Whatever the GraphQL path costs
beyond this endpoint is the price of the framework layers, not of the work itself.

Run it the way ``bench.api`` does::

    uvicorn bench.plain_app:create_plain_app --factory --workers 1
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tenants.database.runtime import resolve_database
from tenants.identity.keys import KeyRing
from tenants.identity.tokens import InvalidTokenError, TokenIssuer
from tenants.repository import ACTIVE_USER_SQL
from tenants.settings import Settings, get_settings

# The statement ``tenants.scope.tenant_transaction`` runs first in every tenant transaction.
SET_SCOPE = (
    "SELECT set_config('app.tenant_id', $1, true), set_config('statement_timeout', $2, true)"
)

# What ``tenants.repository.get_active_user_with_tenant`` makes Tortoise send (captured with
# ``QuerySet.sql()``): every column of both rows, so the database and the driver do the same
# work; only the column aliases differ.
_UNAUTHORIZED: dict[str, Any] = {
    "errors": [{"message": "invalid or expired token", "extensions": {"code": "UNAUTHENTICATED"}}]
}


def _global_id(type_name: str, node_id: str) -> str:
    # Relay's global id, as strawberry encodes ``User.id``.
    return base64.b64encode(f"{type_name}:{node_id}".encode()).decode()


def create_plain_app(settings: Settings | None = None) -> Starlette:
    """The baseline application; configuration from the environment, as ``create_app``."""
    settings = settings or get_settings()
    keys = KeyRing(settings)
    tokens = TokenIssuer(keys, issuer=settings.issuer, audience=settings.audience)
    timeout_ms = str(settings.statement_timeout_ms)
    pools: list[asyncpg.Pool] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        urls = await resolve_database(settings)
        # Sized like the ORM's pool (``tenants.database.config.orm_config``).
        pool = await asyncpg.create_pool(
            urls.app_url,
            min_size=1,
            max_size=settings.database_pool_size,
            server_settings={"application_name": "renshi-bench-plain"},
        )
        pools.append(pool)
        try:
            yield
        finally:
            await pool.close()

    async def viewer(request: Request) -> Response:
        # The GraphQL path reads the whole body before it does anything else.
        await request.body()
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return JSONResponse(_UNAUTHORIZED, status_code=401)
        try:
            principal = tokens.verify(token.strip())
        except InvalidTokenError:
            return JSONResponse(_UNAUTHORIZED, status_code=401)
        async with pools[0].acquire() as conn, conn.transaction():
            await conn.execute(SET_SCOPE, str(principal.tenant_id), timeout_ms)
            row = await conn.fetchrow(
                ACTIVE_USER_SQL, principal.subject_id, principal.tenant_id, "active"
            )
        if row is None:
            return JSONResponse(_UNAUTHORIZED, status_code=401)
        user = {
            "id": _global_id("User", str(row["id"])),
            "email": row["email"],
            "displayName": row["display_name"],
        }
        return JSONResponse({"data": {"viewer": {"kind": "USER", "user": user}}})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/viewer", viewer, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )

"""Create the database and its two roles: the owner (migrations) and the application role.

The application role is deliberately weak: no superuser, no BYPASSRLS, not the owner of any
table, so row-level security applies to every statement it runs. Used by the embedded
default, by the tests and by ``renshi db provision`` against a server you administer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import asyncpg

from tenants.database.urls import with_role

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Provisioned:
    admin_url: str
    app_url: str


def _ident(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a safe PostgreSQL identifier: {name!r}")
    return f'"{name}"'


async def _ensure_role(conn: asyncpg.Connection, role: str, password: str | None) -> None:
    attributes = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
    exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
    verb = "ALTER" if exists else "CREATE"
    await conn.execute(f"{verb} ROLE {_ident(role)} {attributes}")
    if password is not None:
        # Passwords cannot be bound as parameters in utility statements; quote as a literal.
        literal = await conn.fetchval("SELECT quote_literal($1)", password)
        await conn.execute(f"ALTER ROLE {_ident(role)} PASSWORD {literal}")


async def provision(
    superuser_url: str,
    *,
    database: str = "renshi",
    owner: str = "renshi_owner",
    app: str = "renshi_app",
    owner_password: str | None = None,
    app_password: str | None = None,
) -> Provisioned:
    """Create (or bring up to date) the roles, the database and the default privileges.

    Idempotent: running it again changes nothing that is already right.
    """
    if owner == app:
        raise ValueError("the application role must not be the owner")
    conn = await asyncpg.connect(superuser_url)
    try:
        await _ensure_role(conn, owner, owner_password)
        await _ensure_role(conn, app, app_password)
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            await conn.execute(
                f"CREATE DATABASE {_ident(database)} OWNER {_ident(owner)} "
                "ENCODING 'UTF8' TEMPLATE template0"
            )
    finally:
        await conn.close()

    conn = await asyncpg.connect(
        with_role(superuser_url, user=_superuser(superuser_url), database=database)
    )
    try:
        o, a = _ident(owner), _ident(app)
        await conn.execute(f"ALTER SCHEMA public OWNER TO {o}")
        await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        await conn.execute(f"GRANT USAGE ON SCHEMA public TO {a}")
        await conn.execute(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA public "
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {a}"
        )
        await conn.execute(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA public "
            f"GRANT USAGE, SELECT ON SEQUENCES TO {a}"
        )
        # Tables that already exist (provisioning again after migrations).
        await conn.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {a}"
        )
        await conn.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {a}")
    finally:
        await conn.close()
    return Provisioned(
        admin_url=with_role(superuser_url, user=owner, database=database, password=owner_password),
        app_url=with_role(superuser_url, user=app, database=database, password=app_password),
    )


def _superuser(url: str) -> str:
    from urllib.parse import unquote, urlsplit

    return unquote(urlsplit(url).username or "postgres")

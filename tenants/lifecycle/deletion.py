"""Deleting a tenant for good: every row it owns, its keys and its own row, in one transaction.

Runs as the owner role (``DATABASE_ADMIN_URL``): it has to step past the guards of the
append-only tables (``audit_log``, ``facts``), which only a table's owner can do, and no
request or job of the application role should ever be able to erase a whole tenant. Row-level
security is forced on the owner too, so the transaction sets ``app.tenant_id`` like a tenant
transaction does, and every statement names the tenant besides.

What is deleted is read from the catalog (``tenants.lifecycle.catalog``): each table with a
``tenant_id`` column, referencing tables before the tables they reference, then the tenant's
row. Guard triggers are disabled only for the one ``DELETE`` that needs it and re-enabled at
once; this takes a SHARE ROW EXCLUSIVE lock on those tables until the commit, so writes to
them (other tenants' included) wait for the deletion to finish, reads do not. Before the
commit, every table is checked to hold no row of the tenant any more.

What lives outside the database: the tenant's keys are rows of ``tenant_keys`` (deleted with
the rest; the keysets cache of the calling process is cleared, other processes drop theirs
within ``keysets.DEFAULT_CACHE_TTL_S`` and cannot use it anyway once the tenant is gone);
import files are stored in the database (``import_chunks``), never on disk; queued jobs are
``jobs`` rows, and a message still in the broker finds no job and is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import structlog

from tenants.crypto.keysets import TenantKeysets
from tenants.lifecycle.catalog import (
    TENANT_COLUMN,
    TENANTS_TABLE,
    DeleteGuard,
    delete_guards,
    deletion_order,
    quote_ident,
    tenant_tables,
)
from tenants.scope import TenantID

_log = structlog.get_logger(__name__)

DEFAULT_LOCK_TIMEOUT_MS = 30_000

_SET_SCOPE = (
    "SELECT set_config('app.tenant_id', $1, true), set_config('lock_timeout', $2, true), "
    "set_config('statement_timeout', '0', true)"
)
# ``ENABLE TRIGGER`` alone would turn an ALWAYS or REPLICA trigger into an ordinary one.
_ENABLE = {"O": "ENABLE TRIGGER", "A": "ENABLE ALWAYS TRIGGER", "R": "ENABLE REPLICA TRIGGER"}


class TenantNotFoundError(LookupError):
    """No tenant has this id (it never existed, or it was deleted already)."""


class TenantDeletionError(RuntimeError):
    """Rows of the tenant were still there before the commit; nothing was deleted."""


@dataclass(frozen=True)
class DeletionReport:
    tenant_id: TenantID
    slug: str
    rows: dict[str, int]
    """Rows deleted per table, ``tenants`` included (rows removed by a cascade are counted
    in their own table only when it came first)."""

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def _count(status: str) -> int:
    # A DELETE's status is "DELETE <n>".
    return int(status.rsplit(" ", 1)[-1])


async def _delete_from(
    conn: asyncpg.Connection, table: str, tenant: TenantID, guards: list[DeleteGuard]
) -> int:
    # Identifiers come from the catalog and are quoted; the tenant is always a parameter.
    quoted = quote_ident(table)
    for guard in guards:
        await conn.execute(f"ALTER TABLE {quoted} DISABLE TRIGGER {quote_ident(guard.trigger)}")
    deleted = _count(
        await conn.execute(f"DELETE FROM {quoted} WHERE {TENANT_COLUMN} = $1", tenant)  # noqa: S608
    )
    for guard in guards:
        await conn.execute(
            f"ALTER TABLE {quoted} {_ENABLE[guard.enabled]} {quote_ident(guard.trigger)}"
        )
    return deleted


async def delete_tenant(
    admin_url: str,
    tenant: TenantID,
    *,
    keysets: TenantKeysets | None = None,
    lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS,
) -> DeletionReport:
    """Delete ``tenant`` and everything it owns, as the owner role at ``admin_url``.

    Raises ``TenantNotFoundError`` for an unknown tenant and ``TenantDeletionError`` when
    rows would remain; either way the database is unchanged. A lock that cannot be had
    within ``lock_timeout_ms`` (a long transaction of the tenant still running) fails it
    the same way rather than waiting without end.
    """
    conn = await asyncpg.connect(admin_url)
    try:
        async with conn.transaction():
            await conn.execute(_SET_SCOPE, str(tenant), str(lock_timeout_ms))
            # Locked first: a transaction inserting a row of the tenant holds a key-share lock
            # on it (its foreign key), so new rows wait, then fail once the tenant is gone.
            slug = await conn.fetchval("SELECT slug FROM tenants WHERE id = $1 FOR UPDATE", tenant)
            if slug is None:
                raise TenantNotFoundError(f"no tenant with id {tenant}")
            tables = await tenant_tables(conn)
            guards: dict[str, list[DeleteGuard]] = {}
            for guard in await delete_guards(conn):
                guards.setdefault(guard.table, []).append(guard)
            rows: dict[str, int] = {}
            for table in await deletion_order(conn, tables):
                rows[table] = await _delete_from(conn, table, tenant, guards.get(table, []))
            rows[TENANTS_TABLE] = _count(
                await conn.execute("DELETE FROM tenants WHERE id = $1", tenant)
            )
            remaining = [
                t.name
                for t in tables
                if await conn.fetchval(
                    f"SELECT EXISTS (SELECT FROM {quote_ident(t.name)} "  # noqa: S608
                    f"WHERE {TENANT_COLUMN} = $1)",
                    tenant,
                )
            ]
            if remaining:
                raise TenantDeletionError(
                    f"rows of tenant {tenant} remain in {', '.join(remaining)}; rolled back"
                )
    finally:
        await conn.close()
    if keysets is not None:
        keysets.clear_cache()
    report = DeletionReport(tenant_id=tenant, slug=slug, rows=rows)
    _log.info("tenant_deleted", tenant_id=str(tenant), slug=slug, rows=report.total)
    return report

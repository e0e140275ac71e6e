"""Deleting a tenant for good: every row it owns, its keys and its own row, in one transaction.

Runs as the owner role (``DATABASE_ADMIN_URL``): the guards of the append-only tables
(``audit_log``, ``facts``, migration 0014) let a row be deleted only by a role that may own
the table, in a transaction whose ``renshi.erase_tenant`` names the row's tenant, so no
request or job of the application role can ever erase a whole tenant (nor any history).
Row-level security is forced on the owner too, so the transaction sets ``app.tenant_id``
like a tenant transaction does, and every statement names the tenant besides.

What is deleted is read from the catalog (``tenants.lifecycle.catalog``): each table with a
``tenant_id`` column, referencing tables before the tables they reference, then the tenant's
row. Only the tenant's rows are locked (its ``tenants`` row first); a ``DELETE``'s table
lock (ROW EXCLUSIVE) conflicts with no other reader or writer, so other tenants go on
reading and writing every table, the append-only ones included, while a deletion runs.
Before the commit, every table is checked to hold no row of the tenant any more.

What lives outside the database: the tenant's keys are rows of ``tenant_keys`` (deleted with
the rest); what API and worker processes keep of the tenant in memory (unwrapped keysets,
dashboard rows) they forget when the erasure's notice reaches them at its commit
(``tenants.lifecycle.notices``), and the calling process forgets its keysets itself;
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
    deletion_order,
    quote_ident,
    tenant_tables,
)
from tenants.lifecycle.notices import announce_erasure
from tenants.scope import TenantID

_log = structlog.get_logger(__name__)

DEFAULT_LOCK_TIMEOUT_MS = 30_000

# ``renshi.erase_tenant`` is what the append-only guards let a DELETE through with (as
# the owner only); transaction-local like the tenant, so it ends with the erasure.
_SET_SCOPE = (
    "SELECT set_config('app.tenant_id', $1, true), set_config('renshi.erase_tenant', $1, true), "
    "set_config('lock_timeout', $2, true), set_config('statement_timeout', '0', true)"
)


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


async def _delete_from(conn: asyncpg.Connection, table: str, tenant: TenantID) -> int:
    # Identifiers come from the catalog and are quoted; the tenant is always a parameter.
    return _count(
        await conn.execute(
            f"DELETE FROM {quote_ident(table)} WHERE {TENANT_COLUMN} = $1",  # noqa: S608
            tenant,
        )
    )


async def erase_tenant(
    conn: asyncpg.Connection,
    tenant: TenantID,
    *,
    lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS,
) -> DeletionReport:
    """Delete ``tenant``'s rows in the transaction open on ``conn``, an owner connection.

    Nothing is final until the caller commits; ``delete_tenant`` is the whole operation
    (this step apart lets a caller hold an erasure open, as the tests do). Raises
    ``TenantNotFoundError`` and ``TenantDeletionError`` as ``delete_tenant`` does.
    """
    if not conn.is_in_transaction():
        # The settings below are transaction-local: outside one they would vanish at once.
        raise RuntimeError("erase_tenant needs an open transaction")
    await conn.execute(_SET_SCOPE, str(tenant), str(lock_timeout_ms))
    # Locked first: a transaction inserting a row of the tenant holds a key-share lock on it
    # (its foreign key), so new rows wait, then fail once the tenant is gone.
    slug = await conn.fetchval("SELECT slug FROM tenants WHERE id = $1 FOR UPDATE", tenant)
    if slug is None:
        raise TenantNotFoundError(f"no tenant with id {tenant}")
    tables = await tenant_tables(conn)
    rows: dict[str, int] = {}
    for table in await deletion_order(conn, tables):
        rows[table] = await _delete_from(conn, table, tenant)
    rows[TENANTS_TABLE] = _count(await conn.execute("DELETE FROM tenants WHERE id = $1", tenant))
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
    await announce_erasure(conn, tenant)
    return DeletionReport(tenant_id=tenant, slug=slug, rows=rows)


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
            report = await erase_tenant(conn, tenant, lock_timeout_ms=lock_timeout_ms)
    finally:
        await conn.close()
    if keysets is not None:
        keysets.forget(tenant)
    _log.info("tenant_deleted", tenant_id=str(tenant), slug=report.slug, rows=report.total)
    return report

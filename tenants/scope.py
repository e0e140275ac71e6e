"""The tenant scope: the typed tenant id, the fail-closed context and the tenant transaction.

Every read or write of tenant-owned rows happens inside ``tenant_transaction``: it opens one
database transaction, sets ``app.tenant_id`` transaction-locally (the row-level-security
policies read it) and the statement timeout, and makes the tenant visible to the ORM through
a context variable. Querying a tenant model with no tenant in scope raises
``TenantScopeError`` instead of returning an empty or, worse, a foreign result.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, NewType
from uuid import UUID

import structlog
from tortoise.backends.base.client import TransactionalDBClient
from tortoise.transactions import in_transaction

_log = structlog.get_logger(__name__)

TenantID = NewType("TenantID", UUID)
"""A tenant id that came from an authenticated principal or from platform code.

Repository functions take this type, never a bare UUID, so forgetting the tenant is a type
error. Mint it only in the identity layer (``tenants.identity``) and platform commands.
"""

AfterCommit = Callable[[], Awaitable[None]]


class TenantScopeError(RuntimeError):
    """Tenant-owned data was touched with no tenant, or the wrong tenant, in scope."""


@dataclass
class TenantTransaction:
    """The open transaction of one operation for one tenant."""

    tenant_id: TenantID
    client: TransactionalDBClient
    statements: int = 0
    db_seconds: float = 0.0
    _after_commit: list[AfterCommit] = field(default_factory=list)

    def on_commit(self, callback: AfterCommit) -> None:
        """Run ``callback`` once this transaction has committed; never after a rollback."""
        self._after_commit.append(callback)

    async def fetchrow(self, query: str, *args: Any) -> Any:
        """One row of a hand-written query on this transaction's connection, counted."""
        return await self._run("fetchrow", query, args)

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        """All rows of a hand-written query, counted."""
        rows: list[Any] = await self._run("fetch", query, args)
        return rows

    async def fetchval(self, query: str, *args: Any) -> Any:
        return await self._run("fetchval", query, args)

    async def execute(self, query: str, *args: Any) -> str:
        """Run a statement; returns its status (``UPDATE 3``), counted."""
        status: str = await self._run("execute", query, args)
        return status

    async def _run(self, method: str, query: str, args: tuple[Any, ...]) -> Any:
        started = time.perf_counter()
        try:
            async with self.client.acquire_connection() as conn:
                return await getattr(conn, method)(query, *args)
        finally:
            self._record(time.perf_counter() - started)

    def _record(self, seconds: float) -> None:
        self.statements += 1
        self.db_seconds += seconds


_current: ContextVar[TenantTransaction | None] = ContextVar("renshi_tenant_tx", default=None)


def record_statement(seconds: float) -> None:
    """Count a statement against the open tenant transaction, if any (see the engine)."""
    tx = _current.get()
    if tx is not None:
        tx._record(seconds)


def current_transaction() -> TenantTransaction:
    """The open tenant transaction; raises when there is none (fail closed)."""
    tx = _current.get()
    if tx is None:
        raise TenantScopeError("no tenant in scope: open tenant_transaction() first")
    return tx


def current_tenant() -> TenantID:
    """The tenant of the open transaction; raises when there is none (fail closed)."""
    return current_transaction().tenant_id


def tenant_in_scope() -> TenantID | None:
    """The tenant in scope, or None. For logging and diagnostics only."""
    tx = _current.get()
    return tx.tenant_id if tx is not None else None


def require_tenant(tenant: TenantID) -> TenantTransaction:
    """Check that ``tenant`` is the one in scope, and return the transaction.

    Repository functions call this first: the tenant they were handed and the tenant the
    database will filter on must be the same one.
    """
    tx = current_transaction()
    if tx.tenant_id != tenant:
        raise TenantScopeError("the tenant passed differs from the tenant in scope")
    return tx


_SET_SCOPE = (
    "SELECT set_config('app.tenant_id', $1, true), set_config('statement_timeout', $2, true)"
)


class tenant_transaction:  # noqa: N801 - used like the function it replaces
    """Open the one transaction of an operation for ``tenant``: ``async with`` it.

    The tenant setting and the statement timeout are transaction-local (``set_config(...,
    true)``), so a pooled connection carries nothing over to the next borrower. Callbacks
    registered with ``on_commit`` run after the commit, in order; a rollback discards them.
    (A class rather than a generator-based context manager: it runs on every request.)
    """

    __slots__ = ("_context", "_statement_timeout", "_tenant", "_token", "_tx")

    def __init__(self, tenant: TenantID, *, statement_timeout_ms: int = 5000) -> None:
        self._tenant = tenant
        self._statement_timeout = str(statement_timeout_ms)

    async def __aenter__(self) -> TenantTransaction:
        if _current.get() is not None:
            # Nesting would silently join the outer transaction of possibly another tenant.
            raise TenantScopeError("a tenant transaction is already open in this context")
        self._context = in_transaction()
        client = await self._context.__aenter__()
        try:
            tx = TenantTransaction(tenant_id=self._tenant, client=client)
            started = time.perf_counter()
            async with client.acquire_connection() as conn:
                await conn.execute(_SET_SCOPE, str(self._tenant), self._statement_timeout)
            tx._record(time.perf_counter() - started)
        except BaseException as exc:
            await self._context.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        self._tx = tx
        self._token = _current.set(tx)
        return tx

    async def __aexit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        _current.reset(self._token)
        await self._context.__aexit__(exc_type, exc, traceback)
        if exc_type is not None:
            return
        for callback in self._tx._after_commit:
            try:
                await callback()
            except Exception:
                # The commit stands; a lost follow-up (say, a job message) is recovered by
                # its own mechanism (the job sweeper), so one failure must not hide others.
                _log.exception(
                    "after_commit_failed", callback=getattr(callback, "__qualname__", "?")
                )


@asynccontextmanager
async def tenant_savepoint() -> AsyncIterator[TenantTransaction]:
    """A savepoint in the open tenant transaction: an exception undoes only this block.

    After-commit callbacks registered inside the block are dropped with it.
    """
    tx = current_transaction()
    registered = len(tx._after_commit)
    try:
        async with in_transaction():  # nested: a savepoint on the same connection
            yield tx
    except BaseException:
        del tx._after_commit[registered:]
        raise

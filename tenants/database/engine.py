"""The ORM's PostgreSQL engine: tortoise's asyncpg client, counting statements per operation
and giving connections back to the pool when a transaction cannot begin.

Every statement the ORM runs inside a tenant transaction is counted, and its time summed, on
that transaction (``TenantTransaction.statements``, ``.db_seconds``): the access log and the
``Server-Timing`` header report them, and tests assert them to catch N+1 queries. Counting
here costs a clock read per statement, where asyncpg's query loggers cost a record and a
loop callback each.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper
from tortoise.backends.base.client import (
    NestedTransactionContext,
    TransactionalDBClient,
    TransactionContext,
    TransactionContextPooled,
)
from tortoise.connection import get_connections
from tortoise.exceptions import DBConnectionError

from tenants.scope import record_statement

T = TypeVar("T")


def _counted(
    method: Callable[..., Coroutine[Any, Any, T]],
) -> Callable[..., Coroutine[Any, Any, T]]:
    @functools.wraps(method)
    async def counted(self: Any, *args: Any, **kwargs: Any) -> T:
        started = time.perf_counter()
        try:
            return await method(self, *args, **kwargs)
        finally:
            record_statement(time.perf_counter() - started)

    return counted


class CountingTransactionWrapper(TransactionWrapper):
    def _in_transaction(self) -> TransactionContext:
        return NestedTransactionContext(CountingTransactionWrapper(self))

    execute_insert = _counted(TransactionWrapper.execute_insert)
    execute_many = _counted(TransactionWrapper.execute_many)
    execute_query = _counted(TransactionWrapper.execute_query)
    execute_query_dict = _counted(TransactionWrapper.execute_query_dict)
    execute_script = _counted(TransactionWrapper.execute_script)


class ReleasingTransactionContext(TransactionContextPooled):
    """tortoise's pooled transaction, giving its connection back when BEGIN fails.

    tortoise acquires the connection, then begins; when the BEGIN fails the caller's ``async
    with`` never reaches ``__aexit__`` and the connection is never released: in a database
    restart each such failure took one connection out of the pool for good, until every
    request waited on an empty pool. A BEGIN fails only on a broken connection (the server
    ended the session; asyncpg then also reports protocol states such as "another operation
    is in progress"), so the connection is closed and the failure reported as a lost one.
    """

    async def __aenter__(self) -> TransactionalDBClient:
        await self.ensure_connection()
        pool = self.client._parent._pool
        connection = await pool.acquire()
        self.client._connection = connection
        self.token = get_connections().set(self.connection_name, self.client)
        try:
            await self.client.begin()
        except BaseException as exc:
            get_connections().reset(self.token)
            connection.terminate()
            await pool.release(connection)  # the pool replaces it on a later acquire
            if isinstance(exc, Exception):
                raise DBConnectionError("the connection failed before BEGIN completed") from exc
            raise
        return self.client


class CountingAsyncpgClient(AsyncpgDBClient):
    def _in_transaction(self) -> TransactionContext:
        return ReleasingTransactionContext(CountingTransactionWrapper(self), self._pool_init_lock)


client_class = CountingAsyncpgClient

"""The ORM's PostgreSQL engine: tortoise's asyncpg client, counting statements per operation.

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
    TransactionContext,
    TransactionContextPooled,
)

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


class CountingAsyncpgClient(AsyncpgDBClient):
    def _in_transaction(self) -> TransactionContext:
        return TransactionContextPooled(CountingTransactionWrapper(self), self._pool_init_lock)


client_class = CountingAsyncpgClient

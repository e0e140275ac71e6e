"""The ORM's PostgreSQL engine: tortoise's asyncpg client, counting statements per operation.

Every statement the ORM runs inside a tenant transaction is counted, and its time summed, on
that transaction (``TenantTransaction.statements``, ``.db_seconds``): the access log and the
``Server-Timing`` header report them, and tests assert them to catch N+1 queries. Counting
here costs a clock read per statement, where asyncpg's query loggers cost a record and a
loop callback each.
"""

from __future__ import annotations

import time
from typing import Any

from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper
from tortoise.backends.base.client import (
    NestedTransactionContext,
    TransactionContext,
    TransactionContextPooled,
)

from tenants.scope import record_statement


class CountingTransactionWrapper(TransactionWrapper):
    def _in_transaction(self) -> TransactionContext:
        return NestedTransactionContext(CountingTransactionWrapper(self))

    async def execute_insert(self, query: str, values: list[Any]) -> Any:
        started = time.perf_counter()
        try:
            return await super().execute_insert(query, values)
        finally:
            record_statement(time.perf_counter() - started)

    async def execute_many(self, query: str, values: list[Any]) -> None:
        started = time.perf_counter()
        try:
            await super().execute_many(query, values)
        finally:
            record_statement(time.perf_counter() - started)

    async def execute_query(self, query: str, values: list[Any] | None = None) -> Any:
        started = time.perf_counter()
        try:
            return await super().execute_query(query, values)
        finally:
            record_statement(time.perf_counter() - started)

    async def execute_query_dict(self, query: str, values: list[Any] | None = None) -> Any:
        started = time.perf_counter()
        try:
            return await super().execute_query_dict(query, values)
        finally:
            record_statement(time.perf_counter() - started)

    async def execute_script(self, query: str) -> None:
        started = time.perf_counter()
        try:
            await super().execute_script(query)
        finally:
            record_statement(time.perf_counter() - started)


class CountingAsyncpgClient(AsyncpgDBClient):
    def _in_transaction(self) -> TransactionContext:
        return TransactionContextPooled(CountingTransactionWrapper(self), self._pool_init_lock)


client_class = CountingAsyncpgClient

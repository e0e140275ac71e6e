"""Running a mutation's service call so an expected failure becomes data and undoes itself."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenants.errors import ServiceError
from tenants.scope import tenant_in_scope, tenant_savepoint

T = TypeVar("T")


async def attempt(action: Callable[[], Awaitable[T]]) -> T | ServiceError:
    """``action()``'s result, or the ``ServiceError`` it raised with its writes rolled back.

    Inside a tenant transaction the action runs in a savepoint, so a failure after a first
    write leaves nothing behind while other fields of the operation keep their work.
    """
    try:
        if tenant_in_scope() is None:
            return await action()
        async with tenant_savepoint():
            return await action()
    except ServiceError as exc:
        return exc

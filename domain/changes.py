"""Partial updates and bulk upserts: how services are told what to change, and how they answer.

``KEEP`` marks a field an update leaves alone (``None`` means "set to nothing"). Bulk upserts
(ERP syncs) take at most ``MAX_BATCH`` items and answer one ``UpsertResult`` per item, in order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, TypeVar

from tenants.errors import ServiceError, combined, invalid
from tenants.scope import tenant_savepoint

T = TypeVar("T")
R = TypeVar("R")
MAX_BATCH = 500


class Keep:
    """The type of ``KEEP``."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Final = Keep()


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    FAILED = "failed"


@dataclass(frozen=True)
class UpsertResult:
    key: str
    outcome: Outcome
    record: Any = None
    error: ServiceError | None = None


def check_batch_size(count: int) -> None:
    if count > MAX_BATCH:
        raise invalid("items", f"at most {MAX_BATCH} items a call", f"每次最多 {MAX_BATCH} 项")


def failed(key: str, error: ServiceError) -> UpsertResult:
    return UpsertResult(key, Outcome.FAILED, error=error)


async def upsert_one(
    key: str,
    current: R | None,
    create: Callable[[], Awaitable[R]],
    update: Callable[[R], Awaitable[tuple[R, bool]]],
) -> UpsertResult:
    """One item of a bulk upsert: ``create()`` when nothing has the key yet, else
    ``update(current)``, which says whether anything changed.

    The item runs in a savepoint: its failure undoes its own writes and nobody else's.
    """
    try:
        async with tenant_savepoint():
            if current is None:
                return UpsertResult(key, Outcome.CREATED, await create())
            record, changed = await update(current)
    except ServiceError as exc:
        return failed(key, exc)
    return UpsertResult(key, Outcome.UPDATED if changed else Outcome.UNCHANGED, record)


@dataclass
class Problems:
    """Collects every field's problem, so one answer names them all."""

    found: list[ServiceError] = field(default_factory=list)

    def take(self, check: Callable[[], T]) -> T | None:
        try:
            return check()
        except ServiceError as exc:
            self.found.extend(exc.details or [exc])
            return None

    async def take_async(self, check: Awaitable[T]) -> T | None:
        try:
            return await check
        except ServiceError as exc:
            self.found.extend(exc.details or [exc])
            return None

    def raise_any(self) -> None:
        if self.found:
            raise combined(self.found)

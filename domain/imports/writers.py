"""How mapped rows become records: the writer protocol each kind implements.

A writer runs inside the import's tenant transaction. It is fed batches of mapped rows in
file order and may write them at once (the records kinds go through their domain services'
upserts, whose per-item savepoints keep one refused row from undoing the others) or stage
them and write everything in ``finish`` (facts: COPY into a staging table, then one
``INSERT ... ON CONFLICT``). Nothing it writes is committed before the whole file has been
read and authenticated: the pipeline commits, or rolls back for a dry run, a failed
all-or-nothing import or a file that does not authenticate.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

from domain.imports.fields import MappedRow, RefKind, RowError, RowErrorCode
from tenants.scope import TenantID


class References(Protocol):
    """The tenant's records that import rows may name, loaded once per import."""

    def resolve(self, ref: RefKind, text: str) -> UUID | RowErrorCode:
        """The id ``text`` names, or ``NOT_FOUND`` / ``AMBIGUOUS``."""
        ...

    def add(self, ref: RefKind, names: Sequence[str], record_id: UUID) -> None:
        """Make a record written by this import nameable by later rows."""
        ...


@dataclass(frozen=True)
class WriteContext:
    tenant: TenantID
    import_id: UUID
    source: str  # the source system (the mapping's), "import" when none is named
    references: References
    timezone: str = "Asia/Shanghai"


@dataclass
class WriteReport:
    """What a batch (or ``finish``) did; ``errors`` are the rows the domain refused."""

    errors: list[RowError] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: WriteReport) -> None:
        self.errors.extend(other.errors)
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged

    @property
    def written(self) -> int:
        return self.created + self.updated


class KindWriter(Protocol):
    batch_size: int  # the most rows ``write`` takes at once

    async def write(self, rows: Sequence[MappedRow]) -> WriteReport: ...

    async def finish(self) -> WriteReport:
        """Called once after the last batch, when the whole file has authenticated."""
        ...


@runtime_checkable
class PreparingWriter(KindWriter, Protocol):
    """A writer whose per-row work (references resolved, records built) is pure Python the
    pipeline runs in its parser thread, so that it overlaps with the database's work."""

    def prepare(self, rows: Sequence[MappedRow]) -> tuple[Any, list[RowError]]:
        """What ``write_prepared`` takes, and the rows refused on the way. Thread-safe:
        it touches no database and nothing the event loop changes meanwhile."""
        ...

    async def write_prepared(self, prepared: Any) -> WriteReport: ...


WriterFactory = Callable[[WriteContext], Awaitable[KindWriter]]

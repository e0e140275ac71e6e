"""Results of the R&D dashboard's period statement, kept per process while still exact.

The period statement (``rd_sql``) reads a year of work items and their people: tens of
milliseconds on a small tenant, most of a second on a large one, for figures that change
only when work data does. Many people open the same dashboards (a unit's manager, HR, the
founders), so its rows are kept here, keyed by tenant, statement text and parameters, with
the snapshot they were read under, and reused only when the database says that no write
of the tables the statement reads (migration 0015's ``work_data_writes``: work items,
assignees, employees, org units, employee skills) is visible now and was not then: a reused
result is exactly what running the statement again would return.

Each request's transaction first reads its snapshot (one statement, with the dashboard's
session tuning); a kept result costs one more statement to validate, a miss runs the
statement itself. A transaction that has written anything keeps nothing (what it read may
be rolled back). ``RENSHI_DASHBOARD_CACHE`` sets how many results a process keeps (least
recently used go first); 0 turns keeping off.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tenants.scope import TenantID, TenantTransaction

DEFAULT_ENTRIES = 256

Row = Mapping[str, Any]

# The snapshot the statement runs after (under READ COMMITTED its own snapshot is as new or
# newer: a write between the two is seen by a later reader and makes it miss), and whether
# this transaction has written anything yet.
SNAPSHOT = "pg_current_snapshot()::text AS snapshot, pg_current_xact_id_if_assigned() IS NULL"

_STILL_VALID = """
SELECT NOT EXISTS (
        SELECT FROM work_data_writes w
        WHERE w.tenant_id = $1 AND w.txid >= pg_snapshot_xmin($2::text::pg_snapshot)
          AND NOT pg_visible_in_snapshot(w.txid, $2::text::pg_snapshot)
    )
    AND COALESCE((
        SELECT h.below <= pg_snapshot_xmin($2::text::pg_snapshot)
        FROM work_data_horizons h WHERE h.tenant_id = $1
    ), true)
"""


@dataclass(frozen=True)
class Snapshot:
    """Where a request's transaction stands: its snapshot, and whether it has written."""

    text: str
    clean: bool


@dataclass(frozen=True)
class _Kept:
    snapshot: str
    rows: tuple[Row, ...]


def _frozen(value: Any) -> Hashable:
    if isinstance(value, list | tuple):
        return tuple(_frozen(item) for item in value)
    return value  # type: ignore[no-any-return]


class PeriodCache:
    """Least recently used results of period statements, per process."""

    def __init__(self, entries: int = DEFAULT_ENTRIES) -> None:
        self._entries = entries
        self._kept: OrderedDict[tuple[TenantID, str, Hashable], _Kept] = OrderedDict()
        # Bumped by ``forget``: rows read before it are not kept after it (a request of an
        # erased tenant may still be reading when its notice arrives).
        self._generation = 0
        self.hits = 0
        self.misses = 0

    @property
    def entries(self) -> int:
        return self._entries

    def resize(self, entries: int) -> None:
        """Keep at most ``entries`` results from now on (0: none)."""
        self._entries = max(0, entries)
        while len(self._kept) > self._entries:
            self._kept.popitem(last=False)

    def clear(self) -> None:
        self._kept.clear()
        self.hits = self.misses = 0

    def forget(self, tenant: TenantID | None) -> None:
        """Drop the results kept of ``tenant`` (of every tenant with ``None``): an erased
        tenant's rows must not stay in memory (``tenants.lifecycle.notices``)."""
        self._generation += 1
        if tenant is None:
            self._kept.clear()
            return
        for key in [key for key in self._kept if key[0] == tenant]:
            del self._kept[key]

    def tenants(self) -> set[TenantID]:
        """The tenants with results kept here."""
        return {key[0] for key in self._kept}

    def __len__(self) -> int:
        return len(self._kept)

    @contextmanager
    def disabled(self) -> Iterator[None]:
        """Nothing kept or reused inside (what was kept before is kept after)."""
        entries, kept = self._entries, self._kept
        self._entries, self._kept = 0, OrderedDict()
        try:
            yield
        finally:
            self._entries, self._kept = entries, kept

    async def rows(
        self,
        tx: TenantTransaction,
        tenant: TenantID,
        snapshot: Snapshot,
        statement: str,
        params: Sequence[Any],
    ) -> list[Row]:
        """The statement's rows: kept ones when the database confirms they still hold,
        else fresh ones (kept when this transaction has not written)."""
        if self._entries == 0:
            return list(await tx.fetch(statement, *params))
        key = (tenant, statement, _frozen(list(params)))
        generation = self._generation
        kept = self._kept.get(key)
        # Other requests run while this one awaits: the entry may be gone by then (pushed
        # out, forgotten), hence the lookups after each await.
        if kept is not None and await tx.fetchval(_STILL_VALID, tenant, kept.snapshot):
            if key in self._kept:
                self._kept.move_to_end(key)
            self.hits += 1
            return list(kept.rows)
        self.misses += 1
        rows = list(await tx.fetch(statement, *params))
        if snapshot.clean and generation == self._generation:
            self._kept[key] = _Kept(snapshot.text, tuple(rows))
            self._kept.move_to_end(key)
            while len(self._kept) > self._entries:
                self._kept.popitem(last=False)
        elif kept is not None:
            self._kept.pop(key, None)
        return rows


period_cache = PeriodCache()
"""The process's cache (``RENSHI_DASHBOARD_CACHE`` sizes it at start)."""

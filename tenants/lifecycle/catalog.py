"""The tenant-owned tables, read from PostgreSQL's catalog rather than listed by hand.

A table is tenant-owned when it has a ``tenant_id`` column (the design's rule for every
tenant table); ``tenants`` itself is the tenant's own row. Foreign keys between them give
the order in which rows can be deleted.
"""

from __future__ import annotations

import graphlib
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

TENANTS_TABLE = "tenants"
TENANT_COLUMN = "tenant_id"

_TABLES = """
    SELECT c.table_name, array_agg(c.column_name::text ORDER BY c.ordinal_position) AS columns
    FROM information_schema.columns c
    JOIN information_schema.tables t
      ON t.table_schema = c.table_schema AND t.table_name = c.table_name
    WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
      AND c.table_name IN (
          SELECT table_name FROM information_schema.columns
          WHERE table_schema = current_schema() AND column_name = $1
      )
    GROUP BY c.table_name
    ORDER BY c.table_name
"""

_COLUMNS = """
    SELECT array_agg(column_name::text ORDER BY ordinal_position)
    FROM information_schema.columns
    WHERE table_schema = current_schema() AND table_name = $1
"""

# Foreign keys between tables of this schema: (referencing, referenced), self-references
# left out (one DELETE of all the tenant's rows removes a tree and its parents together).
_FOREIGN_KEYS = """
    SELECT DISTINCT src.relname AS referencing, dst.relname AS referenced
    FROM pg_constraint k
    JOIN pg_class src ON src.oid = k.conrelid
    JOIN pg_class dst ON dst.oid = k.confrelid
    WHERE k.contype = 'f' AND k.conrelid <> k.confrelid
      AND src.relnamespace = current_schema()::regnamespace
      AND dst.relnamespace = current_schema()::regnamespace
"""


@dataclass(frozen=True)
class TenantTable:
    name: str
    columns: tuple[str, ...]


def quote_ident(name: str) -> str:
    """``name`` as a quoted SQL identifier (catalog names are trusted, but quoted anyway)."""
    return '"' + name.replace('"', '""') + '"'


async def tenant_tables(conn: asyncpg.Connection) -> list[TenantTable]:
    """Every table with a ``tenant_id`` column, by name, with its columns in table order."""
    rows = await conn.fetch(_TABLES, TENANT_COLUMN)
    return [TenantTable(name=r["table_name"], columns=tuple(r["columns"])) for r in rows]


async def tenants_table(conn: asyncpg.Connection) -> TenantTable:
    columns = await conn.fetchval(_COLUMNS, TENANTS_TABLE)
    return TenantTable(name=TENANTS_TABLE, columns=tuple(columns))


async def deletion_order(conn: asyncpg.Connection, tables: Sequence[TenantTable]) -> list[str]:
    """``tables``' names, every referencing table before the tables it references.

    Cascading keys would forgive a wrong order, restricting ones (the usual ``tenant_id``
    key) would not; deleting children first also spares the cascades' per-row work.
    """
    names = {t.name for t in tables}
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for name in sorted(names):
        sorter.add(name)
    for row in await conn.fetch(_FOREIGN_KEYS):
        if row["referencing"] in names and row["referenced"] in names:
            # The referenced table comes after (it "depends on" its children being gone).
            sorter.add(row["referenced"], row["referencing"])
    try:
        return list(sorter.static_order())
    except graphlib.CycleError as exc:
        raise RuntimeError(
            f"foreign keys form a cycle between tenant tables: {exc.args[1]}"
        ) from exc

"""What only the owner role does: apply the schema migrations, analyze after bulk loads."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import asyncpg
from tortoise.context import TortoiseContext
from tortoise.migrations.api import migrate

from tenants.database.config import orm_config

# Any constant works; it only has to be the same for every migrating process.
_MIGRATION_LOCK = 0x52454E534849  # "RENSHI"


async def apply_migrations(admin_url: str, *, report: Callable[[str], None] | None = None) -> None:
    """Bring the schema to the latest migration. Safe to run on every start and in parallel."""

    def progress(event: str, app_label: str, name: str) -> None:
        if report is not None and event == "apply_done":
            report(f"applied {app_label}.{name}")

    # Two instances starting at once must not both apply the same migration.
    lock = await asyncpg.connect(admin_url)
    try:
        await lock.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        # A context of its own, so the application's ORM state is untouched and the
        # migration connections are closed on the way out (the API alone leaves them open).
        async with TortoiseContext():
            config = orm_config(admin_url, pool_size=2, application_name="renshi-migrate")
            await migrate(config=config, progress=progress)
    finally:
        await lock.close()


async def analyze(admin_url: str, tables: Sequence[str]) -> None:
    """ANALYZE ``tables`` as their owner. A bulk load leaves them without planner statistics
    until autovacuum gets to them, and a plan made for empty tables (nested loops over
    thousands of rows) is what the first queries would run meanwhile."""
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"ANALYZE {', '.join(tables)}")
    finally:
        await conn.close()

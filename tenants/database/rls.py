"""Row-level-security statements shared by the migrations.

Every tenant-owned table gets ``ENABLE`` and ``FORCE ROW LEVEL SECURITY`` and one policy for
reads and writes alike, in the migration that creates it. ``NULLIF`` matters: after a
transaction that set ``app.tenant_id`` locally, the setting reads ``''`` rather than NULL.
"""

from __future__ import annotations

from tortoise.migrations import operations as ops

CURRENT_TENANT = "NULLIF(current_setting('app.tenant_id', true), '')::uuid"


def tenant_table(table: str, column: str = "tenant_id") -> ops.RunSQL:
    """RLS for a table whose rows carry the owning tenant in ``column``."""
    return ops.RunSQL(
        [
            f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY',
            f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY',
            f'CREATE POLICY tenant_isolation ON "{table}" '
            f"USING ({column} = {CURRENT_TENANT}) WITH CHECK ({column} = {CURRENT_TENANT})",
        ],
        reverse_sql=[
            f'DROP POLICY IF EXISTS tenant_isolation ON "{table}"',
            f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY',
            f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY',
        ],
    )

"""The schema as migrated: every tenant table is under row-level security, the app role is weak."""

from __future__ import annotations

import asyncpg
import pytest

from tests.conftest import TEST_APP

POLICY_EXPRESSION = "NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid"


async def _tenant_tables(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(
        """
        SELECT c.relname FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
        ORDER BY 1
        """
    )
    return [r["relname"] for r in rows]


async def test_every_tenant_table_has_forced_rls_and_the_tenant_policy(
    superuser: asyncpg.Connection,
) -> None:
    # given the migrated schema
    tables = [*await _tenant_tables(superuser), "tenants"]
    assert {"users", "refresh_tokens", "api_clients", "jobs"} <= set(tables)

    for table in tables:
        row = await superuser.fetchrow(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = $1", table
        )
        assert row is not None
        assert row["relrowsecurity"], f"{table}: RLS not enabled"
        assert row["relforcerowsecurity"], f"{table}: RLS not forced"
        policies = await superuser.fetch(
            "SELECT policyname, cmd, qual, with_check FROM pg_policies WHERE tablename = $1", table
        )
        isolation = [p for p in policies if p["policyname"] == "tenant_isolation"]
        assert len(isolation) == 1, f"{table}: no tenant_isolation policy"
        assert isolation[0]["cmd"] == "ALL"
        assert POLICY_EXPRESSION in isolation[0]["qual"]
        assert POLICY_EXPRESSION in isolation[0]["with_check"]


async def test_every_unique_constraint_and_index_leads_with_tenant_id(
    superuser: asyncpg.Connection,
) -> None:
    for table in await _tenant_tables(superuser):
        indexes = await superuser.fetch(
            """
            SELECT i.relname AS name, ix.indisprimary AS is_primary,
                   (SELECT a.attname FROM pg_attribute a
                    WHERE a.attrelid = ix.indrelid AND a.attnum = ix.indkey[0]) AS first_column
            FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid
            JOIN pg_class t ON t.oid = ix.indrelid
            WHERE t.relname = $1
            """,
            table,
        )
        for index in indexes:
            if index["is_primary"]:
                continue  # random UUID keys: no tenant can guess or collide with another's
            assert index["first_column"] == "tenant_id", (
                f"{table}.{index['name']} does not lead with tenant_id"
            )


async def test_the_application_role_is_weak(superuser: asyncpg.Connection) -> None:
    role = await superuser.fetchrow(
        "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = $1",
        TEST_APP,
    )
    assert role is not None
    assert not role["rolsuper"]
    assert not role["rolbypassrls"]
    assert not role["rolcreaterole"]
    assert not role["rolcreatedb"]
    owned = await superuser.fetchval(
        "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = $1",
        TEST_APP,
    )
    assert owned == 0, "the application role owns relations, so RLS would not bind it"


@pytest.mark.parametrize(
    "statement", ["CREATE TABLE sneaky (id int)", "ALTER TABLE users DISABLE ROW LEVEL SECURITY"]
)
async def test_the_application_role_cannot_change_the_schema(
    database: tuple[str, str], statement: str
) -> None:
    conn = await asyncpg.connect(database[1])
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(statement)
    finally:
        await conn.close()

"""scripts/backup and scripts/restore against the test server: a whole-database dump of two
tenants restores into a new database with its rows, grants and row-level security intact.

The scripts pick the client programs of the server's major version (scripts/pg-bin): the
Debian ones for the system server, the embedded wheel's own for the embedded one.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import stat
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

import asyncpg
import pytest

from tenants.database.migrate import apply_migrations
from tenants.database.provision import provision
from tenants.database.urls import with_role
from tenants.models import Tenant
from tests.conftest import TEST_APP, TEST_OWNER
from tests.factories import create_tenant, create_user
from tests.factories_records import (
    create_appraisal,
    create_employee,
    create_org_unit,
    create_skill,
    set_skill,
)

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
# Tables the factories below fill; counted per tenant before and after the restore.
COUNTED = ("org_units", "employees", "skills", "employee_skills", "appraisals", "users")
TENANT_TABLES_SQL = """
    SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
           EXISTS (SELECT 1 FROM pg_policies p
                   WHERE p.tablename = c.relname AND p.policyname = 'tenant_isolation'
                     AND p.cmd = 'ALL') AS has_policy
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
    ORDER BY 1
"""


def _superuser_name(url: str) -> str:
    return unquote(urlsplit(url).username or "postgres")


def _database_name(url: str) -> str:
    return unquote(urlsplit(url).path.lstrip("/"))


async def _run(*command: str) -> tuple[int, str, str]:
    # The scripts find the embedded wheel's programs through PYTHON (this interpreter).
    env = {**os.environ, "PYTHON": sys.executable}
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _file_facts(path: Path) -> tuple[bytes, int, list[Path]]:
    """A file's first bytes and mode and its folder's files (a folder: no bytes, its files)."""
    folder = path if path.is_dir() else path.parent
    head = b"" if path.is_dir() else path.read_bytes()[:5]
    return head, stat.S_IMODE(path.stat().st_mode), sorted(folder.iterdir())


async def _counts(url: str, tenants: Mapping[str, Tenant]) -> dict[str, dict[str, int]]:
    conn = await asyncpg.connect(url)
    try:
        return {
            name: {
                # The table names are the constants of COUNTED.
                table: await conn.fetchval(
                    f"SELECT count(*) FROM {table} WHERE tenant_id = $1",  # noqa: S608
                    tenant.id,
                )
                for table in COUNTED
            }
            for name, tenant in tenants.items()
        }
    finally:
        await conn.close()


async def _two_tenants() -> dict[str, Tenant]:
    first = await create_tenant(name="Backup A")
    second = await create_tenant(name="Backup B")
    # first: 2 units, 3 people (one with a sealed national id), 1 skill held by 2 people,
    # 1 appraisal, 1 user
    unit = await create_org_unit(first)
    await create_org_unit(first, parent=unit)
    python = await create_skill(first, "Python")
    people = [
        await create_employee(first, org_unit=unit, national_id="11010519491231002X"),
        await create_employee(first, org_unit=unit),
        await create_employee(first),
    ]
    await set_skill(first, people[0], python, 4)
    await set_skill(first, people[1], python, 2)
    await create_appraisal(first, people[0], score=88)
    await create_user(first, roles=("hr",))
    # second: 1 unit, 1 person, no skills or appraisals, 2 users
    await create_employee(second, org_unit=await create_org_unit(second))
    await create_user(second)
    await create_user(second, roles=("admin",))
    return {"first": first, "second": second}


@pytest.fixture
async def restored_name(superuser_url: str) -> AsyncIterator[str]:
    """The name of the database restored into; dropped afterwards."""
    name = f"renshi_restore_{secrets.token_hex(4)}"
    yield name
    conn = await asyncpg.connect(superuser_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def test_backup_then_restore_into_a_new_database_keeps_rows_grants_and_rls(
    superuser_url: str, database: tuple[str, str], restored_name: str, tmp_path: Path
) -> None:
    # given two tenants with records in the test database
    tenants = await _two_tenants()
    superuser = _superuser_name(superuser_url)
    source_url = with_role(superuser_url, user=superuser, database=_database_name(database[1]))
    expected = {
        "first": {
            "org_units": 2,
            "employees": 3,
            "skills": 1,
            "employee_skills": 2,
            "appraisals": 1,
            "users": 1,
        },
        "second": {
            "org_units": 1,
            "employees": 1,
            "skills": 0,
            "employee_skills": 0,
            "appraisals": 0,
            "users": 2,
        },
    }
    assert await _counts(source_url, tenants) == expected

    # and the client programs chosen are of the server's major version
    code, out, err = await _run(str(SCRIPTS / "pg-bin"), source_url)
    assert code == 0, err
    code, version, err = await _run(str(Path(out.strip()) / "pg_dump"), "--version")
    conn = await asyncpg.connect(source_url)
    try:
        server_major = int(await conn.fetchval("SHOW server_version_num")) // 10000
    finally:
        await conn.close()
    assert re.match(rf"pg_dump \(PostgreSQL\) {server_major}\.", version), version

    # when it is backed up
    code, out, err = await _run(str(SCRIPTS / "backup"), source_url, str(tmp_path / "dumps"))
    assert code == 0, err

    # then one owner-only dump with a timestamped name exists
    dump = Path(out.strip().splitlines()[-1])
    assert dump.parent == tmp_path / "dumps"
    assert re.fullmatch(rf"renshi-{_database_name(source_url)}-\d{{8}}T\d{{6}}Z\.dump", dump.name)
    assert _file_facts(dump) == (b"PGDMP", 0o600, [dump])  # pg_dump's custom format

    # when the roles and an empty database are provisioned, the dump restored, and migrate run
    target = await provision(superuser_url, database=restored_name, owner=TEST_OWNER, app=TEST_APP)
    target_superuser_url = with_role(superuser_url, user=superuser, database=restored_name)
    code, out, err = await _run(str(SCRIPTS / "restore"), str(dump), target_superuser_url)
    assert code == 0, err
    applied: list[str] = []
    await apply_migrations(target.admin_url, report=applied.append)

    # then migrate had nothing to do, and every tenant's rows are back
    assert applied == []
    assert await _counts(target_superuser_url, tenants) == expected

    # and every tenant table is still under forced row-level security with its policy
    source = await asyncpg.connect(source_url)
    restored = await asyncpg.connect(target_superuser_url)
    try:
        source_tables = [tuple(row) for row in await source.fetch(TENANT_TABLES_SQL)]
        restored_tables = [tuple(row) for row in await restored.fetch(TENANT_TABLES_SQL)]
        sealed = await restored.fetchval(
            "SELECT national_id FROM employees WHERE tenant_id = $1 AND national_id IS NOT NULL",
            tenants["first"].id,
        )
    finally:
        await source.close()
        await restored.close()
    assert len(restored_tables) > len(COUNTED)
    assert restored_tables == source_tables
    assert all(rls and forced and policy for _, rls, forced, policy in restored_tables)
    assert sealed is not None
    assert b"11010519491231002X" not in sealed  # still sealed

    # and the application role reads through RLS there: its tenant's rows, none without one
    app = await asyncpg.connect(target.app_url)
    try:
        assert await app.fetchval("SELECT count(*) FROM employees") == 0
        async with app.transaction():
            await app.execute(
                "SELECT set_config('app.tenant_id', $1, true)", str(tenants["first"].id)
            )
            assert await app.fetchval("SELECT count(*) FROM employees") == 3
            assert await app.fetchval("SELECT count(*) FROM appraisals") == 1
        async with app.transaction():
            await app.execute(
                "SELECT set_config('app.tenant_id', $1, true)", str(tenants["second"].id)
            )
            assert await app.fetchval("SELECT count(*) FROM employees") == 1
            assert await app.fetchval("SELECT count(*) FROM appraisals") == 0
    finally:
        await app.close()

    # when restoring again into the now filled database, the script refuses and changes nothing
    code, out, err = await _run(str(SCRIPTS / "restore"), str(dump), target_superuser_url)
    assert code == 1
    assert "not empty" in err
    assert await _counts(target_superuser_url, tenants) == expected


async def test_backup_refuses_a_role_under_row_level_security(
    database: tuple[str, str], tmp_path: Path
) -> None:
    # given the owner role, which FORCE ROW LEVEL SECURITY holds to the policies too
    owner_url, _ = database

    # when it backs up
    code, _, err = await _run(str(SCRIPTS / "backup"), owner_url, str(tmp_path))

    # then nothing is written and the message says why
    assert code == 1
    assert "neither a superuser nor BYPASSRLS" in err
    assert _file_facts(tmp_path)[2] == []

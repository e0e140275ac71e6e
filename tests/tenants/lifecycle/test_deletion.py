"""Deleting a tenant: no row of it left anywhere, its keys gone, every other tenant untouched.

The append-only guards let the erasure through (the owner, naming the tenant) and nothing
else: not the application role naming its own tenant, not the owner naming another one; and
other tenants write to the guarded tables while an erasure is open.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest

from api.runtime import AppRuntime
from domain.indicators.service import FactInput, fact_service
from domain.people.models import Employee
from domain.people.service import EmployeeChanges, employee_service
from tenants.lifecycle.deletion import TenantNotFoundError, delete_tenant, erase_tenant
from tenants.models import Tenant
from tenants.scope import TenantID, tenant_transaction
from tenants.settings import Settings
from tests.factories import PASSWORD, create_tenant, tenant_id, user_token
from tests.factories_indicators import record_facts
from tests.factories_lifecycle import LOGIN, tenant_table_counts, tenant_with_data
from tests.factories_records import create_employee
from tests.support.graphql import GraphQLClient

PEOPLE = "{ employees(first: 10) { edges { node { name nationalId } } } }"

# The triggers, the append-only guards among them: a deletion never disables or alters them.
GUARDS = """
    SELECT c.relname, t.tgname, t.tgenabled::text FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
    WHERE NOT t.tgisinternal ORDER BY 1, 2
"""


async def test_a_deleted_tenant_leaves_no_row_or_key_and_the_other_tenant_works_on(
    settings: Settings,
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    runtime: AppRuntime,
    superuser: asyncpg.Connection,
) -> None:
    # given: two tenants with data in every area, their keys in this process's cache
    doomed = await tenant_with_data(gql, http, runtime, superuser)
    other = await tenant_with_data(gql, http, runtime, superuser)
    before = await tenant_table_counts(superuser, doomed.tenant)
    assert [table for table, n in before.items() if n == 0] == []  # the data covers every table
    assert before["tenant_keys"] == 2  # pii and import
    others_before = await tenant_table_counts(superuser, other.tenant)
    triggers = await superuser.fetch(GUARDS)
    cached = runtime.pii.keysets._cache
    assert any(tenant == doomed.tenant.id for tenant, _ in cached)
    assert settings.database_admin_url is not None

    # when
    report = await delete_tenant(
        settings.database_admin_url, tenant_id(doomed.tenant), keysets=runtime.pii.keysets
    )

    # then: not one row of the tenant in any table, its own row and its keys included
    after = await tenant_table_counts(superuser, doomed.tenant)
    assert after == dict.fromkeys(before, 0)
    assert (
        await superuser.fetchval("SELECT count(*) FROM tenants WHERE id = $1", doomed.tenant.id)
        == 0
    )
    assert (report.slug, report.rows["tenants"]) == (doomed.tenant.slug, 1)
    assert report.rows["tenant_keys"] == 2
    assert report.rows["facts"] == before["facts"]
    assert report.rows["audit_log"] == before["audit_log"]
    # the keys are gone from this process's cache too
    assert not any(tenant == doomed.tenant.id for tenant, _ in cached)
    # the append-only guards were left as they were, and still refuse without the erasure
    assert await superuser.fetch(GUARDS) == triggers
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await superuser.execute("DELETE FROM audit_log WHERE tenant_id = $1", other.tenant.id)

    # the other tenant has every row it had, and works: a login, its people with national ids
    assert await tenant_table_counts(superuser, other.tenant) == others_before
    login = (await gql(LOGIN, {"t": other.tenant.slug, "e": other.admin.email, "p": PASSWORD})).ok()
    assert login["login"]["__typename"] == "LoginPayload"
    people = (await gql(PEOPLE, token=login["login"]["accessToken"])).ok()["employees"]["edges"]
    national_ids = {edge["node"]["name"]: edge["node"]["nationalId"] for edge in people}
    assert national_ids["Ada"] == other.national_id
    assert national_ids["Imported Person"] == other.imported_national_id

    # and the deleted tenant's people can no longer do anything
    gone = await gql(LOGIN, {"t": doomed.tenant.slug, "e": doomed.admin.email, "p": PASSWORD})
    assert gone.ok()["login"]["__typename"] != "LoginPayload"
    stale = await gql(PEOPLE, token=user_token(runtime.tokens, doomed.admin))
    assert stale.status == 401, stale.body


async def test_an_unknown_tenant_is_a_clear_error_and_changes_nothing(
    settings: Settings,
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    runtime: AppRuntime,
    superuser: asyncpg.Connection,
) -> None:
    data = await tenant_with_data(gql, http, runtime, superuser)
    before = await tenant_table_counts(superuser, data.tenant)
    assert settings.database_admin_url is not None
    missing = TenantID(uuid4())
    with pytest.raises(TenantNotFoundError, match=str(missing)):
        await delete_tenant(settings.database_admin_url, missing)
    assert await tenant_table_counts(superuser, data.tenant) == before


ERASING = "SELECT set_config('renshi.erase_tenant', $1, true)"
AT = datetime(2026, 8, 10, 9, tzinfo=UTC)


@pytest.fixture
async def owner(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the owner role, the one ``renshi tenant delete`` uses."""
    assert settings.database_admin_url is not None
    conn = await asyncpg.connect(settings.database_admin_url)
    yield conn
    await conn.close()  # rolls back whatever a failed test left open


async def _with_history(name: str) -> tuple[Tenant, Employee]:
    """A tenant with a person (an ``audit_log`` row) and a fact about them."""
    tenant = await create_tenant(name=name)
    person = await create_employee(tenant, level="mid")
    await record_facts(tenant, person, "sales_request", [{"value": 1.0}])
    return tenant, person


async def _history(superuser: asyncpg.Connection, tenant: Tenant) -> tuple[int, int, int]:
    """The tenant's rows in ``audit_log``, ``facts`` and ``employees``, seen past RLS."""
    row = await superuser.fetchrow(
        "SELECT (SELECT count(*) FROM audit_log WHERE tenant_id = $1) AS audit,"
        " (SELECT count(*) FROM facts WHERE tenant_id = $1) AS facts,"
        " (SELECT count(*) FROM employees WHERE tenant_id = $1) AS people",
        tenant.id,
    )
    assert row is not None
    return row["audit"], row["facts"], row["people"]


async def _as_application(tenant: TenantID, *statements: tuple[str, tuple[Any, ...]]) -> None:
    """``statements`` in one tenant transaction of the application role."""
    async with tenant_transaction(tenant) as tx:
        for statement, args in statements:
            await tx.execute(statement, *args)


async def _as_owner(
    owner: asyncpg.Connection, tenant: Tenant, erasing: Tenant, statement: str
) -> str:
    """``statement`` (with ``tenant``'s id) as the owner, in ``tenant``'s scope and in an
    erasure of ``erasing``; its status, the transaction rolled back."""
    transaction = owner.transaction()
    await transaction.start()
    try:
        # Row-level security is forced on the owner: the rows must be visible to it.
        await owner.execute("SELECT set_config('app.tenant_id', $1, true)", str(tenant.id))
        await owner.execute(ERASING, str(erasing.id))
        status: str = await owner.execute(statement, tenant.id)
        return status
    finally:
        await transaction.rollback()


async def test_the_application_role_cannot_erase_history_even_naming_its_own_tenant(
    superuser: asyncpg.Connection,
) -> None:
    # given: two tenants with history
    tenant, person = await _with_history("Erasing itself")
    other, _ = await _with_history("Bystander")
    tid = tenant_id(tenant)
    before, others_before = await _history(superuser, tenant), await _history(superuser, other)
    assert min(before) >= 1
    attempts: list[tuple[str, tuple[Any, ...]]] = [
        ("DELETE FROM audit_log WHERE tenant_id = $1", (tenant.id,)),
        ("DELETE FROM facts WHERE tenant_id = $1", (tenant.id,)),
        ("UPDATE audit_log SET action = 'erased' WHERE tenant_id = $1", (tenant.id,)),
        ("UPDATE facts SET value = 2 WHERE tenant_id = $1", (tenant.id,)),
        # The foreign key's cascade to the person's facts runs as the owner of ``facts``.
        ("DELETE FROM employees WHERE tenant_id = $1 AND id = $2", (tenant.id, person.id)),
    ]
    for statement, args in attempts:
        # when: a tenant transaction of the application role claims the erasure of its tenant
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await _as_application(tid, (ERASING, (str(tid),)), (statement, args))

    # when: it even shadows the catalog with a temporary table naming itself the owner
    shadow = (
        "CREATE TEMPORARY TABLE pg_class ON COMMIT DROP AS "
        "SELECT c.oid, r.oid AS relowner FROM pg_catalog.pg_class c "
        "CROSS JOIN pg_catalog.pg_roles r WHERE r.rolname = current_user"
    )
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await _as_application(
            tid,
            (shadow, ()),
            (ERASING, (str(tid),)),
            ("DELETE FROM facts WHERE tenant_id = $1", (tenant.id,)),
        )

    # then: every row is still there, the other tenant's too
    assert await _history(superuser, tenant) == before
    assert await _history(superuser, other) == others_before


async def test_the_owner_cannot_erase_a_tenant_it_does_not_name_nor_rewrite_history(
    owner: asyncpg.Connection, superuser: asyncpg.Connection
) -> None:
    # given: two tenants with history, an owner transaction scoped to the first
    tenant, _ = await _with_history("Kept")
    other, _ = await _with_history("Being erased")
    before = await _history(superuser, tenant)

    # when: the erasure named is another tenant's, or the statement an update
    for erasing, statement in (
        (other, "DELETE FROM audit_log WHERE tenant_id = $1"),
        (other, "DELETE FROM facts WHERE tenant_id = $1"),
        (tenant, "UPDATE audit_log SET action = 'erased' WHERE tenant_id = $1"),
        (tenant, "UPDATE facts SET value = 2 WHERE tenant_id = $1"),
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await _as_owner(owner, tenant, erasing, statement)

    # then: refused, and not for want of visible rows: naming this tenant deletes them
    for table, n in (("audit_log", before[0]), ("facts", before[1])):
        statement = f"DELETE FROM {table} WHERE tenant_id = $1"  # noqa: S608
        assert await _as_owner(owner, tenant, tenant, statement) == f"DELETE {n}"
    assert await _history(superuser, tenant) == before


async def test_other_tenants_write_history_while_an_erasure_is_open(
    owner: asyncpg.Connection, superuser: asyncpg.Connection
) -> None:
    # given: a tenant being erased, its rows of both append-only tables deleted, not committed
    doomed, _ = await _with_history("Being erased")
    other, person = await _with_history("Busy")
    others_before = await _history(superuser, other)
    erasure = owner.transaction()
    await erasure.start()
    report = await erase_tenant(owner, tenant_id(doomed))
    assert min(report.rows["audit_log"], report.rows["facts"]) >= 1

    # when: the other tenant records a person (audited) and a fact meanwhile, with no
    # patience for a lock (a wait fails the test within a quarter of a second)
    tid = tenant_id(other)
    async with tenant_transaction(tid, statement_timeout_ms=2000) as tx:
        await tx.execute("SET LOCAL lock_timeout = '250ms'")
        newcomer = await employee_service.create(
            tid, EmployeeChanges(employee_number="E-NEW", name="Newcomer")
        )
        (recorded,) = await fact_service.record_many(
            tid, [FactInput(kind="sales_request", employee_id=person.id, occurred_at=AT, value=2)]
        )
        assert recorded.error is None, recorded.error
    await erasure.commit()

    # then: the other tenant's rows went in before the erasure ended, and both stand
    assert await _history(superuser, other) == tuple(n + 1 for n in others_before)
    assert await superuser.fetchval(
        "SELECT EXISTS (SELECT FROM audit_log WHERE tenant_id = $1 AND entity_id = $2)",
        other.id,
        newcomer.id,
    )
    assert await _history(superuser, doomed) == (0, 0, 0)
    assert await superuser.fetchval("SELECT count(*) FROM tenants WHERE id = $1", doomed.id) == 0

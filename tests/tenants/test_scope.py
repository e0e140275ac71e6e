"""The tenant scope fails closed, in the ORM and in the database."""

from __future__ import annotations

from uuid import uuid4

import asyncpg
import pytest
from tortoise.exceptions import OperationalError

from domain.jobs.models import Job
from tenants import repository as repo
from tenants.models import User
from tenants.scope import TenantID, TenantScopeError, current_tenant, tenant_transaction
from tests.factories import create_tenant, create_user, tenant_id


async def test_orm_queries_without_a_tenant_raise() -> None:
    with pytest.raises(TenantScopeError):
        await User.all()
    with pytest.raises(TenantScopeError):
        await Job.filter(kind="x").count()
    with pytest.raises(TenantScopeError):
        current_tenant()


async def test_raw_queries_without_a_tenant_see_no_rows(database: tuple[str, str]) -> None:
    # given users in two tenants
    for _ in range(2):
        await create_user(await create_tenant())
    conn = await asyncpg.connect(database[1])
    try:
        # when the application role reads with no tenant set
        assert await conn.fetchval("SELECT count(*) FROM users") == 0
        # and after a transaction that set a tenant locally (the setting then reads '')
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(uuid4()))
        assert await conn.fetchval("SELECT current_setting('app.tenant_id', true)") == ""
        assert await conn.fetchval("SELECT count(*) FROM users") == 0
        assert await conn.fetchval("SELECT count(*) FROM tenants") == 0
    finally:
        await conn.close()


async def test_a_tenant_sees_only_its_own_rows() -> None:
    a, b = await create_tenant(), await create_tenant()
    mine = await create_user(a)
    await create_user(b)
    async with tenant_transaction(tenant_id(a)):
        assert [u.id for u in await User.all()] == [mine.id]
        assert [u.id for u in await User.unscoped()] == [mine.id]  # RLS, even without the filter


async def test_rows_of_another_tenant_cannot_be_written() -> None:
    a, b = await create_tenant(), await create_tenant()
    theirs = await create_user(b, name="Before")
    async with tenant_transaction(tenant_id(a)):
        # the ORM refuses a row of another tenant
        with pytest.raises(TenantScopeError):
            await theirs.save()
        # and the database ignores updates aimed at it
        assert await User.unscoped().filter(id=theirs.id).update(display_name="Hacked") == 0
    # nor can a row be inserted for another tenant: WITH CHECK refuses it
    with pytest.raises(OperationalError, match="row-level security"):
        async with tenant_transaction(tenant_id(a)):
            await _insert_user_row(owner=tenant_id(b))
    async with tenant_transaction(tenant_id(b)):
        assert (await repo.get_user(tenant_id(b), theirs.id)).display_name == "Before"  # type: ignore[union-attr]


async def _insert_user_row(owner: TenantID) -> None:
    from tortoise import connections

    await connections.get("default").execute_query(
        "INSERT INTO users (id, tenant_id, email, display_name, roles, is_active, created_at, updated_at) "
        "VALUES ($1, $2, 'x@example.com', 'X', '{}', true, now(), now())",
        [uuid4(), owner],
    )


async def test_nested_tenant_transactions_are_refused() -> None:
    a = await create_tenant()
    async with tenant_transaction(tenant_id(a)):
        with pytest.raises(TenantScopeError):
            async with tenant_transaction(tenant_id(a)):
                pass


async def test_repository_refuses_a_tenant_other_than_the_one_in_scope() -> None:
    a, b = await create_tenant(), await create_tenant()
    async with tenant_transaction(tenant_id(a)):
        with pytest.raises(TenantScopeError):
            await repo.get_users(tenant_id(b), [])


async def test_after_commit_callbacks_run_after_commit_only() -> None:
    a = await create_tenant()
    calls: list[str] = []

    async def record() -> None:
        calls.append("sent")

    async with tenant_transaction(tenant_id(a)) as tx:
        tx.on_commit(record)
        assert calls == []
    assert calls == ["sent"]

    async def register_then_fail() -> None:
        async with tenant_transaction(tenant_id(a)) as tx:
            tx.on_commit(record)
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        await register_then_fail()
    assert calls == ["sent"]


async def test_the_statement_timeout_cancels_a_slow_statement_and_the_connection_recovers() -> None:
    tenant = tenant_id(await create_tenant())

    async def slow() -> None:
        async with tenant_transaction(tenant, statement_timeout_ms=100) as tx:
            await tx.client.execute_query("SELECT pg_sleep(2)")

    # tortoise passes this one through untranslated
    with pytest.raises(asyncpg.QueryCanceledError, match="statement timeout"):
        await slow()
    # the pool hands out working connections afterwards, with the default timeout back
    async with tenant_transaction(tenant) as tx:
        _, rows = await tx.client.execute_query("SELECT current_setting('statement_timeout') AS t")
        assert rows[0]["t"] == "5s"

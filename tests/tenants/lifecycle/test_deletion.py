"""Deleting a tenant: no row of it left anywhere, its keys gone, every other tenant untouched."""

from __future__ import annotations

from uuid import uuid4

import asyncpg
import httpx
import pytest

from api.runtime import AppRuntime
from tenants.lifecycle.deletion import TenantNotFoundError, delete_tenant
from tenants.scope import TenantID
from tenants.settings import Settings
from tests.factories import PASSWORD, tenant_id, user_token
from tests.factories_lifecycle import LOGIN, tenant_table_counts, tenant_with_data
from tests.support.graphql import GraphQLClient

PEOPLE = "{ employees(first: 10) { edges { node { name nationalId } } } }"

# The guards of the append-only tables, stepped past for the deletion only.
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
    # the append-only guards are back as they were
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

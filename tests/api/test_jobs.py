"""Jobs through GraphQL: starting the session purge, following it, and its effect per tenant."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from api.runtime import AppRuntime
from tenants.models import RefreshToken, Tenant, User
from tenants.scope import tenant_transaction
from tests.factories import create_tenant, create_user, global_id, node_uuid, tenant_id, user_token
from tests.support.graphql import GraphQLClient
from tests.support.jobs import wait_for_job

PURGE = "mutation { purgeExpiredSessions { __typename ... on JobStartPayload { job { id status kind } } } }"
JOB = "query($id: ID!) { node(id: $id) { ... on Job { status counts processed total progress errorReport } } }"


async def _tokens(tenant: Tenant, user: User, *, dead: int, alive: int) -> None:
    now = datetime.now(UTC)
    async with tenant_transaction(tenant_id(tenant)):
        for index in range(dead + alive):
            await RefreshToken.create(
                tenant_id=tenant.id,
                user_id=user.id,
                family_id=uuid4(),
                token_hash=hashlib.sha256(secrets.token_bytes(16)).hexdigest(),
                expires_at=now - timedelta(days=30) if index < dead else now + timedelta(days=30),
            )


async def test_purging_sessions_removes_only_this_tenants_dead_tokens(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    a, b = await create_tenant(), await create_tenant()
    admin_a, user_b = await create_user(a, roles=("admin",)), await create_user(b)
    await _tokens(a, admin_a, dead=7, alive=2)
    await _tokens(b, user_b, dead=4, alive=0)
    token = user_token(runtime.tokens, admin_a)

    started = (await gql(PURGE, token=token)).ok()["purgeExpiredSessions"]
    assert started["__typename"] == "JobStartPayload"
    assert (started["job"]["status"], started["job"]["kind"]) == (
        "QUEUED",
        "identity.purge_sessions",
    )
    job_id = node_uuid(started["job"]["id"])
    await wait_for_job(tenant_id(a), job_id)

    job = (await gql(JOB, {"id": started["job"]["id"]}, token=token)).ok()["node"]
    assert job == {
        "status": "SUCCEEDED",
        "counts": {"deleted": 7},
        "processed": 7,
        "total": 7,
        "progress": 1.0,
        "errorReport": None,
    }
    async with tenant_transaction(tenant_id(a)):
        assert await RefreshToken.all().count() == 2
    async with tenant_transaction(tenant_id(b)):
        assert await RefreshToken.all().count() == 4
    assert global_id("Job", job_id) == started["job"]["id"]


async def test_the_jobs_list_filters_by_status_and_costs_constant_statements(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant = await create_tenant()
    admin = await create_user(tenant, roles=("admin",))
    token = user_token(runtime.tokens, admin)
    ids = [
        (await gql(PURGE, token=token)).ok()["purgeExpiredSessions"]["job"]["id"] for _ in range(3)
    ]
    for gid in ids:
        await wait_for_job(tenant_id(tenant), node_uuid(gid))
    listing = "query($s: JobStatus) { jobs(status: $s) { edges { node { id status } } } }"
    done = await gql(listing, {"s": "SUCCEEDED"}, token=token)
    assert {e["node"]["id"] for e in done.ok()["jobs"]["edges"]} == set(ids)
    assert done.statements == 3
    assert (await gql(listing, {"s": "FAILED"}, token=token)).ok()["jobs"]["edges"] == []

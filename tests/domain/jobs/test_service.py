"""Jobs are sent after their transaction commits, never after a rollback."""

from __future__ import annotations

import pytest

from domain.jobs.models import Job, JobStatus
from domain.jobs.service import job_service
from tenants.scope import tenant_savepoint, tenant_transaction
from tests.factories import create_tenant, tenant_id
from tests.support.jobs import wait_for_job, watching_dispatches


async def test_a_job_is_sent_after_commit_and_then_runs() -> None:
    tenant = tenant_id(await create_tenant())
    async with watching_dispatches() as sent:
        async with tenant_transaction(tenant):
            job = await job_service.create(tenant, kind="identity.purge_sessions")
            assert sent == []  # nothing leaves before the commit
        assert [m.job_id for m in sent] == [job.id]
    done = await wait_for_job(tenant, job.id)
    assert done.status == JobStatus.SUCCEEDED
    assert done.attempts == 1
    assert done.started_at is not None
    assert done.finished_at is not None


async def test_a_rolled_back_job_is_neither_sent_nor_stored() -> None:
    tenant = tenant_id(await create_tenant())

    async def create_then_fail() -> None:
        async with tenant_transaction(tenant):
            await job_service.create(tenant, kind="identity.purge_sessions")
            raise RuntimeError("the operation failed after creating its job")

    async with watching_dispatches() as sent:
        with pytest.raises(RuntimeError):
            await create_then_fail()
    assert sent == []
    async with tenant_transaction(tenant):
        assert await Job.all().count() == 0


async def test_a_job_created_in_a_failed_savepoint_is_not_sent() -> None:
    tenant = tenant_id(await create_tenant())

    async def in_savepoint() -> None:
        async with tenant_savepoint():
            await job_service.create(tenant, kind="identity.purge_sessions")
            raise ValueError("this part of the operation failed")

    async with watching_dispatches() as sent, tenant_transaction(tenant):
        with pytest.raises(ValueError, match="failed"):
            await in_savepoint()
        kept = await job_service.create(tenant, kind="identity.purge_sessions")
    assert [m.job_id for m in sent] == [kept.id]
    async with tenant_transaction(tenant):
        assert await Job.all().count() == 1


async def test_jobs_are_listed_per_tenant() -> None:
    a, b = tenant_id(await create_tenant()), tenant_id(await create_tenant())
    async with tenant_transaction(a):
        mine = await job_service.create(a, kind="identity.purge_sessions")
    async with tenant_transaction(b):
        await job_service.create(b, kind="identity.purge_sessions")
    async with tenant_transaction(a):
        page = await job_service.page(a, first=10, after=None, status=None, kind=None)
    assert [j.id for j in page.items] == [mine.id]

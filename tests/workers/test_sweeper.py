"""The sweeper sends stuck jobs again, once, for every tenant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.jobs.models import Job, JobStatus
from tenants.scope import tenant_transaction
from tests.factories import create_job, create_tenant, tenant_id
from tests.support.jobs import wait_for_job, watching_dispatches
from workers.sweeper import sweep_once


async def test_stuck_queued_jobs_of_every_tenant_are_sent_again_and_run() -> None:
    a, b = await create_tenant(), await create_tenant()
    # jobs whose messages were lost ten minutes ago, and one that was just queued
    lost_a = await create_job(a, enqueued_minutes_ago=10)
    lost_b = await create_job(b, enqueued_minutes_ago=10)
    fresh = await create_job(a, enqueued_minutes_ago=0)

    async with watching_dispatches() as sent:
        await sweep_once(stuck_after_s=60)
        # a second sweeper right after finds nothing left to do
        await sweep_once(stuck_after_s=60)
    assert {m.job_id for m in sent} >= {lost_a.id, lost_b.id}
    assert fresh.id not in {m.job_id for m in sent}
    assert len([m for m in sent if m.job_id in {lost_a.id, lost_b.id}]) == 2

    assert (await wait_for_job(tenant_id(a), lost_a.id)).status == JobStatus.SUCCEEDED
    assert (await wait_for_job(tenant_id(b), lost_b.id)).status == JobStatus.SUCCEEDED


async def test_running_jobs_whose_worker_died_are_sent_again() -> None:
    tenant = await create_tenant()
    job = await create_job(tenant)
    async with tenant_transaction(tenant_id(tenant)):
        stale = datetime.now(UTC) - timedelta(minutes=5)
        await Job.filter(id=job.id).update(status=JobStatus.RUNNING, heartbeat_at=stale, attempts=1)

    async with watching_dispatches() as sent:
        await sweep_once(stuck_after_s=60)
    assert job.id in {m.job_id for m in sent}
    done = await wait_for_job(tenant_id(tenant), job.id)
    assert (done.status, done.attempts) == (JobStatus.SUCCEEDED, 2)

"""Running jobs: claiming is exclusive, outcomes are recorded, handlers' errors become reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.jobs.models import Job, JobStatus
from domain.jobs.service import JobMessage, job_service
from tenants.errors import ErrorCode, ServiceError
from tenants.scope import tenant_transaction
from tests.factories import create_job, create_tenant, tenant_id
from workers.jobs import JobContext, JobKind, run_job


def _message(job: Job) -> JobMessage:
    return JobMessage(job_id=job.id, tenant_id=job.tenant_id, kind=job.kind)


async def _reload(job: Job) -> Job:
    async with tenant_transaction(job.tenant_id):
        return await job_service.get(job.tenant_id, job.id)


async def test_a_handler_runs_once_and_its_counts_are_kept() -> None:
    job = await create_job(await create_tenant(), kind="test.count")
    runs: list[str] = []

    async def handler(context: JobContext) -> None:
        runs.append(context.kind)
        context.counts["seen"] = 3
        await context.progress(processed=3, total=3)

    kind = JobKind(name="test.count", handler=handler)
    await run_job(kind, _message(job))
    await run_job(kind, _message(job))  # a second delivery of the same message
    done = await _reload(job)
    assert runs == ["test.count"]
    assert (done.status, done.counts, done.processed, done.total) == (
        JobStatus.SUCCEEDED,
        {"seen": 3},
        3,
        3,
    )


async def test_an_expected_failure_becomes_the_jobs_report() -> None:
    job = await create_job(await create_tenant(), kind="test.refuse")

    async def handler(context: JobContext) -> None:
        raise ServiceError(ErrorCode.INVALID, "the file is empty", "文件为空", field="file")

    await run_job(JobKind(name="test.refuse", handler=handler), _message(job))
    done = await _reload(job)
    assert done.status == JobStatus.FAILED
    assert done.error_report == {
        "code": "INVALID",
        "field": "file",
        "message": "the file is empty",
        "messageZh": "文件为空",
    }


async def test_a_crash_is_reported_without_its_details() -> None:
    job = await create_job(await create_tenant(), kind="test.crash")

    async def handler(context: JobContext) -> None:
        raise RuntimeError("password=hunter2 in a connection string")

    await run_job(JobKind(name="test.crash", handler=handler), _message(job))
    done = await _reload(job)
    assert done.status == JobStatus.FAILED
    assert done.error_report is not None
    assert done.error_report["code"] == "INTERNAL"
    assert "hunter2" not in str(done.error_report)


async def test_a_job_running_elsewhere_is_left_alone_until_its_heartbeat_stops() -> None:
    tenant = await create_tenant()
    job = await create_job(tenant, kind="test.busy")
    async with tenant_transaction(tenant_id(tenant)):
        assert await job_service.claim(tenant_id(tenant), job.id)  # another worker has it
    runs: list[int] = []

    async def handler(context: JobContext) -> None:
        runs.append(1)

    kind = JobKind(name="test.busy", handler=handler)
    await run_job(kind, _message(job))
    assert runs == []

    # that worker dies: its heartbeat goes stale, and the next delivery takes over
    async with tenant_transaction(tenant_id(tenant)):
        await Job.filter(id=job.id).update(heartbeat_at=datetime.now(UTC) - timedelta(minutes=5))
    await run_job(kind, _message(job))
    done = await _reload(job)
    assert runs == [1]
    assert (done.status, done.attempts) == (JobStatus.SUCCEEDED, 2)

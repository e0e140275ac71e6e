"""Jobs: created inside an operation's transaction, dispatched only after it commits.

The domain does not know the broker. The worker layer registers a dispatcher at start-up;
creating a job schedules that dispatcher as an after-commit callback of the open tenant
transaction, so a rolled-back operation never leaves a message behind, and a message never
arrives before its job row is visible.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from domain.jobs import repository as repo
from domain.jobs.models import Job, JobStatus
from tenants.errors import not_found
from tenants.pagination import Page
from tenants.scope import TenantID, require_tenant

# How often a running job reports it is alive, and when silence means its worker died.
HEARTBEAT_INTERVAL_S = 10.0
RUNNING_STALE_AFTER_S = 3 * HEARTBEAT_INTERVAL_S


@dataclass(frozen=True)
class JobMessage:
    job_id: UUID
    tenant_id: TenantID
    kind: str
    delay_ms: int = 0  # the broker holds the message this long before a worker sees it


Dispatcher = Callable[[JobMessage], Awaitable[None]]


class NoDispatcherError(RuntimeError):
    """A job was created in a process that cannot send it anywhere."""


class JobService:
    def __init__(self) -> None:
        self._dispatcher: Dispatcher | None = None

    def set_dispatcher(self, dispatcher: Dispatcher | None) -> None:
        self._dispatcher = dispatcher

    def can_dispatch(self) -> bool:
        """Whether this process can send jobs (a CLI run without a worker layer cannot)."""
        return self._dispatcher is not None

    def _require_dispatcher(self) -> Dispatcher:
        if self._dispatcher is None:
            raise NoDispatcherError("no job dispatcher: configure the worker layer first")
        return self._dispatcher

    async def create(
        self,
        tenant: TenantID,
        *,
        kind: str,
        payload: dict[str, Any] | None = None,
        created_by: UUID | None = None,
        delay_s: float = 0.0,
    ) -> Job:
        """Create a queued job; its message is sent when the current transaction commits, to
        be delivered ``delay_s`` seconds later."""
        dispatch = self._require_dispatcher()
        tx = require_tenant(tenant)
        job = await repo.insert_job(
            tenant, kind=kind, payload=payload or {}, created_by=created_by, at=datetime.now(UTC)
        )
        message = JobMessage(
            job_id=job.id, tenant_id=tenant, kind=kind, delay_ms=round(delay_s * 1000)
        )
        tx.on_commit(lambda: dispatch(message))
        return job

    async def get(self, tenant: TenantID, job_id: UUID) -> Job:
        job = await repo.get_job(tenant, job_id)
        if job is None:
            raise not_found("job", "任务")
        return job

    async def page(
        self,
        tenant: TenantID,
        *,
        first: int,
        after: str | None,
        status: JobStatus | None,
        kind: str | None,
    ) -> Page[Job]:
        return await repo.list_jobs(tenant, first=first, after=after, status=status, kind=kind)

    # --- the worker's side ---------------------------------------------------------------

    async def claim(self, tenant: TenantID, job_id: UUID) -> bool:
        now = datetime.now(UTC)
        return await repo.claim_job(
            tenant, job_id, now=now, running_before=now - timedelta(seconds=RUNNING_STALE_AFTER_S)
        )

    async def progress(
        self,
        tenant: TenantID,
        job_id: UUID,
        *,
        processed: int | None = None,
        total: int | None = None,
        counts: dict[str, int] | None = None,
    ) -> None:
        await repo.record_progress(
            tenant, job_id, now=datetime.now(UTC), processed=processed, total=total, counts=counts
        )

    async def succeed(self, tenant: TenantID, job_id: UUID, counts: dict[str, int]) -> None:
        await repo.finish_job(
            tenant, job_id, status=JobStatus.SUCCEEDED, now=datetime.now(UTC), counts=counts
        )

    async def fail(self, tenant: TenantID, job_id: UUID, error_report: dict[str, Any]) -> None:
        await repo.finish_job(
            tenant,
            job_id,
            status=JobStatus.FAILED,
            now=datetime.now(UTC),
            error_report=error_report,
        )

    # --- the sweeper's side --------------------------------------------------------------

    async def stale_jobs(self, *, stuck_after_s: float, limit: int = 500) -> list[repo.StaleJob]:
        now = datetime.now(UTC)
        return await repo.platform_stale_jobs(
            queued_before=now - timedelta(seconds=stuck_after_s),
            running_before=now - timedelta(seconds=RUNNING_STALE_AFTER_S),
            limit=limit,
        )

    async def requeue(
        self, tenant: TenantID, job_id: UUID, kind: str, *, stuck_after_s: float
    ) -> bool:
        """Queue a stuck job again and send its message after commit."""
        dispatch = self._require_dispatcher()
        tx = require_tenant(tenant)
        now = datetime.now(UTC)
        requeued = await repo.requeue_if_stale(
            tenant,
            job_id,
            now=now,
            queued_before=now - timedelta(seconds=stuck_after_s),
            running_before=now - timedelta(seconds=RUNNING_STALE_AFTER_S),
        )
        if requeued:
            message = JobMessage(job_id=job_id, tenant_id=tenant, kind=kind)
            tx.on_commit(lambda: dispatch(message))
        return requeued


job_service = JobService()

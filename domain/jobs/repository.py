"""Every query of the jobs area."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from domain.jobs.models import Job, JobStatus
from tenants.pagination import Page, paginate
from tenants.scope import TenantID, require_tenant


@dataclass(frozen=True)
class StaleJob:
    job_id: UUID
    tenant_id: TenantID
    kind: str


async def insert_job(
    tenant: TenantID, *, kind: str, payload: dict[str, Any], created_by: UUID | None, at: datetime
) -> Job:
    require_tenant(tenant)
    return await Job.create(
        tenant_id=tenant, kind=kind, payload=payload, created_by=created_by, enqueued_at=at
    )


async def get_job(tenant: TenantID, job_id: UUID) -> Job | None:
    require_tenant(tenant)
    return await Job.get_or_none(id=job_id)


async def queued_job_with_payload(
    tenant: TenantID, kind: str, payload: dict[str, Any]
) -> UUID | None:
    """A queued (not yet started) job of ``kind`` whose payload contains ``payload``."""
    tx = require_tenant(tenant)
    found: UUID | None = await tx.fetchval(
        "SELECT id FROM jobs WHERE tenant_id = $1 AND kind = $2 AND status = 'queued' "
        "AND payload @> $3::jsonb ORDER BY created_at LIMIT 1",
        tenant,
        kind,
        orjson.dumps(payload).decode(),
    )
    return found


async def get_jobs(tenant: TenantID, ids: Sequence[UUID]) -> list[Job]:
    require_tenant(tenant)
    return await Job.filter(id__in=list(ids))


async def list_jobs(
    tenant: TenantID,
    *,
    first: int,
    after: str | None,
    status: JobStatus | None = None,
    kind: str | None = None,
) -> Page[Job]:
    require_tenant(tenant)
    query = Job.all()
    if status is not None:
        query = query.filter(status=status)
    if kind is not None:
        query = query.filter(kind=kind)
    return await paginate(query, order_by=("created_at", "id"), first=first, after=after)


async def claim_job(
    tenant: TenantID, job_id: UUID, *, now: datetime, running_before: datetime
) -> bool:
    """Move a queued job (or a running one whose worker went silent) to running."""
    require_tenant(tenant)
    updated = await Job.filter(
        Q(status=JobStatus.QUEUED) | Q(status=JobStatus.RUNNING, heartbeat_at__lt=running_before),
        id=job_id,
    ).update(
        status=JobStatus.RUNNING,
        attempts=F("attempts") + 1,
        started_at=now,
        heartbeat_at=now,
    )
    return updated == 1


async def record_progress(
    tenant: TenantID,
    job_id: UUID,
    *,
    now: datetime,
    processed: int | None = None,
    total: int | None = None,
    counts: dict[str, int] | None = None,
) -> None:
    require_tenant(tenant)
    values: dict[str, Any] = {"heartbeat_at": now}
    if processed is not None:
        values["processed"] = processed
    if total is not None:
        values["total"] = total
    if counts is not None:
        values["counts"] = counts
    await Job.filter(id=job_id, status=JobStatus.RUNNING).update(**values)


async def finish_job(
    tenant: TenantID,
    job_id: UUID,
    *,
    status: JobStatus,
    now: datetime,
    counts: dict[str, int] | None = None,
    error_report: dict[str, Any] | None = None,
) -> None:
    require_tenant(tenant)
    values: dict[str, Any] = {"status": status, "finished_at": now, "heartbeat_at": now}
    if counts is not None:
        values["counts"] = counts
    if error_report is not None:
        values["error_report"] = error_report
    await Job.filter(id=job_id, status=JobStatus.RUNNING).update(**values)


async def requeue_if_stale(
    tenant: TenantID,
    job_id: UUID,
    *,
    now: datetime,
    queued_before: datetime,
    running_before: datetime,
) -> bool:
    """Mark a stuck job queued again; false when someone else got to it first."""
    require_tenant(tenant)
    updated = await Job.filter(
        Q(status=JobStatus.QUEUED, enqueued_at__lt=queued_before)
        | Q(status=JobStatus.RUNNING, heartbeat_at__lt=running_before),
        id=job_id,
    ).update(status=JobStatus.QUEUED, enqueued_at=now)
    return updated == 1


async def platform_stale_jobs(
    *, queued_before: datetime, running_before: datetime, limit: int
) -> list[StaleJob]:
    """Jobs of any tenant that look stuck: ids only, through the one cross-tenant function."""
    async with in_transaction() as client, client.acquire_connection() as conn:
        rows = await conn.fetch(
            "SELECT job_id, tenant_id, kind FROM platform_stale_jobs($1, $2, $3)",
            queued_before,
            running_before,
            limit,
        )
    return [StaleJob(r["job_id"], TenantID(r["tenant_id"]), r["kind"]) for r in rows]

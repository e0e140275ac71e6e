"""Running one job: claim it, run its handler with a heartbeat, record the outcome.

A broker may deliver a message more than once; claiming is a conditional update, so a job
that is running elsewhere (fresh heartbeat) or already finished is skipped, and a job whose
worker died (silent heartbeat) is taken over. Handlers must be idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import structlog
from prometheus_client import Counter, Histogram

from domain.jobs.service import HEARTBEAT_INTERVAL_S, JobMessage, job_service
from tenants.errors import ServiceError
from tenants.scope import TenantID, TenantTransaction, tenant_transaction

_log = structlog.get_logger(__name__)

JOB_RUNS = Counter("renshi_jobs_total", "Job runs by kind and outcome", ["kind", "outcome"])
JOB_SECONDS = Histogram(
    "renshi_job_duration_seconds",
    "Job run time by kind",
    ["kind"],
    buckets=(0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800),
)


@dataclass
class JobContext:
    """What a handler gets: its job, a way to report progress, and its tenant's scope."""

    job_id: UUID
    tenant_id: TenantID
    kind: str
    payload: dict[str, Any]
    counts: dict[str, int] = field(default_factory=dict)

    async def progress(self, *, processed: int | None = None, total: int | None = None) -> None:
        """Record progress (and the counts so far) in a short transaction of its own."""
        async with tenant_transaction(self.tenant_id):
            await job_service.progress(
                self.tenant_id,
                self.job_id,
                processed=processed,
                total=total,
                counts=dict(self.counts),
            )

    @contextlib.asynccontextmanager
    async def transaction(
        self, *, statement_timeout_ms: int = 5000
    ) -> AsyncIterator[TenantTransaction]:
        async with tenant_transaction(
            self.tenant_id, statement_timeout_ms=statement_timeout_ms
        ) as tx:
            yield tx


JobHandler = Callable[[JobContext], Awaitable[None]]


@dataclass(frozen=True)
class JobKind:
    """A kind of job: its name (``<area>.<verb>``), its handler and how the broker runs it."""

    name: str
    handler: JobHandler
    queue: str = "default"
    time_limit_ms: int = 30 * 60 * 1000
    max_retries: int = 5


async def _heartbeat(tenant: TenantID, job_id: UUID) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_INTERVAL_S)
        async with tenant_transaction(tenant):
            await job_service.progress(tenant, job_id)


async def run_job(kind: JobKind, message: JobMessage) -> None:
    """Run ``message``'s job once, if it is still to be run."""
    log = _log.bind(job_id=str(message.job_id), tenant_id=str(message.tenant_id), kind=kind.name)
    async with tenant_transaction(message.tenant_id):
        claimed = await job_service.claim(message.tenant_id, message.job_id)
        job = await job_service.get(message.tenant_id, message.job_id) if claimed else None
    if job is None:
        log.info("job_skipped", reason="already running or finished")
        JOB_RUNS.labels(kind.name, "skipped").inc()
        return
    context = JobContext(
        job_id=job.id, tenant_id=message.tenant_id, kind=kind.name, payload=job.payload
    )
    started = time.perf_counter()
    # Created outside any transaction, so it never holds on to a finished connection.
    heartbeat = asyncio.create_task(_heartbeat(message.tenant_id, job.id))
    log.info("job_started", attempt=job.attempts)
    report: dict[str, Any] | None
    try:
        await kind.handler(context)
    except ServiceError as exc:
        outcome = "failed"
        report = {
            "code": exc.code.value,
            "field": exc.field,
            "message": exc.message,
            "messageZh": exc.message_zh,
        }
        log.warning("job_failed", code=exc.code.value, message=exc.message)
    except Exception:
        outcome = "failed"
        report = {
            "code": "INTERNAL",
            "field": None,
            "message": f"unexpected error; the worker log has the details (job {job.id})",
            "messageZh": f"意外错误；详情见后台日志（任务 {job.id}）",
        }
        log.exception("job_crashed")
    else:
        outcome = "succeeded"
        report = None
    finally:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
    async with tenant_transaction(message.tenant_id):
        if report is None:
            await job_service.succeed(message.tenant_id, job.id, context.counts)
        else:
            await job_service.fail(message.tenant_id, job.id, report)
    elapsed = time.perf_counter() - started
    JOB_RUNS.labels(kind.name, outcome).inc()
    JOB_SECONDS.labels(kind.name).observe(elapsed)
    log.info("job_finished", outcome=outcome, seconds=round(elapsed, 3), counts=context.counts)

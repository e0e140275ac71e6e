"""Waiting for jobs, and watching what the job service dispatches."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

import dramatiq

from domain.jobs.models import Job, JobStatus
from domain.jobs.service import JobMessage, job_service
from tenants.scope import TenantID, tenant_transaction
from tenants.settings import Settings
from workers.broker import InProcessWorker, JobRuntime, start_job_runtime

FINISHED = {JobStatus.SUCCEEDED, JobStatus.FAILED}


async def wait_for_job(tenant: TenantID, job_id: UUID, *, timeout_s: float = 30.0) -> Job:
    """Poll until the job finished; fail with its last state after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        async with tenant_transaction(tenant):
            job = await job_service.get(tenant, job_id)
        if job.status in FINISHED:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job.status} after {timeout_s} s")
        await asyncio.sleep(0.05)


@asynccontextmanager
async def watching_dispatches() -> AsyncIterator[list[JobMessage]]:
    """Record every message the job service dispatches, still sending it on."""
    original = job_service._require_dispatcher()
    sent: list[JobMessage] = []

    async def spy(message: JobMessage) -> None:
        sent.append(message)
        await original(message)

    job_service.set_dispatcher(spy)
    try:
        yield sent
    finally:
        job_service.set_dispatcher(original)


@asynccontextmanager
async def job_runtime(settings: Settings, *, consume: bool) -> AsyncIterator[JobRuntime]:
    """Another broker for the length of a test (optionally consumed here), then the old one back."""
    previous = job_service._require_dispatcher()
    previous_broker = dramatiq.get_broker()
    runtime = start_job_runtime(settings, host_loop=asyncio.get_running_loop() if consume else None)
    worker = InProcessWorker(runtime, threads=2) if consume else None
    if worker is not None:
        worker.start()
    try:
        yield runtime
    finally:
        if worker is not None:
            await asyncio.to_thread(worker.stop)
        job_service.set_dispatcher(previous)
        dramatiq.set_broker(previous_broker)

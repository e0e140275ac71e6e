"""``renshi worker``: a separate process that consumes the broker and runs jobs."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.jobs.models import JobStatus
from domain.jobs.service import job_service
from tenants.scope import tenant_transaction
from tenants.settings import Settings
from tests.factories import create_tenant, tenant_id
from tests.support.jobs import job_runtime, wait_for_job

ROOT = Path(__file__).resolve().parents[3]


def _other_redis_db(url: str) -> str:
    # A database of its own, so the test process's in-process worker cannot take the job.
    base = url.rsplit("/", 1)[0] if url.count("/") > 2 else url
    return f"{base}/14"


@pytest.fixture
def worker_settings(settings: Settings) -> Settings:
    assert settings.broker_url is not None
    return settings.model_copy(update={"broker_url": _other_redis_db(settings.broker_url)})


@pytest.fixture
def worker_process(worker_settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "DATABASE_URL": worker_settings.database_url or "",
        "BROKER_URL": worker_settings.broker_url or "",
        "RENSHI_HOME": str(worker_settings.home),
        "RENSHI_LOG_FORMAT": "json",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "worker", "--processes", "1", "--threads", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    yield process
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


async def test_a_worker_process_runs_a_job_sent_through_redis(
    worker_settings: Settings, worker_process: subprocess.Popen[bytes]
) -> None:
    tenant = tenant_id(await create_tenant())
    async with job_runtime(worker_settings, consume=False), tenant_transaction(tenant):
        job = await job_service.create(tenant, kind="identity.purge_sessions")
    done = await wait_for_job(tenant, job.id, timeout_s=60)
    assert done.status == JobStatus.SUCCEEDED
    assert worker_process.poll() is None


async def test_the_worker_command_refuses_to_run_without_a_broker(settings: Settings) -> None:
    env = {k: v for k, v in os.environ.items() if k != "BROKER_URL"}
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "api.cli", "worker"],
        cwd=ROOT,
        env={**env, "DATABASE_URL": settings.database_url or "", "RENSHI_HOME": str(settings.home)},
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert b"BROKER_URL is not set" in result.stderr

"""``renshi worker``: a separate process that consumes the broker and runs jobs."""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from domain.jobs.models import JobStatus
from domain.jobs.service import job_service
from tenants.lifecycle.deletion import delete_tenant
from tenants.scope import tenant_transaction
from tenants.settings import Settings
from tests.factories import create_tenant, tenant_id
from tests.support.jobs import job_runtime, wait_for_job

ROOT = Path(__file__).resolve().parents[3]
LOG_WAIT_S = 60.0


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


class LogReader:
    """The worker's JSON log events, read as they come without blocking past a deadline."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        self._fd = process.stdout.fileno()
        self._pending = b""

    def wait_for(self, event: str, **fields: str) -> dict[str, Any]:
        deadline = time.monotonic() + LOG_WAIT_S
        while (left := deadline - time.monotonic()) > 0:
            while b"\n" in self._pending:
                line, self._pending = self._pending.split(b"\n", 1)
                try:
                    found = json.loads(line)
                except ValueError:
                    continue
                if found.get("event") == event and all(
                    found.get(k) == v for k, v in fields.items()
                ):
                    return dict(found)
            if select.select([self._fd], [], [], left)[0]:
                chunk = os.read(self._fd, 65536)
                if not chunk:
                    break
                self._pending += chunk
        raise AssertionError(f"no {event} {fields} in the worker's log within {LOG_WAIT_S} s")


async def test_a_worker_process_forgets_an_erased_tenant_s_keys_at_once(
    settings: Settings, worker_process: subprocess.Popen[bytes]
) -> None:
    log = LogReader(worker_process)
    await asyncio.to_thread(log.wait_for, "erasure_notices_listening")
    tenant = tenant_id(await create_tenant())
    assert settings.database_admin_url is not None

    await delete_tenant(settings.database_admin_url, tenant)

    await asyncio.to_thread(log.wait_for, "tenant_forgotten", tenant_id=str(tenant))
    assert worker_process.poll() is None

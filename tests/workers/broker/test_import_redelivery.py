"""A worker killed with SIGKILL in the middle of an import: the import still happens once.

The import pipeline's promise (``workers/imports/pipeline.py``): every row is written in one
tenant transaction whose last statement marks the import succeeded, so a worker that dies
mid-run leaves nothing behind; Redis hands the unacknowledged message to another worker,
the job claim (and the sweeper, once the dead worker's heartbeat is stale) lets that worker
take the job over, and the run starts again from the first row. This test checks the
promise end to end with real processes: a real ``renshi worker`` is killed (the whole
process group, as the OOM killer or a lost machine would), a second one finishes the job,
and the table holds exactly the file's rows: none lost, none twice, no other tenant touched.

Collected only when BROKER_URL names Redis (see this folder's conftest).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import redis.asyncio as aioredis

from domain.imports import repository as import_repo
from domain.imports.models import ACTIVE_STATUSES, Import, ImportFormat, ImportMode, ImportStatus
from domain.imports.reports import import_keys
from domain.imports.service import import_service
from domain.indicators.service import FactInput, fact_service
from domain.jobs import repository as job_repo
from domain.jobs.models import Job, JobStatus
from tenants.crypto.imports import encrypt_bytes, load_bundle
from tenants.models import Tenant
from tenants.scope import TenantID, tenant_transaction
from tenants.settings import Settings
from tests.factories import create_tenant, tenant_id
from tests.factories_records import create_employee
from tests.support.jobs import job_runtime
from tests.support.worker_processes import WorkerProcess, Workers, redis_db, wait_for

# Big enough that a worker spends several seconds on it (the kill lands mid-run), small
# enough that the whole test, takeover wait included, stays well under two minutes.
ROWS = 300_000
EMPLOYEES = 40
SOURCE = "redelivery-test"
# A Redis database of its own: neither the test process's in-process worker nor the other
# broker tests' workers consume it.
REDIS_DB = 12
# The sweeper of the worker processes runs every 2 s; the dead worker's job is requeued once
# its heartbeat (every 10 s) is older than 30 s (domain/jobs/service.py).
WORKER_ENV = {"RENSHI_SWEEP_S": "2", "RENSHI_STUCK_AFTER_S": "5"}
# The import's queue only: the single worker thread is there for the import, whatever other
# tests left in the shared database for the sweeper to send.
IMPORT_QUEUE = ("imports",)
MAPPING = {
    "columns": {
        "employee": "employee",
        "kind": "kind",
        "occurred_at": "occurred_at",
        "value": "value",
        "denominator": "denominator",
        "external_key": "external_key",
    },
    "source_system": SOURCE,
}
FIRST_DAY = date(2025, 1, 1)
BEFORE_LOADING = frozenset({ImportStatus.QUEUED, ImportStatus.RUNNING, ImportStatus.VALIDATING})
FACT_COUNTS = """
    SELECT count(*) AS n,
           count(DISTINCT external_key) AS keys,
           count(*) FILTER (WHERE superseded_at IS NULL) AS current
    FROM facts WHERE tenant_id = $1 AND source = $2
"""


def _key(i: int) -> str:
    return f"K{i:07d}"


def _facts_csv(rows: int) -> bytes:
    """``rows`` valid ``defect`` facts, each with its own key, spread over the employees."""
    lines = ["employee,kind,occurred_at,value,denominator,external_key"]
    lines.extend(
        f"R{i % EMPLOYEES:03d},defect,{FIRST_DAY + timedelta(days=i % 300)},{i % 2},1,{_key(i)}"
        for i in range(rows)
    )
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
async def workers(settings: Settings, tmp_path: Path) -> AsyncIterator[Workers]:
    assert settings.broker_url is not None
    worker_settings = settings.model_copy(
        update={"broker_url": redis_db(settings.broker_url, REDIS_DB)}
    )
    await _flush(worker_settings)  # an earlier run's messages name jobs of a dropped database
    group = Workers(worker_settings, tmp_path, WORKER_ENV)
    try:
        yield group
    finally:
        await group.stop()
        await _flush(worker_settings)


async def _flush(settings: Settings) -> None:
    client = aioredis.from_url(settings.broker_url or "")
    try:
        await client.flushdb()
    finally:
        await client.aclose()


async def _prepared_import(tenant: Tenant, plaintext: bytes, worker_settings: Settings) -> Import:
    """An import created, uploaded encrypted and started (COMMIT) through the domain
    service, its job sent to the worker processes' Redis database only."""
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        bundle = await import_keys().create_key(tid, tenant_slug=tenant.slug)
    keys = load_bundle(json.dumps(bundle).encode())
    ciphertext = await asyncio.to_thread(
        encrypt_bytes, keys.handle, keys.associated_data, plaintext
    )
    async with tenant_transaction(tid):
        created = await import_service.create(
            tid, kind="facts", format=ImportFormat.CSV, file_name="facts.csv", mapping=MAPPING
        )

    async def body() -> AsyncIterator[bytes]:
        yield ciphertext

    await import_service.receive(tid, created.id, body(), limit=worker_settings.import_max_bytes)
    async with job_runtime(worker_settings, consume=False), tenant_transaction(tid):
        started = await import_service.start(tid, created.id, mode=ImportMode.COMMIT)
    assert started.status == ImportStatus.QUEUED
    assert started.job_id is not None
    return started


async def _import(tenant: TenantID, import_id: UUID) -> Import:
    async with tenant_transaction(tenant):
        row = await import_repo.get_import(tenant, import_id)
    assert row is not None
    return row


async def _job(tenant: TenantID, job_id: UUID) -> Job:
    async with tenant_transaction(tenant):
        job = await job_repo.get_job(tenant, job_id)
    assert job is not None
    return job


async def _fact_counts(tenant: TenantID) -> tuple[int, int, int]:
    """(facts, distinct keys, current facts) of the import's source in ``tenant``."""
    async with tenant_transaction(tenant) as tx:
        row = await tx.fetchrow(FACT_COUNTS, tenant, SOURCE)
    return int(row["n"]), int(row["keys"]), int(row["current"])


async def _facts_of(tenant: TenantID) -> list[tuple[Any, ...]]:
    async with tenant_transaction(tenant) as tx:
        rows = await tx.fetch(
            "SELECT id, source, external_key, value, occurred_at, superseded_at FROM facts "
            "WHERE tenant_id = $1 ORDER BY id",
            tenant,
        )
    return [tuple(r) for r in rows]


def _import_state(row: Import) -> str:
    return (
        f"the import is {row.status.value} (run {row.run}, rows_read {row.rows_read}, "
        f"error {row.error_code} {row.error_message})"
    )


def _events(worker: WorkerProcess, event: str, **match: str) -> list[dict[str, Any]]:
    return [
        e
        for e in worker.events()
        if e.get("event") == event and all(e.get(k) == v for k, v in match.items())
    ]


async def test_a_worker_killed_mid_import_leaves_nothing_and_the_next_one_imports_once(
    workers: Workers,
) -> None:
    """SIGKILL the worker process group while the import is validating rows; a second worker
    takes the job over and imports every row exactly once.

    Checked on the way: at the kill nothing of the import is in the facts table (nothing is
    committed before the end); afterwards the import succeeded with the counts of a clean run
    (the second run started over, it did not add to the first run's counts), the table has
    exactly one current fact per row of the file, the job ran twice (``attempts``), the
    second worker ran the import once, and another tenant's facts with the same source and
    keys are untouched.
    """
    began = time.monotonic()
    tenant = await create_tenant()
    tid = tenant_id(tenant)
    for number in range(EMPLOYEES):
        await create_employee(tenant, employee_number=f"R{number:03d}")

    # A bystander whose facts share the import's source and keys: unique per tenant only.
    bystander = await create_tenant()
    bid = tenant_id(bystander)
    person = await create_employee(bystander, employee_number="R000")
    async with tenant_transaction(bid):
        results = await fact_service.record_many(
            bid,
            [
                FactInput(
                    kind="defect",
                    employee_id=person.id,
                    occurred_at=datetime(2025, 6, 1, 9, tzinfo=UTC),
                    value=1.0,
                    denominator=1.0,
                    source=SOURCE,
                    external_key=_key(i),
                )
                for i in range(5)
            ],
        )
    assert all(r.error is None for r in results), [r.error for r in results]
    bystander_before = await _facts_of(bid)
    assert len(bystander_before) == 5

    plaintext = await asyncio.to_thread(_facts_csv, ROWS)
    started = await _prepared_import(tenant, plaintext, workers.settings)
    import_id, job_id = started.id, started.job_id
    assert job_id is not None
    prepared = time.monotonic()

    # Worker A: killed a third of the way through, its open transaction holding the rows
    # staged so far.
    first = workers.start("a", queues=IMPORT_QUEUE)
    midway = await wait_for(
        "worker A a third of the way through",
        lambda: _import(tid, import_id),
        lambda row: row.rows_read >= ROWS // 3 or row.status not in BEFORE_LOADING,
        timeout_s=60,
        workers=workers,
        describe=_import_state,
    )
    assert midway.status == ImportStatus.VALIDATING, (midway.status, workers.logs())
    await first.kill()
    killed = time.monotonic()
    assert not first.running()

    at_kill = await _import(tid, import_id)
    assert at_kill.status == ImportStatus.VALIDATING, at_kill.status  # nobody finished it
    assert 0 < at_kill.rows_read < ROWS
    assert at_kill.rows_written == 0
    assert await _fact_counts(tid) == (0, 0, 0), "rows were committed before the end"
    job = await _job(tid, job_id)
    assert (job.status, job.attempts) == (JobStatus.RUNNING, 1)
    assert len(_events(first, "job_started", job_id=str(job_id))) == 1
    assert not _events(first, "import_finished", import_id=str(import_id))

    # Worker B: the redelivered message (or the sweeper, once the job's heartbeat is stale)
    # gives it the job; the run starts over from the first row.
    second = workers.start("b", queues=IMPORT_QUEUE)
    done = await wait_for(
        "worker B finishing the import",
        lambda: _import(tid, import_id),
        lambda row: row.status not in ACTIVE_STATUSES,
        timeout_s=90,
        workers=workers,
        describe=_import_state,
    )
    finished = time.monotonic()
    assert done.status == ImportStatus.SUCCEEDED, (done.error_code, done.error_message)
    assert done.run == started.run  # the same run, taken over; not a new one
    # The counts of a clean run: the second run did not add to what the first one counted.
    assert (done.rows_read, done.rows_valid, done.rows_invalid, done.rows_written) == (
        ROWS,
        ROWS,
        0,
        ROWS,
    )
    assert done.bytes_processed == done.byte_size
    assert done.summary == {
        "created": ROWS,
        "updated": 0,
        "unchanged": 0,
        "errors": 0,
        "cleansing": {},
    }, done.summary
    assert done.error_code is None

    # Exactly the file's rows: one current fact per key, none twice, none missing.
    assert await _fact_counts(tid) == (ROWS, ROWS, ROWS)
    async with tenant_transaction(tid) as tx:
        keys = await tx.fetchrow(
            "SELECT min(external_key) AS first, max(external_key) AS last, "
            "sum(value) AS total FROM facts WHERE tenant_id = $1 AND source = $2",
            tid,
            SOURCE,
        )
    assert (keys["first"], keys["last"]) == (_key(0), _key(ROWS - 1))
    assert keys["total"] == ROWS // 2  # value i % 2: each row counted once

    job = await _job(tid, job_id)
    assert job.status == JobStatus.SUCCEEDED, (job.status, job.error_report)
    assert job.attempts >= 2, job.attempts
    assert job.counts.get("rows_written") == ROWS, job.counts
    # Worker B ran the import once: a redelivery that came while A's heartbeat was still
    # fresh was skipped, not run alongside.
    assert len(_events(second, "job_started", job_id=str(job_id))) == 1, workers.logs()
    assert len(_events(second, "import_finished", import_id=str(import_id))) == 1

    assert await _facts_of(bid) == bystander_before
    # The phases' durations, for the record (pytest -s).
    print(
        f"prepared {prepared - began:.1f} s, killed after {killed - prepared:.1f} s, "
        f"finished {finished - killed:.1f} s after the kill; "
        f"total {time.monotonic() - began:.1f} s"
    )

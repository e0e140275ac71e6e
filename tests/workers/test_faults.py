"""Faults on the job path, provoked for real: the broker restarted during an import, and a
worker killed in the middle of a scorecard recomputation.

Each test runs its own Redis (``tests.support.private_redis``: killing the shared one would
break other runs) and real ``renshi worker`` processes (``tests.support.worker_processes``)
against the run's database. The promises under test (``workers/jobs.py``,
``workers/sweeper.py``, ``workers/imports/pipeline.py``, ``domain/indicators/scoring.py``):
a job's row, not its message, is the truth; a message the broker lost is sent again by the
sweeper; a job whose worker died is taken over once its heartbeat is stale; imports and
recomputations write everything in one transaction, so a run cut short leaves nothing and
the run that takes over writes exactly what an uninterrupted one would.

The tests start the workers with a short ``RENSHI_SWEEP_S`` and ``RENSHI_STUCK_AFTER_S``;
a running job's heartbeat interval and staleness are fixed in ``domain/jobs/service.py``
(10 s and 30 s), which is what the takeover in the second test waits for.
"""

from __future__ import annotations

import asyncio
import json
import math
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from api.runtime import AppRuntime
from domain.demo.builder import LOADED_TABLES, build_demo
from domain.imports import repository as import_repo
from domain.imports.models import ACTIVE_STATUSES, Import, ImportStatus
from domain.indicators.scoring import RecomputeSummary, scoring_service
from domain.indicators.service import RECOMPUTE_JOB, period_service
from domain.jobs import repository as job_repo
from domain.jobs.models import Job, JobStatus
from tenants.database.migrate import analyze
from tenants.models import Tenant
from tenants.scope import TenantID, tenant_transaction
from tenants.settings import Settings
from tests.factories import create_tenant, create_user, node_uuid, tenant_id, user_token
from tests.factories_indicators import create_period, on_time, recompute, record_facts
from tests.factories_records import create_employee
from tests.support.graphql import GraphQLClient
from tests.support.imports import ImportClient
from tests.support.jobs import job_runtime
from tests.support.private_redis import PrivateRedis, private_redis
from tests.support.worker_processes import WorkerProcess, Workers, wait_for
from workers.kinds import SCORING_STATEMENT_TIMEOUT_MS

T = TypeVar("T")

# The workers sweep every second and re-send a job queued for 5 s: a lost message is sent
# again within seconds.
WORKER_ENV = {"RENSHI_SWEEP_S": "1", "RENSHI_STUCK_AFTER_S": "5"}
FINISHED_JOBS = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED})


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[PrivateRedis]:
    async with private_redis(tmp_path / "redis") as server:
        yield server


@pytest.fixture
async def workers(
    settings: Settings, broker: PrivateRedis, tmp_path: Path
) -> AsyncIterator[Workers]:
    group = Workers(settings.model_copy(update={"broker_url": broker.url}), tmp_path, WORKER_ENV)
    try:
        yield group
    finally:
        await group.stop()


def _events(
    worker: WorkerProcess, event: str, *, since: int = 0, **match: str
) -> list[dict[str, Any]]:
    """``worker``'s JSON log events named ``event`` matching ``match``, from byte ``since``."""
    with worker.log.open("rb") as log:
        log.seek(since)
        text = log.read().decode(errors="replace")
    found = []
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if entry.get("event") == event and all(entry.get(k) == v for k, v in match.items()):
            found.append(entry)
    return found


async def _job(tenant: TenantID, job_id: UUID) -> Job:
    async with tenant_transaction(tenant):
        job = await job_repo.get_job(tenant, job_id)
    assert job is not None
    return job


# --- the broker restarted during an import ---------------------------------------------------

# Big enough that the worker spends several seconds on it (the restart lands mid-run).
ROWS = 200_000
SECOND_ROWS = 20_000
EMPLOYEES = 40
SOURCE = "fault-test"
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
# The import worker holds one message at a time: the second import's message waits in
# Redis, where the restart loses it, instead of in the worker's prefetch buffer.
ONE_MESSAGE_AT_A_TIME = {"dramatiq_queue_prefetch": "1"}
NAMESPACE = "renshi"  # of the Redis broker's keys (workers/broker.py)
FACT_COUNTS = """
    SELECT count(*) AS n,
           count(DISTINCT external_key) AS keys,
           count(*) FILTER (WHERE superseded_at IS NULL) AS current,
           min(external_key) AS first, max(external_key) AS last, sum(value) AS total
    FROM facts WHERE tenant_id = $1 AND source = $2
"""


def _key(i: int) -> str:
    return f"K{i:07d}"


def _facts_csv(rows: int) -> bytes:
    """``rows`` valid ``defect`` facts, each with its own key, spread over the employees."""
    first_day = date(2025, 1, 1)
    lines = ["employee,kind,occurred_at,value,denominator,external_key"]
    lines.extend(
        f"R{i % EMPLOYEES:03d},defect,{first_day + timedelta(days=i % 300)},{i % 2},1,{_key(i)}"
        for i in range(rows)
    )
    return ("\n".join(lines) + "\n").encode()


@dataclass
class Uploaded:
    """An import created and its encrypted file uploaded, not started yet."""

    tenant: TenantID
    client: ImportClient
    global_id: str
    rows: int

    @property
    def id(self) -> UUID:
        return node_uuid(self.global_id)


async def _uploaded_import(
    gql: GraphQLClient, http: httpx.AsyncClient, runtime: AppRuntime, rows: int
) -> Uploaded:
    """A tenant with the file's employees, whose admin creates a key and an import and
    uploads the encrypted file, as a client does (``tests/api/test_imports.py``)."""
    tenant = await create_tenant()
    for number in range(EMPLOYEES):
        await create_employee(tenant, employee_number=f"R{number:03d}")
    admin = await create_user(tenant, roles=("admin",))
    client = ImportClient(gql, http, user_token(runtime.tokens, admin, ttl=3600))
    await client.create_key()
    plaintext = await asyncio.to_thread(_facts_csv, rows)
    ciphertext = await asyncio.to_thread(client.encrypt, plaintext)
    created = await client.create("facts", mapping=MAPPING, fileName="facts.csv")
    assert created["__typename"] == "ImportPayload", created
    record = created["import"]
    uploaded = await client.upload(record["uploadPath"], ciphertext)
    assert uploaded.status_code == 200, uploaded.text
    return Uploaded(tenant_id(tenant), client, record["id"], rows)


async def _start(upload: Uploaded) -> UUID:
    """Start the import (COMMIT); returns its job's id."""
    started = await upload.client.start(upload.global_id, "COMMIT")
    assert started["__typename"] == "ImportPayload", started
    row = await _import(upload)
    assert row.job_id is not None
    return row.job_id


async def _import(upload: Uploaded) -> Import:
    async with tenant_transaction(upload.tenant):
        row = await import_repo.get_import(upload.tenant, upload.id)
    assert row is not None
    return row


async def _waiting_jobs(broker: PrivateRedis, queue: str) -> set[str]:
    """The job ids of the messages waiting in ``queue`` (dramatiq's Redis layout: a list of
    message ids, the messages in a hash beside it)."""
    client = aioredis.from_url(broker.url)
    try:
        ids = await client.lrange(f"{NAMESPACE}:{queue}", 0, -1)
        payloads = await client.hmget(f"{NAMESPACE}:{queue}.msgs", ids) if ids else []
    finally:
        await client.aclose()
    return {json.loads(payload)["args"][0] for payload in payloads if payload is not None}


async def _wait_until_finished(upload: Uploaded, workers: Workers) -> None:
    await wait_for(
        f"the import of {upload.rows} rows finishing",
        lambda: _import(upload),
        lambda row: row.status not in ACTIVE_STATUSES,
        timeout_s=120,
        workers=workers,
    )


async def _check_imported_once(upload: Uploaded, job_id: UUID) -> Job:
    """The import succeeded with the counts of one clean run and the table holds exactly
    the file's rows; its one job succeeded. Returns the job."""
    done = await _import(upload)
    assert done.status == ImportStatus.SUCCEEDED, (done.status, done.error_code)
    assert (done.rows_read, done.rows_valid, done.rows_invalid, done.rows_written) == (
        upload.rows,
        upload.rows,
        0,
        upload.rows,
    )
    assert done.summary["created"] == upload.rows, done.summary
    assert (done.summary["updated"], done.summary["unchanged"]) == (0, 0), done.summary
    assert done.job_id == job_id
    async with tenant_transaction(upload.tenant) as tx:
        facts = await tx.fetchrow(FACT_COUNTS, upload.tenant, SOURCE)
        jobs = await tx.fetchval(
            "SELECT count(*) FROM jobs WHERE tenant_id = $1 AND kind = 'imports.run'",
            upload.tenant,
        )
    # One fact per row of the file: none twice, none missing, each counted once.
    assert (facts["n"], facts["keys"], facts["current"]) == (upload.rows,) * 3
    assert (facts["first"], facts["last"]) == (_key(0), _key(upload.rows - 1))
    assert facts["total"] == upload.rows // 2  # value i % 2
    assert jobs == 1  # the sweeper sends the job again; it never makes another
    job = await _job(upload.tenant, job_id)
    assert job.status == JobStatus.SUCCEEDED, (job.status, job.error_report)
    assert job.counts.get("rows_written") == upload.rows, job.counts
    return job


async def test_broker_restart_during_import(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    runtime: AppRuntime,
    broker: PrivateRedis,
    workers: Workers,
) -> None:
    """Redis is killed while a worker is a third of the way through an import, and an
    empty one started on the same port (persistence off: every queue is gone).

    The running import goes on (its state is in PostgreSQL, not in Redis) and finishes
    once; a second tenant's import, queued behind it, lost its message with the restart:
    the sweeper sends it again and it runs once. Both tenants end with exactly their
    files' rows, under the same source and keys, and the worker is still alive.
    """
    first = await _uploaded_import(gql, http, runtime, ROWS)
    second = await _uploaded_import(gql, http, runtime, SECOND_ROWS)
    worker = workers.start("imports", queues=("imports",), env=ONE_MESSAGE_AT_A_TIME)

    async with job_runtime(workers.settings, consume=False):
        first_job = await _start(first)
        await wait_for(
            "the worker taking the first import",
            lambda: _job(first.tenant, first_job),
            lambda job: job.status != JobStatus.QUEUED,
            timeout_s=60,
            workers=workers,
        )
        second_job = await _start(second)
    midway = await wait_for(
        "the first import a third of the way through",
        lambda: _import(first),
        lambda row: row.rows_read >= ROWS // 3 or row.status not in ACTIVE_STATUSES,
        timeout_s=60,
        workers=workers,
    )
    assert midway.status == ImportStatus.VALIDATING, (midway.status, workers.logs())
    waiting = await _job(second.tenant, second_job)
    assert (waiting.status, waiting.attempts) == (JobStatus.QUEUED, 0)
    assert str(second_job) in await _waiting_jobs(broker, "imports")

    # given a worker mid-import and a message waiting in the queue, when Redis restarts:
    log_at_restart = worker.log.stat().st_size
    await broker.restart()
    at_restart = await _import(first)
    assert at_restart.status in ACTIVE_STATUSES, "the import finished before the restart"
    assert 0 < at_restart.rows_read < ROWS

    for upload in (first, second):
        await _wait_until_finished(upload, workers)

    # then each import ran once and completed once
    first_done = await _check_imported_once(first, first_job)
    second_done = await _check_imported_once(second, second_job)
    # The running import was never taken over; the queued one was claimed once.
    assert (first_done.attempts, second_done.attempts) == (1, 1)
    for upload, job_id in ((first, first_job), (second, second_job)):
        assert len(_events(worker, "job_started", job_id=str(job_id))) == 1, workers.logs()
        finished = _events(worker, "job_finished", job_id=str(job_id))
        assert [e["outcome"] for e in finished] == ["succeeded"], workers.logs()
        imported = _events(worker, "import_finished", import_id=str(upload.id))
        assert [e["rows"] for e in imported] == [upload.rows], workers.logs()
    # The second import's message died with the queue: the sweeper sent it again.
    requeued = _events(worker, "job_requeued", since=log_at_restart, job_id=str(second_job))
    assert requeued, workers.logs()
    assert worker.running(), workers.logs()
    assert broker.starts == 2


# --- a worker killed mid-scoring ------------------------------------------------------------

# A demo tenant: people with two years of facts and the pack's rules (targets move).
DEMO_EMPLOYEES = 150
DEMO_AS_OF = date(2026, 3, 16)
PERIOD = ("2025-Q4", date(2025, 10, 1), date(2025, 12, 31))
CARDS = """
    SELECT employee_id, level, org_unit_id, status, indicator_total, review_points,
           review_responses, blended_total, adjustment, total, percentile, scored_weight,
           details::text, indicator_set_version, lines::text, digest
    FROM scorecards WHERE tenant_id = $1 AND period_id = $2 ORDER BY employee_id
"""
BASELINES = """
    SELECT indicator, level, value, people, facts, low, high, window_start, window_end
    FROM level_baselines WHERE tenant_id = $1 AND period_id = $2 ORDER BY indicator, level
"""
ADJUSTMENTS = """
    SELECT rule, rule_kind, indicator, org_unit_id, employee_id, inputs::text, effect::text,
           reason_en, reason_zh
    FROM target_adjustments WHERE tenant_id = $1 AND period_id = $2
    ORDER BY rule, indicator, org_unit_id NULLS FIRST, employee_id NULLS FIRST, inputs::text
"""
RESULT_TABLES = ("scorecards", "level_baselines", "target_adjustments")
# The first write of a recomputation (``_Run.store``), once everything is computed.
FIRST_WRITE = "DELETE FROM level_baselines WHERE tenant_id = $1 AND period_id = $2"
# A backend of this database waiting for a lock that ``$1`` holds, running ``$2``.
BLOCKED_BY = """
    SELECT count(*) FROM pg_stat_activity
    WHERE datname = current_database() AND $1 = ANY(pg_blocking_pids(pid)) AND query = $2
"""


@dataclass(frozen=True)
class Results:
    """What a recomputation wrote for a period, without row ids and timestamps."""

    cards: list[tuple[Any, ...]]
    baselines: list[tuple[Any, ...]]
    adjustments: list[tuple[Any, ...]]


CARD_COLUMNS = (
    "employee_id", "level", "org_unit_id", "status", "indicator_total", "review_points",
    "review_responses", "blended_total", "adjustment", "total", "percentile", "scored_weight",
    "details", "indicator_set_version", "lines", "digest",
)  # fmt: skip


def _card_differences(expected: list[tuple[Any, ...]], got: list[tuple[Any, ...]]) -> str:
    """The first few cards that differ, column by column (JSON columns key by key)."""
    found: list[str] = []
    for want, have in zip(expected, got, strict=False):
        for name, a, b in zip(CARD_COLUMNS, want, have, strict=True):
            if a == b:
                continue
            if name in {"details", "lines"}:
                a, b = _json_differences(json.loads(a), json.loads(b))
            found.append(f"card of {want[0]}: {name}: {a!r} != {b!r}")
        if len(found) >= 10:
            break
    return "\n".join(found) or f"{len(expected)} cards expected, {len(got)} found"


def _cards_alike(expected: list[tuple[Any, ...]], got: list[tuple[Any, ...]]) -> bool:
    """The same cards, figure for figure, to 12 significant digits. The facts' sums are float
    sums in the order the plan reads the rows (a parallel or a synchronized scan of another
    process may read them in another), so two recomputations of the same facts can differ in
    the last bit; the digest hashes those exact figures and is left out."""
    if len(expected) != len(got):
        return False
    for want, have in zip(expected, got, strict=True):
        for name, a, b in zip(CARD_COLUMNS, want, have, strict=True):
            if name == "digest":
                continue
            if name in {"details", "lines"}:
                a, b = json.loads(a), json.loads(b)
            if not _alike(a, b):
                return False
    return True


def _alike(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_alike(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_alike(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _json_differences(a: Any, b: Any) -> tuple[Any, Any]:
    """The parts of two JSON values that differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = [k for k in {**a, **b} if a.get(k) != b.get(k)]
        return {k: a.get(k) for k in keys}, {k: b.get(k) for k in keys}
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        pairs = [_json_differences(x, y) for x, y in zip(a, b, strict=True) if x != y]
        return [p[0] for p in pairs], [p[1] for p in pairs]
    return a, b


async def _results(tenant: TenantID, period_id: UUID) -> Results:
    async with tenant_transaction(tenant) as tx:
        return Results(
            cards=[tuple(r) for r in await tx.fetch(CARDS, tenant, period_id)],
            baselines=[tuple(r) for r in await tx.fetch(BASELINES, tenant, period_id)],
            adjustments=[tuple(r) for r in await tx.fetch(ADJUSTMENTS, tenant, period_id)],
        )


async def _forget_cards(tenant: TenantID, period_id: UUID) -> None:
    """Remove a period's scorecards and target adjustments (the baselines stay): the next
    recomputation must write every one of them again."""
    async with tenant_transaction(tenant) as tx:
        for table in ("scorecards", "target_adjustments"):
            await tx.execute(
                f"DELETE FROM {table} WHERE tenant_id = $1 AND period_id = $2",  # noqa: S608
                tenant,
                period_id,
            )


async def _stored_rows(tenant: TenantID) -> dict[str, list[tuple[Any, ...]]]:
    """Every result row of ``tenant``, ids and timestamps included."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    async with tenant_transaction(tenant) as tx:
        for table in RESULT_TABLES:
            rows = await tx.fetch(
                f"SELECT * FROM {table} WHERE tenant_id = $1 ORDER BY id",  # noqa: S608
                tenant,
            )
            found[table] = [tuple(r) for r in rows]
    return found


async def _blocked_by(tenant: TenantID, holder_pid: int) -> int:
    """How many backends wait on ``holder_pid``'s locks at a recomputation's first write
    (read outside the holder's transaction, which would see a frozen view of activity)."""
    async with tenant_transaction(tenant) as tx:
        count: int = await tx.fetchval(BLOCKED_BY, holder_pid, FIRST_WRITE)
    return count


async def _bystander() -> tuple[Tenant, dict[str, list[tuple[Any, ...]]]]:
    """A small tenant with computed scorecards, and its rows as they are."""
    tenant = await create_tenant()
    for _ in range(3):
        person = await create_employee(tenant, level="senior")
        await record_facts(tenant, person, "due_item", on_time(8, 2))
    period = await create_period(tenant)
    await recompute(tenant, period)
    rows = await _stored_rows(tenant_id(tenant))
    assert rows["scorecards"], "the bystander has scorecards"
    return tenant, rows


async def test_worker_killed_mid_scoring(
    settings: Settings,
    broker: PrivateRedis,
    workers: Workers,
    superuser: asyncpg.Connection,
) -> None:
    """A worker is SIGKILLed (its whole process group) in the middle of a recomputation; a
    new worker takes the job over once its heartbeat is stale (the sweeper sends it
    again), and the recomputation completes with exactly the scorecards, baselines and
    rule explanations of an uninterrupted one, one card per person.

    Where the kill lands is not left to timing: the test holds a lock on the period's
    stored baselines, so the first worker computes every card and then waits at its first
    write, its transaction open; it is killed there. Nothing of it may be committed.
    """
    began = time.monotonic()
    bystander, bystander_before = await _bystander()
    demo = await build_demo(
        slug=f"faults-{secrets.token_hex(4)}",
        template="enterprise_rd",
        employees=DEMO_EMPLOYEES,
        seed=2026,
        as_of=DEMO_AS_OF,
        periods=False,
    )
    assert settings.database_admin_url is not None
    await analyze(settings.database_admin_url, LOADED_TABLES)
    # What autovacuum does to a bulk load soon after (the visibility map, statistics),
    # done now: the plan of the facts aggregates changes with it, and their float sums
    # with the plan, in the last bit (the first recomputation after a bulk load and the
    # next ones differ there). Both recomputations compared here run on the settled table.
    await superuser.execute("VACUUM (ANALYZE) facts")
    tid = demo.tenant_id
    code, starts_on, ends_on = PERIOD
    async with tenant_transaction(tid):
        period = await period_service.create(
            tid, code=code, kind="quarter", starts_on=starts_on, ends_on=ends_on
        )

    # given the result of an uninterrupted recomputation, its cards then forgotten
    async with tenant_transaction(tid, statement_timeout_ms=SCORING_STATEMENT_TIMEOUT_MS):
        expected_summary: RecomputeSummary = await scoring_service.recompute(tid, period.id)
    expected = await _results(tid, period.id)
    assert len(expected.cards) == expected_summary.employees >= DEMO_EMPLOYEES // 2
    assert expected.baselines
    assert expected.adjustments, "the demo's rules move some targets"
    await _forget_cards(tid, period.id)
    before = await _stored_rows(tid)
    assert not before["scorecards"]
    assert not before["target_adjustments"]
    prepared = time.monotonic()

    # when the worker recomputing the period is killed with its work computed, not stored
    lock = superuser.transaction()
    await lock.start()
    try:
        await superuser.execute(
            "SELECT id FROM level_baselines WHERE tenant_id = $1 AND period_id = $2 FOR UPDATE",
            tid,
            period.id,
        )
        first = workers.start("a", queues=("scoring",))
        async with job_runtime(workers.settings, consume=False), tenant_transaction(tid):
            job_id = await period_service.request_recompute(tid, period.id)
        await wait_for(
            "worker A at the recomputation's first write",
            lambda: _blocked_by(tid, superuser.get_server_pid()),
            lambda waiting: waiting == 1,
            timeout_s=120,
            workers=workers,
        )
        await first.kill()
        killed = time.monotonic()
        at_kill = await _job(tid, job_id)
        assert (at_kill.status, at_kill.attempts) == (JobStatus.RUNNING, 1)
        assert len(_events(first, "job_started", job_id=str(job_id))) == 1, workers.logs()
        assert not _events(first, "job_finished", job_id=str(job_id))
    finally:
        # The dead worker's backend takes the lock, finds its client gone and rolls back.
        await lock.rollback()

    # then a new worker takes the job over and writes the uninterrupted result
    second = workers.start("b", queues=("scoring",))
    done = await wait_for(
        "worker B finishing the recomputation",
        lambda: _job(tid, job_id),
        lambda job: job.status in FINISHED_JOBS,
        timeout_s=150,
        workers=workers,
    )
    finished = time.monotonic()
    assert done.status == JobStatus.SUCCEEDED, (done.error_report, workers.logs())
    assert done.attempts == 2
    assert done.counts == {
        "employees": expected_summary.employees,
        "lines": expected_summary.lines,
        "facts": expected_summary.facts,
        "adjustments": expected_summary.adjustments,
    }
    again = await _results(tid, period.id)
    # One card per person: none twice, none missing.
    assert len(again.cards) == len({card[0] for card in again.cards}) == len(expected.cards)
    assert _alike(again.baselines, expected.baselines), (expected.baselines, again.baselines)
    assert again.adjustments == expected.adjustments
    assert _cards_alike(expected.cards, again.cards), _card_differences(expected.cards, again.cards)
    after = await _stored_rows(tid)
    # The baselines were written anew by worker B, not left from before the kill.
    assert {r[0] for r in after["level_baselines"]}.isdisjoint(
        r[0] for r in before["level_baselines"]
    )
    assert len(_events(second, "job_started", job_id=str(job_id))) == 1, workers.logs()
    finished_events = _events(second, "job_finished", job_id=str(job_id))
    assert [e["outcome"] for e in finished_events] == ["succeeded"], workers.logs()
    async with tenant_transaction(tid):
        jobs = await Job.filter(kind=RECOMPUTE_JOB).count()
    assert jobs == 1  # taken over, not queued anew

    assert await _stored_rows(tenant_id(bystander)) == bystander_before
    # The phases' durations, for the record (pytest -s).
    print(
        f"prepared {prepared - began:.1f} s, killed {killed - prepared:.1f} s later, "
        f"taken over and finished {finished - killed:.1f} s after the kill"
    )

"""Importing facts at scale: a 1,000,000-row encrypted CSV, end to end, by a worker process.

``python -m bench.imports --json`` makes sure the demo tenant ``bench-imports`` exists (an
``enterprise_rd`` demo of 5,000 engineers, records only, built once with
``domain.demo.builder.build_demo`` and reused by later runs), then, in one run:

1. writes a CSV of ``--rows`` facts (default 1,000,000; about 100 bytes a row: employee
   number, fact kind, ISO date-time with offset, value, denominator, an external key unique
   per row) to a temporary file; the kinds are the pack's four kinds with a denominator
   (``requirement_delivered``, ``due_item``, ``defect``, ``action_item``), the people the
   tenant's own, the times within the last two years;
2. makes a fresh import key (``ImportKeys.create_key``, which makes it primary; the older
   keys of the tenant are disabled, so every run decrypts under one enabled key) and
   encrypts the file with it (``encrypt_file``, Tink streaming AEAD);
3. uploads the ciphertext through the import service as the streaming upload does
   (``create``, then ``receive``: one transaction per 1 MB chunk); the mapping names the
   columns and gives the run a source system of its own (``bench-<time>``), so every
   measured run really inserts every row;
4. starts a worker and the import (``start``, mode ``commit``, all or nothing), and polls
   the import row every 0.2 s until it has finished;
5. COPYs the same plain CSV file into a plain, unindexed table on the same database.

It prints one JSON object::

    rows                 data rows in the file; ``rows_written`` says how many the import
                         wrote (the run fails unless it is all of them)
    import_s             from the ``start`` call (the job is queued when its transaction
                         commits) to the first poll that sees the import ``succeeded``:
                         what an administrator waits for, worker pick-up included
    rows_per_s           rows / import_s
    worker_peak_rss_mb   the peak resident memory (``VmHWM``) of the worker process that ran
                         the job: the interpreter, the imports, the ORM and the run
    copy_s               wall time of one ``COPY bench_copy_target FROM STDIN (FORMAT csv,
                         HEADER)`` of the same plain file, streamed by asyncpg's
                         ``copy_to_table`` (source: the file), committed: the database's own
                         floor for taking these rows in
    ratio                import_s / copy_s
    goal, meets_goal     rows_per_s >= 50,000, ratio <= 4, worker_peak_rss_mb <= 400
    bytes                the ciphertext's size; ``plain_bytes`` the CSV's
    worker               "dramatiq-redis" or "subprocess" (see below)
    phases               seconds between the statuses the polls saw: ``queued_s`` (until a
                         worker took the job), ``validating_s`` (decrypt, parse, map, check
                         and write each batch as it comes), ``loading_s`` (the last
                         statements and the commit), and the worker's own ``started_at`` to
                         ``finished_at``
    timings              subprocess worker only: where the job's time went (below)
    cpu_s                CPU seconds spent during the import by the job's worker process
                         and by the embedded server's processes (null for an external
                         database); next to ``wall`` and ``cpus`` it shows whether the run
                         was bound by the machine's cores rather than by waiting
    generate_s, encrypt_s, upload_s, summary, ...   diagnostics

How to read it: ``rows_per_s`` is the throughput a tenant gets; ``ratio`` says how much the
import adds on top of the database taking the same rows (decryption, parsing, mapping and
checking in Python, staging, then the insert into ``facts`` with its four indexes, foreign
keys and row-level security, all in one transaction); it moves less between machines than
the absolute figures. ``copy_s`` has none of that: no index, no constraint, text parsed by
the server. ``worker_peak_rss_mb`` should not grow with the file: the file is streamed
(chunks, a bounded queue of batches), so run it again with ``--rows 3000000`` to see it flat.

The worker: when a Redis answers at ``--broker-url`` (default ``redis://127.0.0.1:6379/12``,
a database of its own), the bench starts ``python -m api.cli worker --processes 1`` with
that ``BROKER_URL`` and sends the job through Redis, as production does (``worker`` is
``dramatiq-redis``). Without Redis (a fresh machine), or with ``--worker subprocess``, it
starts a subprocess of its own that boots as a worker does (ORM, PII cipher, import keys)
and runs the job with ``workers.jobs.run_job`` when the bench's job dispatcher hands it the
message (``worker`` is ``subprocess``). Either way the worker is up before the clock starts.
The subprocess also times its parts (``timings``): the parser thread's wall and CPU time,
how long the job's coroutine waited for the parser's batches, the COPYs into the stage
(with the Python that builds their records), and each statement of the final write;
``--profile DIR`` adds a cProfile of the job's coroutine thread and of the parser thread
there (slower: compare those figures with one another, not with a plain run).

Peak RSS: dramatiq's ``worker`` command forks its worker processes; the bench finds the
command's descendants in ``/proc`` and reads ``VmHWM`` (the kernel's high-water mark of
the resident set) of each, while they are still alive, right after the import finished.
The job ran in the (only) forked worker process, which is the largest: that one is
reported; ``worker_processes`` lists every process of the command with its ``VmHWM``, and
``worker_rss_before_mb`` is the job's process before the run. The subprocess worker
reports its own ``VmHWM`` when the job is done.

Setup: with ``DATABASE_URL`` unset the embedded PostgreSQL under ``RENSHI_HOME`` (default
``./var/bench``) is started, provisioned and migrated by this process, which keeps it
running for the worker; otherwise ``DATABASE_URL`` is used and ``DATABASE_ADMIN_URL``, when
set, migrates it. The worker reads the same ``RENSHI_HOME`` (master key). With the owner's
URL, each run first removes what earlier runs left (facts of ``bench-*`` sources, which the
append-only trigger is disabled for, in the same transaction; imports of the tenant) and
vacuums, so every run starts from the same tables; without it nothing is removed and facts
pile up (``purged`` says which). The COPY target is a regular table made by the owner (a
temporary table, unlogged, when there is no owner URL: ``copy_table`` says which). Unless
``--keep``, the run's facts and import are removed at the end. The first run builds the
tenant: a minute or two.

Exit status: 0; 1 when the import did not succeed with every row, or with ``--check`` when
the goal is missed; 130 when interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import pstats
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import asyncpg
import uvloop

from bench.api import DEFAULT_HOME, PROJECT_ROOT, json_safe, process_cpu_s, run_report
from bench.records import demo_tenant
from domain.imports import repository as import_repo
from domain.imports.models import ImportFormat, ImportMode, ImportStatus, OnError
from domain.imports.reports import use_import_keys
from domain.imports.service import FINISHED_STATUSES, import_service
from domain.jobs.service import JobMessage, job_service
from tenants.crypto.imports import (
    ImportKeys,
    encrypt_file,
    import_keys_from_settings,
    load_bundle,
)
from tenants.database.runtime import close_orm, init_orm
from tenants.scope import TenantID, tenant_transaction
from tenants.settings import Settings

SLUG = "bench-imports"
EMPLOYEES = 5000
ROWS = 1_000_000
SEED = 2026
GOAL = {"rows_per_s_min": 50_000, "ratio_max": 4, "worker_peak_rss_mb_max": 400}
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/12"
SOURCE_PREFIX = "bench-"
POLL_S = 0.2
WORKER_READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 15.0
CHILD_FLAG = "--run-job"
COPY_TABLE = "bench_copy_target"
HEADERS = ("employee_number", "kind", "occurred_at", "value", "denominator", "external_key")
MAPPING_COLUMNS = {
    "employee_number": "employee",
    "kind": "kind",
    "occurred_at": "occurred_at",
    "value": "value",
    "denominator": "denominator",
    "external_key": "external_key",
}
COPY_COLUMNS_SQL = (
    "employee_number text, kind text, occurred_at timestamptz, value double precision, "
    "denominator double precision, external_key text"
)
ANALYZED_TABLES = ("employees", "facts", "imports", "import_chunks", "jobs")
HISTORY_DAYS = 730
# The pack's fact kinds that take a denominator, in the proportions of an R&D export.
KIND_WEIGHTS = (("requirement_delivered", 3), ("due_item", 3), ("defect", 3), ("action_item", 1))
SHANGHAI = timezone(timedelta(hours=8))


def _progress(message: str) -> None:
    print(f"bench.imports: {message}", file=sys.stderr, flush=True)


# Processes and memory ------------------------------------------------------------------


def _status_kb(pid: int, name: str) -> int | None:
    """A ``kB`` field of ``/proc/<pid>/status`` (VmHWM, VmRSS); None when unreadable."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return None


def _mb(kb: int | None) -> float | None:
    return None if kb is None else round(kb / 1024, 1)


def descendants(root: int) -> list[int]:
    """``root`` and every process below it, from the parent ids in ``/proc``."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The fields after the parenthesised command name: state, then the parent id.
        parent = int(stat.rpartition(")")[2].split()[1])
        children[parent].append(int(entry.name))
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children.get(pid, ()))
    return found


def _own_peak_mb() -> float:
    # Linux reports ru_maxrss in kilobytes.
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def postmaster_pid(home: Path) -> int | None:
    """The embedded server's postmaster (the first line of its ``postmaster.pid``)."""
    try:
        return int((home / "pg" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def cpu_by_process(root: int | None) -> dict[int, float]:
    """CPU seconds so far of ``root`` and every process below it."""
    return {} if root is None else {pid: process_cpu_s(pid) for pid in descendants(root)}


def cpu_spent(root: int | None, before: dict[int, float]) -> float | None:
    """CPU seconds ``root``'s processes spent since ``before`` (those alive now: a backend
    that exited meanwhile took its share with it)."""
    if root is None:
        return None
    now = cpu_by_process(root)
    spent = sum(seconds - before.get(pid, 0.0) for pid, seconds in now.items())
    return round(spent, 1)


def redis_answers(url: str) -> bool:
    """Whether a Redis answers PING at ``url`` within a second."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), 1):
            pass
    except OSError:
        return False
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except redis.RedisError:
        return False


# Workers -------------------------------------------------------------------------------


class Worker(ABC):
    """Where the job runs: a process started (and stopped) by the bench."""

    kind: str
    process: subprocess.Popen[bytes]

    @abstractmethod
    async def wait_ready(self) -> None:
        """Return once the worker consumes jobs."""

    @abstractmethod
    def job_pid(self) -> int:
        """The process that runs the job."""

    def processes(self) -> dict[int, float | None]:
        """Every process of the worker with its peak RSS (MB) so far."""
        return {pid: _mb(_status_kb(pid, "VmHWM")) for pid in descendants(self.process.pid)}

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                # Its own session: the group is the worker and what it forked, nothing else.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        else:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)


class DramatiqWorker(Worker):
    """``python -m api.cli worker --processes 1``: a supervisor and one forked worker."""

    kind = "dramatiq-redis"

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "worker", "--processes", "1", "--threads", "2"],
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + WORKER_READY_TIMEOUT_S
        while b"worker_ready" not in self.log_path.read_bytes():
            if self.process.poll() is not None:
                raise RuntimeError(f"the worker exited ({self.process.returncode}):\n{self.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker was not ready in {WORKER_READY_TIMEOUT_S} s")
            await asyncio.sleep(0.2)

    def job_pid(self) -> int:
        forked = [pid for pid in descendants(self.process.pid) if pid != self.process.pid]
        if not forked:
            return self.process.pid
        return max(forked, key=lambda pid: _status_kb(pid, "VmHWM") or 0)

    def tail(self) -> str:
        return self.log_path.read_bytes()[-3000:].decode(errors="replace")

    def stop(self) -> None:
        super().stop()
        self._log.close()


class SubprocessWorker(Worker):
    """``python -m bench.imports --run-job``: boots as a worker, runs the job it is sent."""

    kind = "subprocess"

    def __init__(self, env: dict[str, str], profile: Path | None) -> None:
        argv = [sys.executable, "-m", "bench.imports", CHILD_FLAG]
        if profile is not None:
            argv.append(str(profile))
        self.process = subprocess.Popen(
            argv,
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        self.report: dict[str, Any] = {}

    async def wait_ready(self) -> None:
        assert self.process.stdout is not None
        line = await asyncio.to_thread(self.process.stdout.readline)
        if not line.startswith(b"ready"):
            self.process.wait()
            raise RuntimeError(f"the job subprocess did not start ({self.process.returncode})")

    async def dispatch(self, message: JobMessage) -> None:
        """The bench's job dispatcher: the message goes to the subprocess, as to a broker."""
        assert self.process.stdin is not None
        self.process.stdin.write(f"{message.tenant_id} {message.job_id}\n".encode())
        self.process.stdin.flush()

    async def result(self) -> dict[str, Any]:
        """Let the subprocess end (it keeps its connections until then, so that the
        database's CPU can be read) and take its report."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(b"done\n")
        self.process.stdin.close()
        out = await asyncio.to_thread(self.process.stdout.read)
        await asyncio.to_thread(self.process.wait)
        if self.process.returncode != 0 or not out.strip():
            raise RuntimeError(f"the job subprocess failed ({self.process.returncode})")
        self.report = json.loads(out.decode().strip().splitlines()[-1])
        return self.report

    def job_pid(self) -> int:
        return self.process.pid


def worker_env(
    app_url: str, admin_url: str | None, home: Path, broker_url: str | None
) -> dict[str, str]:
    env = dict(os.environ)
    # The worker reaches the database this process resolved (the embedded one included,
    # which this process keeps alive) and unwraps keysets with the master key under home.
    env["DATABASE_URL"] = app_url
    if admin_url is not None:
        env["DATABASE_ADMIN_URL"] = admin_url
    env["RENSHI_HOME"] = str(home.resolve())
    env["RENSHI_LOG_LEVEL"] = "INFO"
    env["RENSHI_LOG_FORMAT"] = "json"
    if broker_url is not None:
        env["BROKER_URL"] = broker_url
    else:
        env.pop("BROKER_URL", None)
    return env


# The file ------------------------------------------------------------------------------


def write_csv(path: Path, rows: int, numbers: Sequence[str], *, seed: int) -> int:
    """``rows`` facts as CSV into ``path``; the bytes written."""
    rng = random.Random(seed)  # reproducible bench data, not secrets
    kinds = [kind for kind, weight in KIND_WEIGHTS for _ in range(weight)]
    sizes = ("1", "2", "3", "5", "8", "13")
    latest = int(datetime.now(UTC).timestamp()) - 3600
    span = HISTORY_DAYS * 86400
    from_ts = datetime.fromtimestamp
    randrange, choice, random_ = rng.randrange, rng.choice, rng.random
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(HEADERS) + "\n")
        lines: list[str] = []
        for index in range(1, rows + 1):
            kind = choice(kinds)
            if kind == "requirement_delivered":
                value, denominator = f"{0.5 + 39.5 * random_():.1f}", choice(sizes)
            else:
                value, denominator = ("1" if random_() < 0.8 else "0"), "1"
            moment = from_ts(latest - randrange(span), SHANGHAI).isoformat()
            key = f"PLAT-{index:07d}-{rng.getrandbits(128):032x}"
            lines.append(f"{choice(numbers)},{kind},{moment},{value},{denominator},{key}\n")
            if len(lines) >= 10_000:
                out.write("".join(lines))
                lines.clear()
        out.write("".join(lines))
    return path.stat().st_size


# Fixture -------------------------------------------------------------------------------


@dataclass
class Setup:
    app_url: str
    admin_url: str | None
    tenant: TenantID
    numbers: list[str]
    built: bool
    build_s: float | None
    analyzed: bool
    purged: bool


async def purge(admin_url: str, tenant: TenantID) -> tuple[int, int]:
    """As the owner: remove the facts of earlier runs (``bench-*`` sources) and the imports
    of the tenant, then vacuum; (facts, imports) removed."""
    conn = await asyncpg.connect(admin_url)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(tenant))
            # Facts are append-only for everyone; only this transaction sees it lifted.
            await conn.execute("ALTER TABLE facts DISABLE TRIGGER facts_append_only")
            facts = await conn.execute(
                "DELETE FROM facts WHERE tenant_id = $1 AND source LIKE $2",
                tenant,
                SOURCE_PREFIX + "%",
            )
            await conn.execute("ALTER TABLE facts ENABLE TRIGGER facts_append_only")
            imports = await conn.execute("DELETE FROM imports WHERE tenant_id = $1", tenant)
        # Always: the previous run removed its own rows at its end, leaving them dead.
        await conn.execute("VACUUM (ANALYZE) facts, imports, import_chunks")
        return int(facts.rsplit(" ", 1)[-1]), int(imports.rsplit(" ", 1)[-1])
    finally:
        await conn.close()


async def prepare(settings: Settings, employees: int) -> Setup:
    demo = await demo_tenant(
        settings, slug=SLUG, name="Bench Imports", employees=employees, facts=False,
        tables=ANALYZED_TABLES, token_ttl=3600, prefix="bench.imports",
    )  # fmt: skip
    fixture = demo.fixture
    purged = False
    if fixture.admin_url is not None:
        facts, imports = await purge(fixture.admin_url, demo.tenant)
        purged = True
        if facts or imports:
            _progress(f"removed {facts} facts and {imports} imports of earlier runs")
    else:
        _progress("no DATABASE_ADMIN_URL: facts of earlier runs stay (they are append-only)")
    await init_orm(fixture.app_url, pool_size=1)
    try:
        async with tenant_transaction(demo.tenant) as tx:
            rows = await tx.fetch(
                "SELECT employee_number FROM employees WHERE tenant_id = $1 "
                "ORDER BY employee_number",
                demo.tenant,
            )
    finally:
        await close_orm()
    return Setup(
        app_url=fixture.app_url,
        admin_url=fixture.admin_url,
        tenant=demo.tenant,
        numbers=[row["employee_number"] for row in rows],
        built=demo.build_s is not None,
        build_s=demo.build_s,
        analyzed=demo.analyzed,
        purged=purged,
    )


async def fresh_key(keys: ImportKeys, tenant: TenantID) -> dict[str, Any]:
    """A new primary import key, its bundle returned; every other key of the tenant is
    disabled, so the file decrypts under the one key a sender would have."""
    async with tenant_transaction(tenant):
        bundle = await keys.create_key(tenant, tenant_slug=SLUG)
        for info in await keys.list_keys(tenant):
            if info.status == "enabled" and not info.primary:
                await keys.disable_key(tenant, info.key_id)
    return dict(bundle)


async def upload(tenant: TenantID, ciphertext: Path, source: str, limit: int) -> UUID:
    """Create the import and upload ``ciphertext`` as the streaming upload does."""
    mapping = {"columns": MAPPING_COLUMNS, "source_system": source}
    async with tenant_transaction(tenant):
        row = await import_service.create(
            tenant, kind="facts", format=ImportFormat.CSV, file_name=f"{source}.csv.tink",
            mapping=mapping,
        )  # fmt: skip

    async def body() -> AsyncIterator[bytes]:
        with ciphertext.open("rb") as file:
            while data := file.read(256 * 1024):
                yield data

    await import_service.receive(tenant, row.id, body(), limit=limit)
    return row.id


# Measurements --------------------------------------------------------------------------


@dataclass
class Watch:
    """What the polls saw: when each status was first seen (seconds from the start)."""

    seen: dict[str, float] = field(default_factory=dict)
    rss_samples_mb: list[float] = field(default_factory=list)
    row: Any = None


async def run_and_watch(
    tenant: TenantID, import_id: UUID, worker: Worker, timeout_s: float
) -> tuple[float, Watch]:
    """Start the import and poll it to its end: (import_s, what was seen)."""
    watch = Watch()
    job_pid = worker.job_pid()
    started = time.perf_counter()
    async with tenant_transaction(tenant):
        await import_service.start(
            tenant, import_id, mode=ImportMode.COMMIT, on_error=OnError.ALL_OR_NOTHING
        )
    while True:
        await asyncio.sleep(POLL_S)
        async with tenant_transaction(tenant):
            row = await import_repo.get_import(tenant, import_id)
        elapsed = time.perf_counter() - started
        assert row is not None
        watch.seen.setdefault(row.status.value, round(elapsed, 2))
        rss = _status_kb(job_pid, "VmRSS")
        if rss is not None:
            watch.rss_samples_mb.append(round(rss / 1024, 1))
        if row.status in FINISHED_STATUSES:
            watch.row = row
            return elapsed, watch
        if not worker.alive():
            raise RuntimeError(f"the worker died during the import (status {row.status.value})")
        if elapsed > timeout_s:
            raise RuntimeError(f"the import was still {row.status.value} after {timeout_s:.0f} s")


async def count_facts(tenant: TenantID, source: str) -> int:
    async with tenant_transaction(tenant, statement_timeout_ms=600_000) as tx:
        count: int = await tx.fetchval(
            "SELECT count(*) FROM facts WHERE tenant_id = $1 AND source = $2 "
            "AND superseded_at IS NULL",
            tenant,
            source,
        )
    return count


async def copy_baseline(setup: Setup, plain: Path) -> tuple[float, str]:
    """Seconds of one committed COPY of the plain file into an unindexed table; which kind
    of table it was."""
    url = setup.admin_url or setup.app_url
    temporary = setup.admin_url is None
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"DROP TABLE IF EXISTS {COPY_TABLE}")
        kind = "TEMPORARY" if temporary else ""
        await conn.execute(f"CREATE {kind} TABLE {COPY_TABLE} ({COPY_COLUMNS_SQL})")
        try:
            started = time.perf_counter()
            status = await conn.copy_to_table(
                COPY_TABLE, source=plain, columns=list(HEADERS), format="csv", header=True
            )
            seconds = time.perf_counter() - started
        finally:
            await conn.execute(f"DROP TABLE IF EXISTS {COPY_TABLE}")
    finally:
        await conn.close()
    copied = int(status.rsplit(" ", 1)[-1])
    _progress(f"COPY of {copied} rows: {seconds:.2f} s")
    return seconds, "temporary (no owner URL)" if temporary else "regular, unindexed (owner)"


async def remove_run(setup: Setup, import_id: UUID, source: str) -> None:
    async with tenant_transaction(setup.tenant):
        await import_service.delete(setup.tenant, import_id)
    if setup.admin_url is None:
        return
    conn = await asyncpg.connect(setup.admin_url)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(setup.tenant))
            await conn.execute("ALTER TABLE facts DISABLE TRIGGER facts_append_only")
            await conn.execute(
                "DELETE FROM facts WHERE tenant_id = $1 AND source = $2", setup.tenant, source
            )
            await conn.execute("ALTER TABLE facts ENABLE TRIGGER facts_append_only")
    finally:
        await conn.close()


def _phases(watch: Watch, import_s: float) -> dict[str, Any]:
    seen = watch.seen
    marks = [(status, seen[status]) for status in (
        "queued", "running", "validating", "loading", "succeeded",
    ) if status in seen]  # fmt: skip
    phases: dict[str, Any] = {}
    for (status, at), (_, following) in zip(marks, [*marks[1:], ("end", import_s)], strict=True):
        if status != "succeeded":
            phases[f"{status}_s"] = round(following - at, 2)
    row = watch.row
    if row is not None and row.started_at is not None and row.finished_at is not None:
        phases["worker_started_to_finished_s"] = round(
            (row.finished_at - row.started_at).total_seconds(), 2
        )
    phases["first_seen_s"] = seen
    phases["note"] = f"statuses as polled every {POLL_S} s (progress is written every 0.5 s)"
    return phases


# Run -----------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict[str, Any]:
    home = Path(os.environ.get("RENSHI_HOME") or DEFAULT_HOME)
    settings = Settings(home=home)

    use_redis = args.worker == "dramatiq" or (
        args.worker == "auto" and redis_answers(args.broker_url)
    )
    if args.worker == "dramatiq" and not redis_answers(args.broker_url):
        raise RuntimeError(f"no Redis answers at {args.broker_url}")
    _progress(f"preparing the {'embedded' if settings.embedded else 'external'} database")
    setup = await prepare(settings, args.employees)
    source = f"{SOURCE_PREFIX}{datetime.now(UTC):%Y%m%dT%H%M%S}"
    workdir = Path(tempfile.mkdtemp(prefix="renshi-bench-imports-"))
    worker: Worker | None = None
    await init_orm(setup.app_url, pool_size=2)
    keys = import_keys_from_settings(settings)
    use_import_keys(keys)
    try:
        plain, sealed = workdir / "facts.csv", workdir / "facts.csv.tink"
        _progress(f"writing {args.rows} rows for {len(setup.numbers)} employees")
        started = time.perf_counter()
        plain_bytes = write_csv(plain, args.rows, setup.numbers, seed=SEED)
        generate_s = time.perf_counter() - started
        bundle = load_bundle(json.dumps(await fresh_key(keys, setup.tenant)).encode())
        started = time.perf_counter()
        with plain.open("rb") as source_file, sealed.open("wb") as destination:
            cipher_bytes = encrypt_file(
                bundle.handle, bundle.associated_data, source_file, destination
            )
        encrypt_s = time.perf_counter() - started
        _progress(f"{plain_bytes / 1e6:.1f} MB of CSV, {cipher_bytes / 1e6:.1f} MB encrypted; "
                  "uploading")  # fmt: skip
        started = time.perf_counter()
        import_id = await upload(setup.tenant, sealed, source, settings.import_max_bytes)
        upload_s = time.perf_counter() - started
        sealed.unlink()

        env = worker_env(
            setup.app_url, setup.admin_url, home, args.broker_url if use_redis else None
        )
        if use_redis:
            from workers.broker import start_job_runtime

            start_job_runtime(Settings(home=home, broker_url=args.broker_url))
            worker = DramatiqWorker(env, workdir / "worker.log")
        else:
            profile = Path(args.profile) if args.profile else None
            worker = subprocess_worker = SubprocessWorker(env, profile)
            job_service.set_dispatcher(subprocess_worker.dispatch)
        _progress(f"starting the worker ({worker.kind})")
        await worker.wait_ready()
        await asyncio.sleep(1.0)  # let the forked worker settle (connections, sweeper)
        rss_before = _mb(_status_kb(worker.job_pid(), "VmHWM"))
        job_pid = worker.job_pid()
        server = postmaster_pid(home) if settings.embedded else None
        cpu_before = cpu_by_process(server), process_cpu_s(job_pid)
        _progress(f"importing {args.rows} rows (source {source})")
        timeout_s = max(900.0, args.rows / 1000)
        import_s, watch = await run_and_watch(setup.tenant, import_id, worker, timeout_s)
        cpu = {
            "worker": round(process_cpu_s(job_pid) - cpu_before[1], 1),
            "database": cpu_spent(server, cpu_before[0]),
            "wall": round(import_s, 1),
            "cpus": os.cpu_count(),
        }
        processes = worker.processes()
        job_pid = worker.job_pid()
        peak = processes.get(job_pid)
        timings: dict[str, Any] | None = None
        if isinstance(worker, SubprocessWorker):
            report = await worker.result()
            peak = report["peak_rss_mb"]
            timings = report["timings"]
        row = watch.row
        _progress(f"import {row.status.value} in {import_s:.2f} s; COPY baseline")
        written = await count_facts(setup.tenant, source)
        copy_s, copy_table = await copy_baseline(setup, plain)
        if not args.keep:
            await remove_run(setup, import_id, source)
    finally:
        if worker is not None:
            if isinstance(worker, DramatiqWorker) and worker.alive() is False:
                _progress(worker.tail())
            worker.stop()
        job_service.set_dispatcher(None)
        use_import_keys(None)
        await close_orm()
        shutil.rmtree(workdir, ignore_errors=True)

    rows_per_s = round(args.rows / import_s)
    ratio = round(import_s / copy_s, 2)
    succeeded = row.status == ImportStatus.SUCCEEDED and written == args.rows
    meets = (
        succeeded
        and rows_per_s >= GOAL["rows_per_s_min"]
        and ratio <= GOAL["ratio_max"]
        and peak is not None
        and peak <= GOAL["worker_peak_rss_mb_max"]
    )
    return {
        "rows": args.rows,
        "import_s": round(import_s, 2),
        "rows_per_s": rows_per_s,
        "worker_peak_rss_mb": peak,
        "copy_s": round(copy_s, 2),
        "ratio": ratio,
        "goal": GOAL,
        "meets_goal": meets,
        "bytes": cipher_bytes,
        "plain_bytes": plain_bytes,
        "bytes_per_row": round(plain_bytes / args.rows, 1),
        "status": row.status.value,
        "rows_written": row.rows_written,
        "facts_counted": written,
        "error": row.error_message,
        "worker": worker.kind,
        "phases": _phases(watch, import_s),
        "timings": timings,
        "summary": row.summary,
        "worker_rss_before_mb": rss_before,
        "cpu_s": json_safe(cpu),
        "worker_rss_polled_max_mb": max(watch.rss_samples_mb, default=None),
        "worker_processes": {str(pid): mb for pid, mb in processes.items()},
        "copy_table": copy_table,
        "generate_s": round(generate_s, 2),
        "encrypt_s": round(encrypt_s, 2),
        "upload_s": round(upload_s, 2),
        "chunks": row.chunk_count,
        "source": source,
        "kept": args.keep,
        "purged": setup.purged,
        "tenant": SLUG,
        "employees": len(setup.numbers),
        "built": setup.built,
        "build_s": setup.build_s,
        "analyzed": setup.analyzed,
        "database": "embedded" if settings.embedded else "external",
        "bench_peak_rss_mb": _own_peak_mb(),
        "cpus": os.cpu_count(),
    }


def render_table(report: dict[str, Any]) -> str:
    verdict = "met" if report["meets_goal"] else "MISSED"
    phases = ", ".join(
        f"{name} {value}"
        for name, value in report["phases"].items()
        if name.endswith("_s") and not isinstance(value, dict)
    )
    return "\n".join(
        [
            f"tenant {report['tenant']}: {report['employees']} employees"
            + (f" (built in {report['build_s']} s)" if report["built"] else ""),
            f"{report['rows']} rows, {report['plain_bytes'] / 1e6:.1f} MB of CSV, "
            f"{report['bytes'] / 1e6:.1f} MB encrypted; worker {report['worker']}",
            f"import {report['status']} in {report['import_s']} s: {report['rows_per_s']} rows/s, "
            f"worker peak RSS {report['worker_peak_rss_mb']} MB "
            f"({report['worker_rss_before_mb']} MB before)",
            f"phases: {phases}",
            f"COPY of the same rows {report['copy_s']} s; ratio {report['ratio']}",
            f"goal {report['goal']}: {verdict}",
        ]
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.imports",
        description="An encrypted CSV of facts imported end to end by a worker process.",
    )
    parser.add_argument("--rows", type=int, default=ROWS, help="data rows in the file")
    parser.add_argument(
        "--worker",
        choices=("auto", "dramatiq", "subprocess"),
        default="auto",
        help="dramatiq over Redis when one answers (auto), or a job subprocess",
    )
    parser.add_argument(
        "--broker-url", default=DEFAULT_BROKER_URL, help="the Redis of the dramatiq worker"
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="subprocess worker only: cProfile the job's threads into DIR (slower)",
    )
    parser.add_argument(
        "--employees",
        type=int,
        default=EMPLOYEES,
        help=f"people in {SLUG} when it is built (an existing tenant is reused as it is)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the run's facts and import (until the next run)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--check", action="store_true", help="exit 1 when the goal is missed")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("need --rows >= 1")
    if args.profile and args.worker == "dramatiq":
        parser.error("--profile needs the subprocess worker")
    if args.profile:
        args.worker = "subprocess"
        args.profile = str(Path(args.profile).resolve())
    return args


# The job subprocess --------------------------------------------------------------------


class Timings:
    """Where the job's time goes, gathered by wrapping a few functions of this process."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.statements: list[tuple[str, float]] = []
        self.in_finish = False
        self.parser: dict[str, float] = {}

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] += seconds
        self.calls[name] += 1

    def report(self) -> dict[str, Any]:
        return {
            "parser_thread": self.parser,
            "job_loop": {
                name: {"s": round(self.seconds[name], 3), "calls": self.calls[name]}
                for name in self.seconds
            },
            "finish_statements": [
                {"sql": sql, "s": round(seconds, 3)} for sql, seconds in self.statements
            ],
        }


def _timed_async(timings: Timings, name: str, function: Any) -> Any:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await function(*args, **kwargs)
        finally:
            timings.add(name, time.perf_counter() - started)

    return wrapper


def instrument(timings: Timings, profile: Path | None) -> None:
    """Wrap the parts of the import whose time counts (this process only)."""
    from domain.imports import facts
    from tenants import scope
    from workers.imports import pipeline

    writer = facts.FactsWriter
    records = writer._records

    def timed_records(self: Any, rows: Any, errors: Any) -> Any:
        started = time.perf_counter()
        try:
            return records(self, rows, errors)
        finally:
            timings.add("stage_records_python", time.perf_counter() - started)

    setattr(writer, "_records", timed_records)  # noqa: B010
    setattr(writer, "write", _timed_async(timings, "stage_write_total", writer.write))  # noqa: B010
    finish = writer.finish

    async def timed_finish(self: Any) -> Any:
        timings.in_finish = True
        started = time.perf_counter()
        try:
            return await finish(self)
        finally:
            timings.in_finish = False
            timings.add("finish_total", time.perf_counter() - started)

    setattr(writer, "finish", timed_finish)  # noqa: B010
    statement = scope.TenantTransaction._run

    async def timed_statement(self: Any, method: str, query: str, args: tuple[Any, ...]) -> Any:
        if not timings.in_finish:
            return await statement(self, method, query, args)
        started = time.perf_counter()
        try:
            return await statement(self, method, query, args)
        finally:
            label = " ".join(query.split())[:70]
            timings.statements.append((label, time.perf_counter() - started))

    setattr(scope.TenantTransaction, "_run", timed_statement)  # noqa: B010
    waited = _timed_async(timings, "wait_for_parser", getattr(pipeline, "get_blocking"))  # noqa: B009
    setattr(pipeline, "get_blocking", waited)  # noqa: B010
    parse = pipeline.Parser.run

    def timed_parse(self: Any, plaintext: Any) -> None:
        profiler = cProfile.Profile() if profile is not None else None
        wall, cpu = time.perf_counter(), time.thread_time()
        if profiler is not None:
            profiler.enable()
        try:
            parse(self, plaintext)
        finally:
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(str(profile / "parser.pstats"))  # type: ignore[operator]
            timings.parser = {
                "wall_s": round(time.perf_counter() - wall, 3),
                "cpu_s": round(time.thread_time() - cpu, 3),
            }

    setattr(pipeline.Parser, "run", timed_parse)  # noqa: B010


async def serve_one_job(profile: Path | None) -> dict[str, Any]:
    """Boot as ``workers.process`` does, say ``ready``, run the one job sent on stdin, and
    end when told to."""
    from domain.people.service import employee_service
    from tenants.crypto.pii import pii_cipher_from_settings
    from tenants.database.runtime import resolve_database
    from tenants.settings import get_settings
    from workers.jobs import run_job
    from workers.kinds import JOB_KINDS

    settings = get_settings()
    urls = await resolve_database(settings)
    await init_orm(urls.app_url, pool_size=max(4, 2 * settings.worker_threads))
    cipher = pii_cipher_from_settings(settings)
    employee_service.use_sealer(cipher)
    use_import_keys(ImportKeys(cipher.keysets))
    timings = Timings()
    instrument(timings, profile)
    try:
        print("ready", flush=True)
        line = await asyncio.to_thread(sys.stdin.readline)
        tenant, job_id = line.split()
        message = JobMessage(
            job_id=UUID(job_id), tenant_id=TenantID(UUID(tenant)), kind="imports.run"
        )
        profiler = cProfile.Profile() if profile is not None else None
        started_cpu = time.process_time()
        if profiler is not None:
            profiler.enable()
        await run_job(JOB_KINDS["imports.run"], message)
        if profiler is not None:
            profiler.disable()
            assert profile is not None
            profiler.dump_stats(str(profile / "job_loop.pstats"))
        process_cpu = time.process_time() - started_cpu
        # Connections stay open until the bench has read the database's CPU time.
        await asyncio.to_thread(sys.stdin.readline)
    finally:
        await close_orm()
    report = timings.report()
    report["process_cpu_s"] = round(process_cpu, 3)
    return {"peak_rss_mb": _mb(_status_kb(os.getpid(), "VmHWM")), "timings": report}


def child_main(argv: Sequence[str]) -> int:
    profile = Path(argv[0]) if argv else None
    if profile is not None:
        profile.mkdir(parents=True, exist_ok=True)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        result = runner.run(serve_one_job(profile))
    if profile is not None:
        for name in ("job_loop", "parser"):
            path = profile / f"{name}.pstats"
            if path.exists():
                text = io.StringIO()
                stats = pstats.Stats(str(path), stream=text)
                stats.sort_stats("cumulative").print_stats(30)
                stats.sort_stats("tottime").print_stats(30)
                (profile / f"{name}.txt").write_text(text.getvalue())
    print(json.dumps(result), flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    if given[:1] == [CHILD_FLAG]:
        return child_main(given[1:])
    args = parse_args(given)
    report = run_report(run(args), as_json=args.json, render=render_table, stopped=_progress)
    if report is None:
        return 130
    failed = report["status"] != "succeeded" or report["facts_counted"] != report["rows"]
    if failed:
        _progress(f"the import did not write every row: {report['error']}")
    return 1 if failed or (args.check and not report["meets_goal"]) else 0


if __name__ == "__main__":
    sys.exit(main())

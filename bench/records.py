"""Reading employee records at scale: pages of the employee list over HTTP on a big tenant.

``python -m bench.records --json`` makes sure the demo tenant ``bench-records`` exists (an
``enterprise_rd`` demo of 5,000 engineers with about 50,000 engagements and 20,000 employee
skills, built once with ``domain.demo.builder.build_demo`` and reused by later runs), starts
the API on one uvicorn worker as ``bench.api`` does, and measures the employee list a
frontend shows: a page of 50 with each person's level, unit, skills and latest appraisal.
It prints one JSON object::

    employees, engagements, employee_skills   rows of the tenant, counted in the database
    list_p50_ms, list_p99_ms                  the page of 50 from one keep-alive connection:
                                              how long a page takes when nothing queues in
                                              front of it (one worker serves one request at
                                              a time, so with 16 connections the median is
                                              mostly the wait behind the other 15)
    list_rps                                  pages per second from 16 connections
    loaded                                    p50 and p99 of those 16 connections
    sql_per_page                              SQL statements one page costs, per page size
                                              (10, 50, 100), from the response's
                                              ``Server-Timing: db;...;desc="statements=N"``;
                                              the larger of the first and the second page
    goal, meets_goal                          at most 6 statements a page and p50 <= 25 ms
    requests, errors, build_s, ...            diagnostics

Latencies, percentiles and the load generator are those of ``bench.api`` (its docstring says
how to read them); rps counts successful responses only.

Setup: with ``DATABASE_URL`` unset the embedded PostgreSQL under ``RENSHI_HOME`` (default
``./var/bench``) is started, provisioned and migrated by this process; otherwise
``DATABASE_URL`` is used and ``DATABASE_ADMIN_URL``, when set, migrates it. The owner role
then ANALYZEs the tables a page reads (a fresh bulk load has no planner statistics until
autovacuum runs); without an owner URL that is skipped and ``analyzed`` says so. The token
is the tenant admin's, issued with the key file under ``RENSHI_HOME``, which the server reads.

Exit status: 0; 1 when any request failed or, with ``--check``, when the goal is missed;
130 when interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.api import (
    DEFAULT_HOME,
    Fixture,
    Server,
    _parse_head,
    generate_load,
    http_request,
    percentile_ms,
    request_bench_status,
    run_report,
    server_env,
)
from domain.demo.builder import build_demo, demo_logins
from tenants import repository as repo
from tenants.authorization import Principal, Role
from tenants.database.migrate import analyze, apply_migrations
from tenants.database.runtime import close_orm, init_orm, resolve_database
from tenants.identity.keys import KeyRing
from tenants.identity.tokens import TokenIssuer
from tenants.scope import TenantID, tenant_transaction
from tenants.settings import Settings

SLUG = "bench-records"
TEMPLATE = "enterprise_rd"
EMPLOYEES = 5000
SEED = 2026
PAGE_SIZE = 50
SQL_PAGE_SIZES = (10, 50, 100)
GOAL = {"sql_per_page_max": 6, "list_p50_ms_max": 25}
PAGE_QUERY = (
    "query Page($first: Int!, $after: String) { employees(first: $first, after: $after) { "
    "edges { node { id employeeNumber name level { code } orgUnit { id name } "
    "skills { level skill { name } } latestAppraisal { period score grade } } } "
    "pageInfo { hasNextPage endCursor } } }"
)
_STATEMENTS = re.compile(rb"statements=(\d+)")
# What one page reads. A bulk load leaves them without planner statistics until autovacuum
# gets to them (never, where it is off), and a plan made for 7 rows where there are 5,000 is
# what would be measured then; the owner analyzes them first, as autovacuum would have.
ANALYZED_TABLES = (
    "tenants", "users", "org_units", "org_unit_managers", "employees", "skills",
    "employee_skills", "engagements", "engagement_skills", "appraisals", "feedback",
)  # fmt: skip


def _progress(message: str) -> None:
    print(f"bench.records: {message}", file=sys.stderr, flush=True)


# Fixture -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    employees: int
    engagements: int
    employee_skills: int
    built: bool
    build_s: float | None
    analyzed: bool


@dataclass(frozen=True)
class DemoTenant:
    fixture: Fixture
    tenant: TenantID
    build_s: float | None  # None: reused
    analyzed: bool


async def demo_tenant(
    settings: Settings,
    *,
    slug: str,
    name: str,
    employees: int,
    facts: bool,
    tables: Sequence[str],
    token_ttl: int,
    prefix: str = "bench.records",
) -> DemoTenant:
    """Reach (and migrate) the database, build demo tenant ``slug`` unless it exists,
    analyze ``tables`` as the owner, and issue a token for its administrator."""
    urls = await resolve_database(settings)
    if urls.admin_url is not None:
        await apply_migrations(urls.admin_url)
    await init_orm(urls.app_url, pool_size=2)
    try:
        ref = await repo.platform_find_tenant_by_slug(slug)
        build_s = None
        if ref is None:
            print(f"{prefix}: building {slug}: {employees} employees (once; later runs reuse "
                  "it)", file=sys.stderr, flush=True)  # fmt: skip
            started = time.perf_counter()
            summary = await build_demo(
                slug=slug, template=TEMPLATE, employees=employees, seed=SEED, name=name,
                facts=facts, periods=False,
            )  # fmt: skip
            build_s = round(time.perf_counter() - started, 2)
            print(f"{prefix}: built in {build_s} s: {summary.counts}", file=sys.stderr, flush=True)
            tenant = summary.tenant_id
        else:
            print(f"{prefix}: reusing {slug}", file=sys.stderr, flush=True)
            tenant = TenantID(ref.id)
        admin_email = next(x.email for x in demo_logins(TEMPLATE) if x.role == Role.ADMIN.value)
        async with tenant_transaction(tenant):
            admin = await repo.get_user_by_email(tenant, admin_email)
        if admin is None:
            raise RuntimeError(f"tenant {slug!r} exists but has no {admin_email}: not a demo")
    finally:
        await close_orm()
    if urls.admin_url is not None:
        await analyze(urls.admin_url, tables)
    else:
        print(f"{prefix}: no DATABASE_ADMIN_URL: tables not analyzed, plans may be for stale "
              "statistics", file=sys.stderr, flush=True)  # fmt: skip
    issuer = TokenIssuer(KeyRing(settings), issuer=settings.issuer, audience=settings.audience)
    principal = Principal(
        tenant_id=tenant, subject_id=admin.id, kind="user", roles=frozenset({Role.ADMIN})
    )
    fixture = Fixture(
        app_url=urls.app_url,
        admin_url=urls.admin_url,
        database="embedded" if settings.embedded else "external",
        email=admin.email,
        token=issuer.issue(principal, ttl=token_ttl).token,
    )
    return DemoTenant(fixture, tenant, build_s, urls.admin_url is not None)


async def prepare(settings: Settings, *, employees: int, token_ttl: int) -> tuple[Fixture, Dataset]:
    """The records tenant (records only: this benchmark reads people, not scores) and its
    counts."""
    demo = await demo_tenant(
        settings, slug=SLUG, name="Bench Records", employees=employees, facts=False,
        tables=ANALYZED_TABLES, token_ttl=token_ttl,
    )  # fmt: skip
    await init_orm(demo.fixture.app_url, pool_size=1)
    try:
        async with tenant_transaction(demo.tenant) as tx:
            counts = await tx.fetchrow(
                "SELECT (SELECT count(*) FROM employees WHERE tenant_id = $1) AS employees, "
                "(SELECT count(*) FROM engagements WHERE tenant_id = $1) AS engagements, "
                "(SELECT count(*) FROM employee_skills WHERE tenant_id = $1) AS employee_skills",
                demo.tenant,
            )
    finally:
        await close_orm()
    dataset = Dataset(
        employees=counts["employees"],
        engagements=counts["engagements"],
        employee_skills=counts["employee_skills"],
        built=demo.build_s is not None,
        build_s=demo.build_s,
        analyzed=demo.analyzed,
    )
    return demo.fixture, dataset


# Requests ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    status: int
    head: bytes
    body: bytes

    @property
    def statements(self) -> int | None:
        match = _STATEMENTS.search(self.head)
        return int(match.group(1)) if match is not None else None

    def document(self) -> dict[str, Any]:
        try:
            parsed: dict[str, Any] = json.loads(self.body)
        except ValueError as exc:
            raise RuntimeError(f"not JSON ({self.status}): {self.body[:300]!r}") from exc
        return parsed

    def data(self, field: str) -> dict[str, Any]:
        """The root ``field`` of a successful GraphQL answer; raises otherwise."""
        document = self.document()
        if self.status != 200 or document.get("errors"):
            raise RuntimeError(f"{field}: {self.status} {self.body[:1500]!r}")
        found: dict[str, Any] = document["data"][field]
        return found


def graphql_request(
    port: int, token: str, query: str, operation: str, variables: dict[str, Any]
) -> bytes:
    """A POST of one GraphQL operation as ``token``'s bearer."""
    body = json.dumps({"query": query, "operationName": operation, "variables": variables}).encode()
    return http_request(
        "POST", "/graphql", port, body=body, headers=[f"authorization: Bearer {token}"]
    )


async def exchange(port: int, request: bytes) -> Response:
    """One request on a fresh connection, keeping the response head (for Server-Timing)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        head = (await reader.readuntil(b"\r\n\r\n"))[:-4]
        status, length = _parse_head(head)
        return Response(status, head, await reader.readexactly(length))
    finally:
        writer.close()


def page_request(port: int, token: str, query: str, first: int, after: str | None) -> bytes:
    return graphql_request(port, token, query, "Page", {"first": first, "after": after})


def page_of(response: Response, first: int) -> dict[str, Any]:
    """The connection of a successful page of ``first`` employees; raises otherwise."""
    connection = response.data("employees")
    if len(connection["edges"]) != first:
        raise RuntimeError(f"page of {first}: {len(connection['edges'])} employees")
    return connection


async def statements_per_page(port: int, token: str, query: str) -> dict[str, int | None]:
    """Statements of the first and the second page of each size: the larger of the two."""
    found: dict[str, int | None] = {}
    for first in SQL_PAGE_SIZES:
        counts = []
        after = None
        for _ in range(2):
            response = await exchange(port, page_request(port, token, query, first, after))
            after = page_of(response, first)["pageInfo"]["endCursor"]
            counts.append(response.statements)
        known = [count for count in counts if count is not None]
        found[str(first)] = max(known) if known else None
    return found


# Run -----------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict[str, Any]:
    home = Path(os.environ.get("RENSHI_HOME") or DEFAULT_HOME)
    settings = Settings(home=home)

    _progress(f"preparing the {'embedded' if settings.embedded else 'external'} database")
    ttl = max(3600, int(2 * (args.warmup + args.duration)) + 600)
    fixture, dataset = await prepare(settings, employees=args.employees, token_ttl=ttl)
    server = Server("graphql", "api.app:create_app", server_env(settings, fixture))
    try:
        await server.wait_ready("/healthz")
        query = PAGE_QUERY
        first_page = page_request(server.port, fixture.token, query, PAGE_SIZE, None)
        page_of(await exchange(server.port, first_page), PAGE_SIZE)
        sql = await statements_per_page(server.port, fixture.token, query)
        _progress(
            f"{args.warmup:g} s warm-up, {args.duration:g} s measured, "
            f"{args.connections} connections, pages of {PAGE_SIZE}"
        )
        result = await generate_load(
            server.port,
            page_request(server.port, fixture.token, query, PAGE_SIZE, None),
            connections=args.connections,
            warmup_s=args.warmup,
            duration_s=args.duration,
            server_pid=server.process.pid,
        )
        # One connection: the time one page takes when nothing queues in front of it.
        alone = await generate_load(
            server.port,
            page_request(server.port, fixture.token, query, PAGE_SIZE, None),
            connections=1,
            warmup_s=args.warmup,
            duration_s=args.single_duration,
        )
        if server.process.poll() is not None:
            raise RuntimeError("the server died during the run")
    finally:
        server.stop()

    p50 = percentile_ms(alone.latencies, 50)
    known_sql = [count for count in sql.values() if count is not None]
    within = (
        len(known_sql) == len(sql)
        and max(known_sql) <= GOAL["sql_per_page_max"]
        and p50 <= GOAL["list_p50_ms_max"]
        and result.errors == 0
    )
    served = len(result.latencies)
    return {
        "employees": dataset.employees,
        "engagements": dataset.engagements,
        "employee_skills": dataset.employee_skills,
        "list_p50_ms": p50,
        "list_p99_ms": percentile_ms(alone.latencies, 99),
        "list_rps": round(served / args.duration, 1),
        "loaded": {
            "connections": args.connections,
            "p50_ms": percentile_ms(result.latencies, 50),
            "p99_ms": percentile_ms(result.latencies, 99),
        },
        "sql_per_page": sql,
        "goal": GOAL,
        "meets_goal": within,
        "page_size": PAGE_SIZE,
        "requests": result.requests,
        "errors": result.errors + alone.errors,
        "server_cpu_ms_per_request": (
            round(1000 * result.server_cpu_s / served, 3) if served else math.nan
        ),
        "loadgen_cpu_percent": round(100 * result.client_cpu_s / args.duration, 1),
        "connections": args.connections,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "tenant": SLUG,
        "built": dataset.built,
        "build_s": dataset.build_s,
        "analyzed": dataset.analyzed,
        "database": fixture.database,
        "workers": 1,
        "cpus": os.cpu_count(),
    }


def render_table(report: dict[str, Any]) -> str:
    sql = ", ".join(f"{size}: {count}" for size, count in report["sql_per_page"].items())
    verdict = "met" if report["meets_goal"] else "MISSED"
    return "\n".join(
        [
            f"tenant {report['tenant']}: {report['employees']} employees, "
            f"{report['engagements']} engagements, {report['employee_skills']} employee skills"
            + (f" (built in {report['build_s']} s)" if report["built"] else ""),
            f"page of {report['page_size']}, one connection: p50 {report['list_p50_ms']} ms, "
            f"p99 {report['list_p99_ms']} ms; {report['loaded']['connections']} connections: "
            f"{report['list_rps']} rps, p50 {report['loaded']['p50_ms']} ms; "
            f"{report['errors']} errors",
            f"SQL statements per page by size: {sql}",
            f"goal {report['goal']}: {verdict}",
        ]
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.records",
        description="The employee list over HTTP on a 5,000-person demo tenant.",
    )
    parser.add_argument(
        "--duration", type=float, default=10.0, help="measured seconds with all connections"
    )
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds first")
    parser.add_argument(
        "--single-duration",
        type=float,
        default=15.0,
        help="measured seconds of the one-connection run that follows (list_p50_ms)",
    )
    parser.add_argument(
        "--employees",
        type=int,
        default=EMPLOYEES,
        help=f"people in {SLUG} when it is built (an existing tenant is reused as it is)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--check", action="store_true", help="exit 1 when the goal is missed")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.single_duration <= 0 or args.warmup < 0:
        parser.error("need --duration > 0, --single-duration > 0 and --warmup >= 0")
    if args.connections < 1:
        parser.error("need --connections >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report = run_report(run(args), as_json=args.json, render=render_table, stopped=_progress)
    return request_bench_status(report, check=args.check, progress=_progress)


if __name__ == "__main__":
    sys.exit(main())

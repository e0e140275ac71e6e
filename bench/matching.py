"""Capability matching at scale: ``matchCandidates`` over HTTP on a 5,000-person tenant.

``python -m bench.matching --json`` makes sure the demo tenant ``bench-matching`` exists (an
``enterprise_rd`` demo of 5,000 engineers with two years of facts and work items up to today,
built once with ``domain.demo.builder.build_demo`` and reused by later runs), starts the API
on one uvicorn worker as ``bench.api`` does, and asks what a sales person asks: who can
deliver 3 points needing the tenant's most common skill at level 3 or more within 60 days.
It prints one JSON object::

    employees          people on the tenant's records
    match_p50_ms,      the request from one keep-alive connection: how long an answer takes
    match_p99_ms       when nothing queues in front of it
    qualified          people with the skill at that level (every one of them is predicted)
    candidates         candidates returned (the first page, 20); ``feasible`` of them feasible
    statements         SQL statements one request costs, from ``Server-Timing``, once the
                       capability profiles are current; ``rebuild_statements`` those of the
                       first request, which rebuilt them when the facts had changed
    goal, meets_goal   match_p50_ms <= 200
    requests, errors, build_s, ...   diagnostics

Setup, the token and the exit status are those of ``bench.records`` (its docstring says how).
The first run builds the tenant: a few minutes.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from strawberry import relay

from bench.api import (
    DEFAULT_HOME,
    Server,
    generate_load,
    percentile_ms,
    request_bench_status,
    run_report,
    server_env,
)
from bench.records import Response, demo_tenant, exchange, graphql_request
from domain.demo.builder import LOADED_TABLES
from tenants.database.runtime import close_orm, init_orm
from tenants.scope import TenantID, tenant_transaction
from tenants.settings import Settings

SLUG = "bench-matching"
EMPLOYEES = 5000
MIN_LEVEL = 3
SIZE = 3.0
DEADLINE_DAYS = 60
GOAL = {"match_p50_ms_max": 200}
QUERY = (
    "query Match($input: MatchInput!) { matchCandidates(input: $input) { "
    "earliestFeasibleDate confidence candidates { employee { id name } feasible "
    "finishProbability predictedCycleDays openLoad pace { value n baseline baselineN } "
    "predictedDefectRate { value n baseline baselineN } reasons { en zh } } } }"
)


def _progress(message: str) -> None:
    print(f"bench.matching: {message}", file=sys.stderr, flush=True)


async def common_skill(app_url: str, tenant: TenantID) -> tuple[UUID, int, int]:
    """The skill most people hold at MIN_LEVEL or more: (skill, holders, employees)."""
    await init_orm(app_url, pool_size=1)
    try:
        async with tenant_transaction(tenant) as tx:
            row = await tx.fetchrow(
                "SELECT skill_id, count(*)::int AS holders, "
                "(SELECT count(*)::int FROM employees WHERE tenant_id = $1) AS employees "
                "FROM employee_skills WHERE tenant_id = $1 AND level >= $2 "
                "GROUP BY skill_id ORDER BY count(*) DESC, skill_id LIMIT 1",
                tenant,
                MIN_LEVEL,
            )
    finally:
        await close_orm()
    if row is None:
        raise RuntimeError(f"{SLUG} has no skill held at level {MIN_LEVEL}")
    return row["skill_id"], row["holders"], row["employees"]


def match_request(port: int, token: str, skill: UUID) -> bytes:
    deadline = (datetime.now(UTC) + timedelta(days=DEADLINE_DAYS)).date().isoformat()
    variables = {
        "input": {
            "skills": [
                {"skillId": str(relay.GlobalID("Skill", str(skill))), "minLevel": MIN_LEVEL}
            ],
            "size": SIZE,
            "deadline": deadline,
        }
    }
    return graphql_request(port, token, QUERY, "Match", variables)


def result_of(response: Response) -> dict[str, Any]:
    """The match result of a successful answer; raises otherwise."""
    return response.data("matchCandidates")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    home = Path(os.environ.get("RENSHI_HOME") or DEFAULT_HOME)
    settings = Settings(home=home)

    _progress(f"preparing the {'embedded' if settings.embedded else 'external'} database")
    ttl = max(3600, int(2 * (args.warmup + args.duration)) + 600)
    demo = await demo_tenant(
        settings, slug=SLUG, name="Bench Matching", employees=args.employees, facts=True,
        tables=LOADED_TABLES, token_ttl=ttl, prefix="bench.matching",
    )  # fmt: skip
    skill, qualified, employees = await common_skill(demo.fixture.app_url, demo.tenant)
    server = Server("graphql", "api.app:create_app", server_env(settings, demo.fixture))
    try:
        await server.wait_ready("/healthz")
        request = match_request(server.port, demo.fixture.token, skill)
        first = await exchange(server.port, request)
        result_of(first)
        second = await exchange(server.port, request)
        result = result_of(second)
        _progress(
            f"{qualified} of {employees} people hold the skill at level {MIN_LEVEL}; "
            f"{args.warmup:g} s warm-up, {args.duration:g} s measured from one connection"
        )
        measured = await generate_load(
            server.port,
            request,
            connections=1,
            warmup_s=args.warmup,
            duration_s=args.duration,
            server_pid=server.process.pid,
        )
        if server.process.poll() is not None:
            raise RuntimeError("the server died during the run")
    finally:
        server.stop()
    p50 = percentile_ms(measured.latencies, 50)
    candidates = result["candidates"]
    return {
        "employees": employees,
        "match_p50_ms": p50,
        "match_p99_ms": percentile_ms(measured.latencies, 99),
        "qualified": qualified,
        "candidates": len(candidates),
        "feasible": sum(1 for c in candidates if c["feasible"]),
        "earliest_feasible_date": result["earliestFeasibleDate"],
        "statements": second.statements,
        "rebuild_statements": first.statements,
        "goal": GOAL,
        "meets_goal": p50 <= GOAL["match_p50_ms_max"] and measured.errors == 0,
        "requests": measured.requests,
        "errors": measured.errors,
        "server_cpu_ms_per_request": (
            round(1000 * measured.server_cpu_s / len(measured.latencies), 3)
            if measured.latencies
            else None
        ),
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "tenant": SLUG,
        "built": demo.build_s is not None,
        "build_s": demo.build_s,
        "analyzed": demo.analyzed,
        "database": demo.fixture.database,
        "workers": 1,
        "cpus": os.cpu_count(),
    }


def render_table(report: dict[str, Any]) -> str:
    verdict = "met" if report["meets_goal"] else "MISSED"
    return "\n".join(
        [
            f"tenant {report['tenant']}: {report['employees']} employees, "
            f"{report['qualified']} with the skill"
            + (f" (built in {report['build_s']} s)" if report["built"] else ""),
            f"matchCandidates p50 {report['match_p50_ms']} ms, p99 {report['match_p99_ms']} ms "
            f"({report['requests']} requests, {report['errors']} errors), "
            f"{report['statements']} statements",
            f"{report['candidates']} candidates, {report['feasible']} feasible; earliest "
            f"feasible date {report['earliest_feasible_date']}",
            f"goal {report['goal']}: {verdict}",
        ]
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.matching",
        description="matchCandidates over HTTP on a 5,000-person demo tenant.",
    )
    parser.add_argument("--duration", type=float, default=15.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds first")
    parser.add_argument(
        "--employees",
        type=int,
        default=EMPLOYEES,
        help=f"people in {SLUG} when it is built (an existing tenant is reused as it is)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--check", action="store_true", help="exit 1 when the goal is missed")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.warmup < 0:
        parser.error("need --duration > 0 and --warmup >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report = run_report(run(args), as_json=args.json, render=render_table, stopped=_progress)
    return request_bench_status(report, check=args.check, progress=_progress)


if __name__ == "__main__":
    sys.exit(main())

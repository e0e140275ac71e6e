"""The R&D dashboard at scale: a year of ``rdDashboard`` against the same aggregates in SQL.

``python -m bench.dashboards --json`` makes sure the tenant ``bench-dashboards-v1`` exists
(built once by ``bench.dashboards_data``: an ``enterprise_rd`` tenant with 289 org units four
levels deep, 5,000 engineers, 200,000 work items and 2,000,000 facts over the 15 months up to
2026-10-31, and closed quarters with scorecards; later runs reuse it), starts the API on one
uvicorn worker as ``bench.api`` does, and asks what an HR user's browser asks: the whole R&D
dashboard (every panel) for the 12 months up to 2026-10-31, grouped by month, with a
before/after around 2026-05-01. Then, after a warm-up (``--warmup``, 3) it alternates
``--runs`` (20) of each of

    dashboard   one ``rdDashboard`` request over HTTP, from the first byte written to the
                last byte read: resolvers, SQL, statistics, JSON encoding and HTTP
    sql         the hand-written statements of ``bench.dashboards_sql`` (one per panel, the
                same filters and scope) run one after the other in one tenant transaction as
                the application role (asyncpg, ``set_config('app.tenant_id', ...)``)

so a shared machine's slow moments fall on both alike, and prints one JSON object::

    employees, work_items, facts     the tenant's rows, counted in the database
    load_s                           how long the tenant's build took (when it was built)
    runs, dashboard_p50_ms, dashboard_p90_ms, sql_p50_ms, sql_p90_ms
    ratio                            dashboard_p50_ms / sql_p50_ms
    goal, meets_goal                 dashboard_p50_ms <= 300 and ratio <= 1.5
    statements, dashboard_db_p50_ms  SQL statements one dashboard request ran and the time it
                                     spent in them (its ``Server-Timing``), the rest being
                                     GraphQL, Python, JSON and HTTP
    sql_statement_p50_ms             each baseline statement's p50: where the SQL time goes
    built, analyzed, database, ...   diagnostics

Before measuring, the bench checks that the dashboard and the SQL agree (per month: on-time
hits and n, late deliveries, complaints and deliveries, cycle-time n, escaped defects and
n; the funnel's four counts) and fails loudly when they don't.

Why uvicorn and HTTP rather than httpx's ASGITransport in this process: the figure is what a
browser waits for, with the server's own event loop and process (the bench's client work and
the SQL baseline do not share its interpreter), and it is how the other API benches measure.

The server keeps no dashboard results (``RENSHI_DASHBOARD_CACHE=0``): each request computes
its dashboard, which is what this bench measures; ``bench.load`` runs with the default.

Setup is that of ``bench.records`` (its docstring says how): the embedded PostgreSQL under
``RENSHI_HOME`` (``./var/bench``) unless ``DATABASE_URL`` names a server, migrated with
``DATABASE_ADMIN_URL`` when set. The owner role vacuums and analyzes the loaded tables on
every run (``analyzed`` says whether it could); the token is the HR user's, issued with the
key file under ``RENSHI_HOME``. The first run builds the tenant (about five minutes on the
2-core development machine; ``load_s`` says how long it took), later runs reuse it.

Exit status: 0; 1 when the dashboard fails or disagrees with the SQL, or, with ``--check``,
when the goal is missed; 130 when interrupted.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from bench import dashboards_data as data
from bench.api import DEFAULT_HOME, Fixture, Server, run_report, server_env
from bench.dashboards_sql import Panels, run_panels
from bench.records import Response, exchange, graphql_request
from tenants import repository as repo
from tenants.authorization import Principal, Role
from tenants.database.migrate import apply_migrations
from tenants.database.runtime import close_orm, init_orm, resolve_database
from tenants.identity.keys import KeyRing
from tenants.identity.tokens import TokenIssuer
from tenants.scope import TenantID, tenant_transaction
from tenants.settings import Settings

GOAL = {"dashboard_p50_ms_max": 300, "ratio_max": 1.5}
_DB_MS = re.compile(rb"db;dur=([0-9.]+)")
WINDOW_DAYS = 90
_GROUP = "group { key labelEn labelZh startsOn }"
QUERY = f"""query Rd($filter: DashboardFilterInput!, $changeOn: Date!, $window: Int!) {{
  rdDashboard(filter: $filter) {{
    onTime {{ {_GROUP} hits n rate people suppressed }}
    lateByCause {{ {_GROUP} late causes {{ cause labelEn labelZh count }} people suppressed }}
    complaints {{ center points {{ {_GROUP} complaints delivered rate lower upper signals
      people suppressed }} }}
    cycleTime {{ {_GROUP} n median p80 people suppressed }}
    escapedDefects {{ {_GROUP} hits n rate people suppressed }}
    beforeAfter(changeOn: $changeOn, windowDays: $window) {{ changeOn windowDays
      before {{ n median p80 people }} after {{ n median p80 people }} u pValue effectSize
      suppressed note {{ en zh }} }}
    scorecardDistribution {{ {_GROUP} n min q1 median q3 max mean people suppressed }}
    capabilityHeatmap {{ skillId skillNameEn skillNameZh level {{ key labelEn labelZh }}
      headCount meanLevel suppressed }}
    funnel {{ requested answeredWithin24h promised deliveredOnTime people suppressed }}
  }}
}}"""


def _progress(message: str) -> None:
    print(f"bench.dashboards: {message}", file=sys.stderr, flush=True)


# Fixture -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    fixture: Fixture
    tenant: TenantID
    employees: int
    work_items: int
    facts: int
    scorecards: int
    load_s: float | None
    built: bool
    analyzed: bool


async def prepare(settings: Settings, args: argparse.Namespace, token_ttl: int) -> Dataset:
    """Reach (and migrate) the database, build the tenant unless it exists, vacuum and
    analyze the loaded tables as the owner, count the rows and issue the HR user's token."""
    data.check_pack()
    urls = await resolve_database(settings)
    if urls.admin_url is not None:
        await apply_migrations(urls.admin_url)
    await init_orm(urls.app_url, pool_size=2)
    try:
        ref = await repo.platform_find_tenant_by_slug(data.SLUG)
        built = ref is None
        if ref is None:
            _progress(f"building {data.SLUG} (once; later runs reuse it)")
            result = await data.build_records(
                employees=args.employees, work_items=args.work_items, facts=args.facts
            )
            tenant = result.tenant
        else:
            _progress(f"reusing {data.SLUG}")
            tenant = TenantID(ref.id)
        # What was loaded must have statistics before the engine scores it, and the
        # dashboard's statements be planned for the rows there are.
        await _vacuum(urls.admin_url, data.LOADED_TABLES)
        async with tenant_transaction(tenant) as tx:
            stage = (await data.bench_state(tenant)).get("stage")
        if stage != "complete":
            _progress("closing the quarters (once)")
            await data.close_quarters(tenant)
            await _vacuum(urls.admin_url, data.RESULT_TABLES)
        async with tenant_transaction(tenant, statement_timeout_ms=60_000) as tx:
            hr = await repo.get_user_by_email(tenant, data.HR_EMAIL)
            row = await tx.fetchrow(
                "SELECT (SELECT count(*) FROM employees WHERE tenant_id = $1) AS employees, "
                "(SELECT count(*) FROM work_items WHERE tenant_id = $1) AS work_items, "
                "(SELECT count(*) FROM facts WHERE tenant_id = $1) AS facts, "
                "(SELECT count(*) FROM scorecards WHERE tenant_id = $1) AS scorecards",
                tenant,
            )
            state = await data.bench_state(tenant)
        if hr is None:
            raise RuntimeError(f"tenant {data.SLUG!r} has no {data.HR_EMAIL}: not this bench's")
    finally:
        await close_orm()
    issuer = TokenIssuer(KeyRing(settings), issuer=settings.issuer, audience=settings.audience)
    principal = Principal(
        tenant_id=tenant, subject_id=hr.id, kind="user", roles=frozenset({Role.HR})
    )
    fixture = Fixture(
        app_url=urls.app_url,
        admin_url=urls.admin_url,
        database="embedded" if settings.embedded else "external",
        email=hr.email,
        token=issuer.issue(principal, ttl=token_ttl).token,
    )
    return Dataset(
        fixture=fixture, tenant=tenant, employees=row["employees"],
        work_items=row["work_items"], facts=row["facts"], scorecards=row["scorecards"],
        load_s=state.get("load_s"), built=built,
        analyzed=urls.admin_url is not None,
    )  # fmt: skip


async def _vacuum(admin_url: str | None, tables: Sequence[str]) -> None:
    """``VACUUM (ANALYZE)`` as the owner, as autovacuum would have done by the time anyone
    looks at a dashboard: planner statistics, and the visibility map without which the
    dashboard's index-only scans fetch every row from the heap after a bulk load. Quick
    when nothing changed since the last run."""
    if admin_url is None:
        _progress("no DATABASE_ADMIN_URL: tables not vacuumed or analyzed, plans may differ")
        return
    conn = await asyncpg.connect(admin_url)
    try:
        # Names are this package's constants; VACUUM takes no parameters.
        await conn.execute(f"VACUUM (ANALYZE) {', '.join(tables)}")
    finally:
        await conn.close()


# Requests ------------------------------------------------------------------------------


def dashboard_request(port: int, token: str) -> bytes:
    variables = {
        "filter": {
            "startsOn": data.PERIOD_START.isoformat(),
            "endsOn": data.PERIOD_END.isoformat(),
            "groupBy": "MONTH",
        },
        "changeOn": data.CHANGE_ON.isoformat(),
        "window": WINDOW_DAYS,
    }
    return graphql_request(port, token, QUERY, "Rd", variables)


def dashboard_of(response: Response) -> dict[str, Any]:
    """The dashboard of a successful answer; raises otherwise."""
    return response.data("rdDashboard")


def response_db_ms(response: Response) -> float | None:
    """The milliseconds the request spent in SQL, from its ``Server-Timing`` header."""
    match = _DB_MS.search(response.head)
    return float(match.group(1)) if match is not None else None


def check_agreement(dashboard: dict[str, Any], panels: Panels) -> dict[str, Any]:
    """Raise unless the dashboard's figures are the SQL's; returns what was compared."""
    keyed = {
        "onTime (hits, n)": (
            {g["group"]["key"]: (g["hits"], g["n"]) for g in dashboard["onTime"]},
            panels.on_time(),
        ),
        "lateByCause late": (
            {g["group"]["key"]: g["late"] for g in dashboard["lateByCause"]},
            panels.late(),
        ),
        "complaints (complaints, delivered)": (
            {p["group"]["key"]: (p["complaints"], p["delivered"])
             for p in dashboard["complaints"]["points"]},
            panels.complaints(),
        ),
        "cycleTime n": (
            {g["group"]["key"]: g["n"] for g in dashboard["cycleTime"]},
            panels.cycle_n(),
        ),
        "escapedDefects (hits, n)": (
            {g["group"]["key"]: (g["hits"], g["n"]) for g in dashboard["escapedDefects"]},
            panels.escaped(),
        ),
    }  # fmt: skip
    problems = [
        f"{name} per month: dashboard {ours} != SQL {theirs}"
        for name, (ours, theirs) in keyed.items()
        if ours != theirs
    ]
    f = dashboard["funnel"]
    funnel = (f["requested"], f["answeredWithin24h"], f["promised"], f["deliveredOnTime"])
    if funnel != panels.funnel():
        problems.append(f"funnel: dashboard {funnel} != SQL {panels.funnel()}")
    if problems:
        raise RuntimeError("the dashboard and the SQL disagree:\n  " + "\n  ".join(problems))
    on_time = keyed["onTime (hits, n)"][0]
    return {
        "months": len(on_time),
        "on_time_hits": sum(hits for hits, _ in on_time.values()),
        "on_time_n": sum(n for _, n in on_time.values()),
        "late": sum(keyed["lateByCause late"][0].values()),
        "cycle_n": sum(keyed["cycleTime n"][0].values()),
        "funnel": list(funnel),
    }


async def sql_once(tenant: TenantID) -> tuple[float, Panels]:
    started = time.perf_counter()
    panels = await run_panels(
        tenant, data.PERIOD_START, data.PERIOD_END, data.CHANGE_ON, WINDOW_DAYS
    )
    return time.perf_counter() - started, panels


async def dashboard_once(port: int, request: bytes) -> tuple[float, Response]:
    started = time.perf_counter()
    response = await exchange(port, request)
    return time.perf_counter() - started, response


def percentile_ms(seconds: Sequence[float], p: float) -> float:
    """Nearest-rank percentile, in milliseconds."""
    if not seconds:
        return math.nan
    ordered = sorted(seconds)
    return round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1000, 1)


# Run -----------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict[str, Any]:
    home = Path(os.environ.get("RENSHI_HOME") or DEFAULT_HOME)
    settings = Settings(home=home)

    _progress(f"preparing the {'embedded' if settings.embedded else 'external'} database")
    dataset = await prepare(settings, args, token_ttl=3600)
    env = server_env(settings, dataset.fixture)
    # Every request asks the same: kept results would measure the check, not the dashboard.
    env["RENSHI_DASHBOARD_CACHE"] = "0"
    server = Server("graphql", "api.app:create_app", env)
    await init_orm(dataset.fixture.app_url, pool_size=1)
    try:
        await server.wait_ready("/healthz")
        request = dashboard_request(server.port, dataset.fixture.token)
        _, first = await dashboard_once(server.port, request)
        _, panels = await sql_once(dataset.tenant)
        compared = check_agreement(dashboard_of(first), panels)
        _progress(f"dashboard and SQL agree ({compared}); {args.warmup} warm-up runs, "
                  f"{args.runs} measured, alternating")  # fmt: skip
        dashboard_s: list[float] = []
        db_s: list[float] = []
        sql_s: list[float] = []
        per_statement: dict[str, list[float]] = {}
        statements: int | None = None
        for index in range(args.warmup + args.runs):
            seconds, response = await dashboard_once(server.port, request)
            dashboard_of(response)
            sql_seconds, panels = await sql_once(dataset.tenant)
            if index >= args.warmup:
                dashboard_s.append(seconds)
                sql_s.append(sql_seconds)
                statements = response.statements
                db_ms = response_db_ms(response)
                if db_ms is not None:
                    db_s.append(db_ms / 1000)
                for name, spent in panels.seconds.items():
                    per_statement.setdefault(name, []).append(spent)
        if server.process.poll() is not None:
            raise RuntimeError("the server died during the run")
    finally:
        server.stop()
        await close_orm()
    dashboard_p50 = percentile_ms(dashboard_s, 50)
    sql_p50 = percentile_ms(sql_s, 50)
    ratio = round(dashboard_p50 / sql_p50, 2)
    return {
        "employees": dataset.employees,
        "work_items": dataset.work_items,
        "facts": dataset.facts,
        "scorecards": dataset.scorecards,
        "load_s": dataset.load_s,
        "runs": args.runs,
        "dashboard_p50_ms": dashboard_p50,
        "dashboard_p90_ms": percentile_ms(dashboard_s, 90),
        "sql_p50_ms": sql_p50,
        "sql_p90_ms": percentile_ms(sql_s, 90),
        "ratio": ratio,
        "goal": GOAL,
        "meets_goal": dashboard_p50 <= GOAL["dashboard_p50_ms_max"] and ratio <= GOAL["ratio_max"],
        "statements": statements,
        "dashboard_db_p50_ms": percentile_ms(db_s, 50),
        "sql_statement_p50_ms": {
            name: percentile_ms(spent, 50) for name, spent in per_statement.items()
        },
        "checked": compared,
        "period": [data.PERIOD_START.isoformat(), data.PERIOD_END.isoformat()],
        "warmup": args.warmup,
        "tenant": data.SLUG,
        "built": dataset.built,
        "analyzed": dataset.analyzed,
        "database": dataset.fixture.database,
        "workers": 1,
        "cpus": os.cpu_count(),
    }


def render_table(report: dict[str, Any]) -> str:
    verdict = "met" if report["meets_goal"] else "MISSED"
    return "\n".join(
        [
            f"tenant {report['tenant']}: {report['employees']} employees, "
            f"{report['work_items']} work items, {report['facts']} facts "
            f"(loaded in {report['load_s']} s{', now' if report['built'] else ''})",
            f"rdDashboard, {report['period'][0]} to {report['period'][1]} by month: "
            f"p50 {report['dashboard_p50_ms']} ms, p90 {report['dashboard_p90_ms']} ms "
            f"({report['runs']} runs; {report['statements']} statements, p50 "
            f"{report['dashboard_db_p50_ms']} ms in SQL)",
            f"hand-written SQL: p50 {report['sql_p50_ms']} ms, p90 {report['sql_p90_ms']} ms; "
            f"ratio {report['ratio']}; per statement {report['sql_statement_p50_ms']}",
            f"goal {report['goal']}: {verdict}",
        ]
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.dashboards",
        description="The R&D dashboard for a year on a 5,000-person tenant, against plain SQL.",
    )
    parser.add_argument("--runs", type=int, default=20, help="measured runs of each")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured runs of each first")
    sizes = "when it is built (an existing tenant is reused as it is)"
    parser.add_argument("--employees", type=int, default=data.EMPLOYEES, help=f"people {sizes}")
    parser.add_argument(
        "--work-items", type=int, default=data.WORK_ITEMS, help=f"work items {sizes}"
    )
    parser.add_argument("--facts", type=int, default=data.FACTS, help=f"facts {sizes}")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--check", action="store_true", help="exit 1 when the goal is missed")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        parser.error("need --runs >= 1 and --warmup >= 0")
    if args.employees < 1000:
        parser.error("need --employees >= 1000 (289 units of at least 3 people)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report = run_report(run(args), as_json=args.json, render=render_table, stopped=_progress)
    if report is None:
        return 130
    return 1 if args.check and not report["meets_goal"] else 0


if __name__ == "__main__":
    sys.exit(main())

"""The ``renshi demo`` command: create the demo tenants and say how to log in to them.

``renshi demo`` builds ``acme`` (an R&D company) and ``sunrise`` (a middle school) unless they
exist already, so running it again is harmless; ``--serve`` then runs the API exactly like
``renshi serve``. ``api.cli`` registers the command through ``add_demo_command``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from domain.demo.builder import (
    LOADED_TABLES,
    DemoLogin,
    build_demo,
    demo_logins,
    existing_demo_logins,
)
from domain.demo.catalogue import DEMO_PASSWORD, MIN_EMPLOYEES, PROFILES, TemplateProfile
from tenants import repository as tenant_repo
from tenants.database.migrate import analyze
from tenants.errors import ErrorCode, ServiceError
from tenants.scope import TenantID, tenant_transaction
from tenants.service import tenant_service
from tenants.settings import Settings

DEFAULT_SEED = 2026


@dataclass
class DemoTenant:
    """What the command reports about one demo tenant."""

    slug: str
    name: str
    template: str
    tenant_id: str
    status: str  # "created" or "exists"
    logins: list[DemoLogin]
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float | None = None


def add_demo_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="create the demo tenants acme and sunrise (unless they exist) and show the logins",
    )
    demo.add_argument(
        "--employees",
        type=_employees,
        help="people in each demo tenant (default: 200 at acme, 80 at sunrise)",
    )
    demo.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="the same seed gives the same data"
    )
    demo.add_argument("--serve", action="store_true", help="then serve the API (`renshi serve`)")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    demo.set_defaults(run=run_demo)


def _employees(text: str) -> int:
    value = int(text)
    if value < MIN_EMPLOYEES:
        raise argparse.ArgumentTypeError(f"a demo needs at least {MIN_EMPLOYEES} employees")
    return value


def run_demo(args: argparse.Namespace, settings: Settings) -> None:
    # Imported here: api.cli imports this module to register the command.
    from api.cli import _serve

    tenants = asyncio.run(_seed(args, settings))
    _report(args, tenants)
    if args.serve:
        _serve(args, settings)


async def _seed(args: argparse.Namespace, settings: Settings) -> list[DemoTenant]:
    from api.cli import _database

    found = []
    async with _database(settings) as urls:
        for profile in PROFILES.values():
            found.append(await _ensure(profile, args.employees or profile.employees, args.seed))
        if urls.admin_url is not None and any(t.status == "created" for t in found):
            # The first pages would otherwise be planned for empty tables until autovacuum
            # comes by; without the owner's URL, autovacuum it is.
            await analyze(urls.admin_url, LOADED_TABLES)
    return found


async def _ensure(profile: TemplateProfile, employees: int, seed: int) -> DemoTenant:
    """Build the demo tenant, or describe the one that has its slug already."""
    ref = await tenant_repo.platform_find_tenant_by_slug(profile.slug)
    if ref is None:
        started = time.perf_counter()
        try:
            summary = await build_demo(
                slug=profile.slug, template=profile.template, employees=employees, seed=seed
            )
        except ServiceError as exc:
            if exc.code != ErrorCode.DUPLICATE:
                raise
            # Another `renshi demo` created it a moment ago: report that one.
            ref = await tenant_repo.platform_find_tenant_by_slug(profile.slug)
            if ref is None:
                raise
        else:
            return DemoTenant(
                slug=profile.slug,
                name=profile.name,
                template=profile.template,
                tenant_id=str(summary.tenant_id),
                status="created",
                logins=summary.logins,
                counts=summary.counts,
                seconds=round(time.perf_counter() - started, 2),
            )
    async with tenant_transaction(ref.id):
        row = await tenant_service.get(ref.id)
    return DemoTenant(
        slug=profile.slug,
        name=row.name,
        template=row.template_code,
        tenant_id=str(ref.id),
        status="exists",
        logins=await _logins_of(ref.id, row.template_code),
    )


async def _logins_of(tenant: TenantID, template: str) -> list[DemoLogin]:
    """The demo logins this tenant has: none when a namesake of another template holds it."""
    if template not in PROFILES:
        return []
    return await existing_demo_logins(tenant, template)


def _report(args: argparse.Namespace, tenants: list[DemoTenant]) -> None:
    url = f"http://{args.host}:{args.port}/graphql"
    if args.json:
        document: dict[str, Any] = {
            "graphql_url": url,
            "password": DEMO_PASSWORD,
            "tenants": [asdict(tenant) for tenant in tenants],
        }
        print(json.dumps(document, ensure_ascii=False), flush=True)
        return
    for tenant in tenants:
        print(f"{tenant.slug}: {tenant.name} ({tenant.template})")
        if tenant.status == "created":
            counts = ", ".join(f"{count} {table}" for table, count in tenant.counts.items())
            print(f"  created in {tenant.seconds} s: {counts}")
        else:
            print("  exists already: skipped")
        if not tenant.logins:
            expected = demo_logins(tenant.template) if tenant.template in PROFILES else []
            emails = ", ".join(login.email for login in expected) or "none"
            print(f"  no demo logins in this tenant (a demo would have: {emails})")
            continue
        print(f"  log in with tenant {tenant.slug!r} and password {DEMO_PASSWORD!r} as:")
        for login in tenant.logins:
            print(f"    {login.email:<28} {login.role}")
    print(f"GraphQL: {url}")
    if not args.serve:
        print("Start the API with `renshi serve` (or run `renshi demo --serve`).")
    sys.stdout.flush()

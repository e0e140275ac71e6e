"""A tenant with data in every area, for the tenant export and deletion tests.

Built through the product's own paths (services, GraphQL, an encrypted import run by the
in-process worker), small but touching every table: the tests check that every table with a
``tenant_id`` holds a row of it, so a table added without data here makes them fail.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from api.runtime import AppRuntime
from domain.imports import repository as import_repo
from domain.indicators.models import TargetAdjustment
from domain.org.service import org_service
from domain.people.models import Employee
from domain.templates.onboarding import provision_pack
from domain.work import profiles
from domain.work.matching import DEFECT_KIND, PACE_KIND
from tenants.models import Tenant, User
from tenants.scope import require_tenant, tenant_transaction
from tests.factories import PASSWORD, create_api_client, create_tenant, create_user, tenant_id
from tests.factories import user_token as issue_token
from tests.factories_indicators import create_period, on_time, recompute, record_facts
from tests.factories_records import (
    create_appraisal,
    create_employee,
    create_engagement,
    create_org_unit,
    create_skill,
    give_feedback,
    set_skill,
)
from tests.factories_work import delivered_requirement
from tests.support.graphql import GraphQLClient
from tests.support.imports import ImportClient

LOGIN = """mutation($t: String!, $e: String!, $p: String!) { login(tenant: $t, email: $e, password: $p) {
  __typename ... on LoginPayload { accessToken refreshToken } } }"""


@dataclass(frozen=True)
class TenantData:
    tenant: Tenant
    admin: User
    person: Employee
    national_id: str  # the person's, sealed in the database
    imported_national_id: str  # a person's from the import, sealed on the way in


def _national_id() -> str:
    """A valid, random mainland resident id: area, birth date, sequence, check character."""
    body = "11010519900101" + "".join(secrets.choice("0123456789") for _ in range(3))
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


async def tenant_with_data(
    gql: GraphQLClient, http: httpx.AsyncClient, runtime: AppRuntime, superuser: asyncpg.Connection
) -> TenantData:
    tenant = await create_tenant(name="Lifecycle Org")
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        await provision_pack(tid)  # indicator set and custom field definitions
    email = f"admin-{secrets.token_hex(4)}@example.com"
    admin = await create_user(tenant, roles=("admin",), email=email)
    login = (await gql(LOGIN, {"t": tenant.slug, "e": email, "p": PASSWORD})).ok()["login"]
    assert login["__typename"] == "LoginPayload", login  # a refresh token row
    await create_api_client(tenant, scopes=("users:read",))

    department = await create_org_unit(tenant, name="R&D")
    team = await create_org_unit(tenant, name="Payments", parent=department)
    national_id = _national_id()
    ada = await create_employee(
        tenant, level="senior", org_unit=team, user=admin, national_id=national_id, name="Ada"
    )
    bo = await create_employee(tenant, level="mid", org_unit=team, name="Bo")
    async with tenant_transaction(tid):
        await org_service.add_manager(tid, team.id, ada.id)
    python = await create_skill(tenant, f"Python {secrets.token_hex(2)}")
    await set_skill(tenant, ada, python, 3)
    await create_engagement(tenant, ada, skills=[python])
    await create_appraisal(tenant, ada, score=4)
    await give_feedback(tenant, bo, author=admin)

    # Work items (their rollups and derived facts), then facts, then the period over them.
    await delivered_requirement(tenant, [(ada, 0.5), (bo, 0.5)], ada)
    await record_facts(tenant, ada, "due_item", on_time(3, 1))
    await record_facts(tenant, bo, "due_item", on_time(2, 2))
    period = await create_period(tenant)
    await recompute(tenant, period)
    async with tenant_transaction(tid):
        # As the sustained-quality rule writes them.
        await TargetAdjustment.create(
            tenant_id=tid,
            period_id=period.id,
            rule="sustained_quality",
            rule_kind="sustained_quality",
            indicator="escaped_defect_rate",
            org_unit_id=team.id,
            employee_id=ada.id,
            inputs={"signal": "eight_in_a_row"},
            effect={"target": {"from": 0.1, "to": 0.125}},
            reason_en="quality better than the baseline: the target relaxes",
            reason_zh="质量优于基线：目标放宽",
        )
        today = datetime.now(UTC).date()
        await profiles.current(
            tid,
            ["senior", "mid"],
            today=today,
            since=datetime.now(UTC) - timedelta(days=365),
            kinds=(PACE_KIND, DEFECT_KIND),
        )
        await import_repo.save_profile(
            tid,
            kind="employees",
            name="HR system",
            source_system="hr",
            mapping={"columns": {"Number": "employee_number", "Name": "name"}},
            created_by=admin.id,
        )
        # The notes of the writes above are pruned now and then, which sets a horizon.
        await require_tenant(tid).execute("SELECT work_data_prune($1)", tid)

    # An encrypted import through the API, run by the worker: imports, chunks, a job.
    importer = ImportClient(gql, http, issue_token(runtime.tokens, admin))
    await importer.create_key()
    imported_national_id = _national_id()
    csv = f"employee_number,name,national_id\nIMP-1,Imported Person,{imported_national_id}\n"
    finished = await importer.run("employees", csv.encode())
    assert finished["status"] == "SUCCEEDED", finished
    await _jobs_finished(superuser, tenant)
    return TenantData(
        tenant=tenant,
        admin=admin,
        person=ada,
        national_id=national_id,
        imported_national_id=imported_national_id,
    )


async def _jobs_finished(superuser: asyncpg.Connection, tenant: Tenant) -> None:
    """Wait for the jobs the data set off (recomputations): none may run during a test."""
    deadline = time.monotonic() + 60
    while await superuser.fetchval(
        "SELECT count(*) FROM jobs WHERE tenant_id = $1 AND status NOT IN ('succeeded', 'failed')",
        tenant.id,
    ):
        assert time.monotonic() < deadline, "jobs of the tenant still running after 60 s"
        await asyncio.sleep(0.1)


async def tenant_table_counts(superuser: asyncpg.Connection, tenant: Tenant) -> dict[str, int]:
    """Rows of ``tenant`` in every table with a ``tenant_id`` column, read past RLS."""
    tables = await superuser.fetch(
        "SELECT table_name FROM information_schema.columns c "
        "JOIN information_schema.tables t USING (table_schema, table_name) "
        "WHERE table_schema = current_schema() AND column_name = 'tenant_id' "
        "AND table_type = 'BASE TABLE' ORDER BY table_name"
    )
    counts = {}
    for (name,) in tables:
        counts[name] = await superuser.fetchval(
            f'SELECT count(*) FROM "{name}" WHERE tenant_id = $1',  # noqa: S608
            tenant.id,
        )
    return counts

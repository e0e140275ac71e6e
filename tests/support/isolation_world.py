"""A tenant filled with one object of every node type, fresh objects on demand, and a
snapshot of a tenant's rows as the superuser sees them.

``populate`` gives the ids a probe needs: for each node type (and variant, such as a
``WorkItem`` that is a bug) the id of an object of that tenant, related to each other so that
filters by any of them find something. ``fresh`` creates one more object of a type, for a
mutation that may change or delete it. ``snapshot`` reads every tenant-owned row of a
tenant, bypassing row-level security, so that a test can tell nothing of it changed.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from itertools import count
from uuid import UUID

import asyncpg

from domain.audit.models import AuditEntry
from domain.imports.models import ImportFormat
from domain.imports.service import import_service
from domain.org.service import org_service
from domain.people.models import CustomFieldType
from domain.people.service import custom_field_service
from domain.work.models import FoundIn
from tenants.models import Tenant
from tenants.scope import tenant_transaction
from tests.factories import create_api_client, create_job, create_user, tenant_id
from tests.factories_indicators import (
    create_period,
    on_time,
    recompute,
    record_facts,
    scorecard_of,
)
from tests.factories_records import (
    create_appraisal,
    create_employee,
    create_engagement,
    create_org_unit,
    create_skill,
    give_feedback,
    set_skill,
)
from tests.factories_work import create_item

ObjectKey = tuple[str, str | None]
"""A node type and a variant of it (None: the ordinary object of that type)."""

# Fresh periods take a quarter of their own year each, so they never overlap; fresh facts
# fall before all of them.
_years = count(2000)
OUTSIDE_PERIODS = datetime(1990, 1, 1, 9, tzinfo=UTC)


def _token() -> str:
    return secrets.token_hex(4)


async def populate(tenant: Tenant) -> dict[ObjectKey, UUID]:
    """One object of every node type in ``tenant``, related so that filters find them:
    the employee is in the unit and manages it, has the skill, facts, a scorecard, work."""
    tid = tenant_id(tenant)
    user = await create_user(tenant, roles=("employee",))
    unit = await create_org_unit(tenant)
    await create_org_unit(tenant, kind="team", parent=unit)
    person = await create_employee(tenant, level="senior", org_unit=unit, user=user)
    async with tenant_transaction(tid):
        await org_service.add_manager(tid, unit.id, person.id)
    skill = await create_skill(tenant, f"Skill {_token()}")
    await set_skill(tenant, person, skill, 4)
    engagement = await create_engagement(tenant, person, skills=[skill])
    appraisal = await create_appraisal(tenant, person, score=4)
    feedback = await give_feedback(tenant, person)
    # Facts and work before the period that covers them: a period open at the time would
    # queue a recomputation that runs on its own time, under the snapshots' feet.
    facts = await record_facts(tenant, person, "due_item", on_time(2, 1))
    item = await create_item(
        tenant,
        assignees=[(person, 1.0)],
        requester_id=person.id,
        org_unit_id=unit.id,
    )
    bug = await create_item(
        tenant, "bug", title="Crash on export", linked_item_id=item.id, found_in=FoundIn.TEST
    )
    period = await create_period(tenant)
    await recompute(tenant, period)
    card = await scorecard_of(tenant, period, person)
    async with tenant_transaction(tid):
        field = await custom_field_service.create(
            tid,
            key=f"f_{_token()}",
            label_zh="字段",
            label_en="Field",
            kind=CustomFieldType.STRING,
        )
        upload = await import_service.create(tid, kind="employees", format=ImportFormat.CSV)
        entry = await AuditEntry.filter(entity_id=person.id).first()
    assert entry is not None
    client = await create_api_client(tenant, scopes=("users:read",))
    job = await create_job(tenant)
    return {
        ("Tenant", None): tenant.id,
        ("User", None): user.id,
        ("ApiClient", None): client.client.id,
        ("Job", None): job.id,
        ("OrgUnit", None): unit.id,
        ("Employee", None): person.id,
        ("CustomFieldDefinition", None): field.id,
        ("AuditEntry", None): entry.id,
        ("Skill", None): skill.id,
        ("Engagement", None): engagement.id,
        ("Appraisal", None): appraisal.id,
        ("Feedback", None): feedback.id,
        ("Fact", None): facts[0].id,
        ("Period", None): period.id,
        ("Scorecard", None): card.id,
        ("WorkItem", None): item.id,
        ("WorkItem", "bug"): bug.id,
        ("Import", None): upload.id,
    }


async def fresh(tenant: Tenant, key: ObjectKey) -> UUID:
    """A new object of ``key`` in ``tenant``, for one mutation to change as it likes."""
    creator = _FRESH.get(key)
    assert creator is not None, f"no way to create a fresh {key}"
    return await creator(tenant)


async def _fresh_user(tenant: Tenant) -> UUID:
    return (await create_user(tenant)).id


async def _fresh_api_client(tenant: Tenant) -> UUID:
    return (await create_api_client(tenant, scopes=("users:read",))).client.id


async def _fresh_org_unit(tenant: Tenant) -> UUID:
    return (await create_org_unit(tenant)).id


async def _fresh_employee(tenant: Tenant) -> UUID:
    return (await create_employee(tenant, level="mid")).id


async def _fresh_custom_field(tenant: Tenant) -> UUID:
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        definition = await custom_field_service.create(
            tid, key=f"f_{_token()}", label_zh="字段", label_en="Field", kind=CustomFieldType.STRING
        )
    return definition.id


async def _fresh_skill(tenant: Tenant) -> UUID:
    return (await create_skill(tenant, f"Skill {_token()}")).id


async def _fresh_engagement(tenant: Tenant) -> UUID:
    return (await create_engagement(tenant, await create_employee(tenant))).id


async def _fresh_appraisal(tenant: Tenant) -> UUID:
    return (await create_appraisal(tenant, await create_employee(tenant), score=3)).id


async def _fresh_feedback(tenant: Tenant) -> UUID:
    return (await give_feedback(tenant, await create_employee(tenant))).id


async def _fresh_fact(tenant: Tenant) -> UUID:
    # Outside every period: recording it queues no recomputation.
    person = await create_employee(tenant)
    row = {"value": 1.0, "denominator": 1.0, "at": OUTSIDE_PERIODS}
    return (await record_facts(tenant, person, "due_item", [row]))[0].id


async def _fresh_period(tenant: Tenant) -> UUID:
    year = next(_years)
    period = await create_period(
        tenant,
        code=f"{year}-Q1-{_token()}",
        starts_on=date(year, 1, 1),
        ends_on=date(year, 3, 31),
    )
    return period.id


async def _fresh_scorecard(tenant: Tenant) -> UUID:
    # Everyone with a level is scored, with or without facts.
    person = await create_employee(tenant, level="mid")
    year = next(_years)
    period = await create_period(
        tenant, code=f"{year}-Q1-{_token()}", starts_on=date(year, 1, 1), ends_on=date(year, 3, 31)
    )
    await recompute(tenant, period)
    return (await scorecard_of(tenant, period, person)).id


async def _fresh_work_item(tenant: Tenant) -> UUID:
    return (await create_item(tenant, assignees=[(await create_employee(tenant), 1.0)])).id


async def _fresh_bug(tenant: Tenant) -> UUID:
    return (await create_item(tenant, "bug", title="Crash", found_in=FoundIn.TEST)).id


async def _fresh_import(tenant: Tenant) -> UUID:
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        upload = await import_service.create(tid, kind="employees", format=ImportFormat.CSV)
    return upload.id


_FRESH: dict[ObjectKey, Callable[[Tenant], Awaitable[UUID]]] = {
    ("User", None): _fresh_user,
    ("ApiClient", None): _fresh_api_client,
    ("OrgUnit", None): _fresh_org_unit,
    ("Employee", None): _fresh_employee,
    ("CustomFieldDefinition", None): _fresh_custom_field,
    ("Skill", None): _fresh_skill,
    ("Engagement", None): _fresh_engagement,
    ("Appraisal", None): _fresh_appraisal,
    ("Feedback", None): _fresh_feedback,
    ("Fact", None): _fresh_fact,
    ("Period", None): _fresh_period,
    ("Scorecard", None): _fresh_scorecard,
    ("WorkItem", None): _fresh_work_item,
    ("WorkItem", "bug"): _fresh_bug,
    ("Import", None): _fresh_import,
}


async def tenant_tables(conn: asyncpg.Connection) -> list[str]:
    """Every table of the application with a ``tenant_id`` column."""
    rows = await conn.fetch(
        "SELECT c.table_name FROM information_schema.columns c "
        "JOIN information_schema.tables t USING (table_schema, table_name) "
        "WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id' "
        "AND t.table_type = 'BASE TABLE' ORDER BY 1"
    )
    return [row["table_name"] for row in rows]


async def snapshot(conn: asyncpg.Connection, tenant: UUID) -> dict[str, list[str]]:
    """Every row of ``tenant`` (and its ``tenants`` row), as JSON text, table by table."""
    rows: dict[str, list[str]] = {}
    for table in await tenant_tables(conn):
        # The table name comes from the catalog, not from a caller.
        query = f'SELECT to_jsonb(t)::text AS row FROM "{table}" t WHERE tenant_id = $1 ORDER BY 1'  # noqa: S608
        found = await conn.fetch(query, tenant)
        rows[table] = [r["row"] for r in found]
    own = await conn.fetch("SELECT to_jsonb(t)::text AS row FROM tenants t WHERE id = $1", tenant)
    rows["tenants"] = [r["row"] for r in own]
    return rows

"""Factories for work items: created and moved through the service, as the product does.

Each opens its own tenant transaction. Times default to a fixed, past afternoon so that
derived facts land in a known quarter.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from domain.indicators.models import Fact
from domain.people.models import Employee
from domain.work.derivation import SOURCE
from domain.work.models import Verdict, WorkItem
from domain.work.service import Assignment, WorkItemInput, work_items
from tenants.models import Tenant
from tenants.scope import tenant_transaction
from tests.factories import tenant_id

REQUESTED = datetime(2026, 8, 3, 9, tzinfo=UTC)  # a Monday in 2026-Q3


async def create_item(
    tenant: Tenant,
    kind: str = "requirement",
    *,
    title: str = "Export invoices as PDF",
    assignees: Sequence[tuple[Employee, float]] = (),
    requested_at: datetime = REQUESTED,
    **fields: Any,
) -> WorkItem:
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        return await work_items.create(
            tid,
            WorkItemInput(
                kind=kind,
                title=title,
                requested_at=requested_at,
                assignees=tuple(Assignment(p.id, share) for p, share in assignees),
                **fields,
            ),
        )


async def act(tenant: Tenant, action: str, item: WorkItem | UUID, **arguments: Any) -> WorkItem:
    """Run one service action (``answer``, ``promise``, ``start``, ...) on an item."""
    tid = tenant_id(tenant)
    item_id = item.id if isinstance(item, WorkItem) else item
    async with tenant_transaction(tid):
        result: WorkItem = await getattr(work_items, action)(tid, item_id, **arguments)
        return result


async def delivered_requirement(
    tenant: Tenant,
    people: Sequence[tuple[Employee, float]],
    answerer: Employee,
    *,
    promised_on: date = date(2026, 8, 20),
    started: datetime = REQUESTED + timedelta(days=2),
    delivered: datetime = REQUESTED + timedelta(days=12),
    size: float = 5.0,
) -> WorkItem:
    """A requirement answered after 6 h, promised, started and delivered."""
    item = await create_item(tenant, assignees=people, size=size)
    await act(
        tenant,
        "answer",
        item,
        verdict=Verdict.FEASIBLE,
        by=answerer.id,
        at=REQUESTED + timedelta(hours=6),
    )
    await act(tenant, "promise", item, promised_on=promised_on, at=REQUESTED + timedelta(hours=7))
    await act(tenant, "start", item, at=started)
    return await act(tenant, "deliver", item, at=delivered)


async def derived_facts(
    tenant: Tenant, item: WorkItem, *, include_superseded: bool = False
) -> list[Fact]:
    """The facts an item derived, by kind and person."""
    async with tenant_transaction(tenant_id(tenant)):
        query = Fact.filter(source=SOURCE, external_key__startswith=f"{item.id}:")
        if not include_superseded:
            query = query.filter(superseded_at=None)
        return await query.order_by("kind", "employee_id", "recorded_at")

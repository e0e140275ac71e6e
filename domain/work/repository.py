"""Every query of work items: reading, locking, pages with filters, assignees, linked defects,
and the sales view's figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q, Subquery

from domain.work.models import WorkItem, WorkItemAssignee
from tenants.pagination import Page, paginate
from tenants.scope import TenantID, require_tenant


class DuplicateKeyError(Exception):
    """Another item holds this source's external key."""


async def get_item(tenant: TenantID, item_id: UUID, *, for_update: bool = False) -> WorkItem | None:
    require_tenant(tenant)
    query = WorkItem.filter(id=item_id)
    if for_update:
        query = query.select_for_update()
    return await query.first()


async def items_by_id(tenant: TenantID, item_ids: Sequence[UUID]) -> dict[UUID, WorkItem]:
    require_tenant(tenant)
    return {row.id: row for row in await WorkItem.filter(id__in=list(item_ids))}


async def items_by_external_key(
    tenant: TenantID, source: str, keys: Sequence[str]
) -> dict[str, WorkItem]:
    require_tenant(tenant)
    rows = await WorkItem.filter(source=source, external_key__in=list(keys)).select_for_update()
    return {row.external_key: row for row in rows if row.external_key is not None}


async def insert_item(tenant: TenantID, **values: Any) -> WorkItem:
    require_tenant(tenant)
    try:
        return await WorkItem.create(tenant_id=tenant, **values)
    except IntegrityError as exc:
        raise DuplicateKeyError from exc


async def save_item(tenant: TenantID, item: WorkItem, fields: Sequence[str]) -> None:
    require_tenant(tenant)
    await item.save(update_fields=[*fields, "updated_at"])


async def assignees_of(
    tenant: TenantID, item_ids: Sequence[UUID]
) -> dict[UUID, list[WorkItemAssignee]]:
    """Assignees per item, largest share first, in one statement."""
    require_tenant(tenant)
    found: dict[UUID, list[WorkItemAssignee]] = {item_id: [] for item_id in item_ids}
    rows = await WorkItemAssignee.filter(work_item_id__in=list(item_ids)).order_by(
        "-share", "employee_id"
    )
    for row in rows:
        found.setdefault(row.work_item_id, []).append(row)
    return found


async def replace_assignees(
    tenant: TenantID, item_id: UUID, shares: Sequence[tuple[UUID, float]]
) -> None:
    require_tenant(tenant)
    await WorkItemAssignee.filter(work_item_id=item_id).delete()
    if shares:
        await WorkItemAssignee.bulk_create(
            [
                WorkItemAssignee(
                    tenant_id=tenant, work_item_id=item_id, employee_id=person, share=share
                )
                for person, share in shares
            ]
        )


async def linked_defect_counts(
    tenant: TenantID, item_ids: Sequence[UUID], defect_kinds: Sequence[str]
) -> dict[UUID, int]:
    """Defects (not cancelled) linked to each item."""
    tx = require_tenant(tenant)
    rows = await tx.fetch(
        "SELECT linked_item_id, count(*)::int AS n FROM work_items "
        "WHERE tenant_id = $1 AND linked_item_id = ANY($2::uuid[]) "
        "AND kind = ANY($3::text[]) AND status <> 'cancelled' GROUP BY linked_item_id",
        tenant,
        list(item_ids),
        list(defect_kinds),
    )
    return {row["linked_item_id"]: row["n"] for row in rows}


async def defects_linked_to(tenant: TenantID, item_id: UUID) -> list[WorkItem]:
    require_tenant(tenant)
    return await WorkItem.filter(linked_item_id=item_id).order_by("requested_at", "id")


async def items_linked_to(tenant: TenantID, item_ids: Sequence[UUID]) -> dict[UUID, list[WorkItem]]:
    """Items linked to each of ``item_ids`` (their defects), oldest first, in one statement."""
    require_tenant(tenant)
    found: dict[UUID, list[WorkItem]] = {item_id: [] for item_id in item_ids}
    rows = await WorkItem.filter(linked_item_id__in=list(item_ids)).order_by("requested_at", "id")
    for row in rows:
        if row.linked_item_id is not None:
            found.setdefault(row.linked_item_id, []).append(row)
    return found


@dataclass(frozen=True)
class ItemFilter:
    kinds: Sequence[str] | None = None
    statuses: Sequence[str] | None = None
    requester_id: UUID | None = None
    assignee_id: UUID | None = None
    linked_item_id: UUID | None = None
    overpromised: bool | None = None
    requested_from: datetime | None = None
    requested_before: datetime | None = None
    # Items this person requested or is assigned to (what a caller with "self" reach sees).
    involving: UUID | None = None


async def list_items(
    tenant: TenantID, where: ItemFilter, *, first: int, after: str | None
) -> Page[WorkItem]:
    """A page of items, latest requested first, in one statement."""
    require_tenant(tenant)
    query = WorkItem.filter()
    if where.kinds is not None:
        query = query.filter(kind__in=list(where.kinds))
    if where.statuses is not None:
        query = query.filter(status__in=list(where.statuses))
    if where.requester_id is not None:
        query = query.filter(requester_id=where.requester_id)
    if where.linked_item_id is not None:
        query = query.filter(linked_item_id=where.linked_item_id)
    if where.overpromised is not None:
        query = query.filter(overpromised=where.overpromised)
    if where.requested_from is not None:
        query = query.filter(requested_at__gte=where.requested_from)
    if where.requested_before is not None:
        query = query.filter(requested_at__lt=where.requested_before)
    # tortoise takes a bare values() query in __in as a list of values: wrap it.
    if where.assignee_id is not None:
        assigned = WorkItemAssignee.filter(employee_id=where.assignee_id).values("work_item_id")
        query = query.filter(id__in=Subquery(assigned))
    if where.involving is not None:
        theirs = WorkItemAssignee.filter(employee_id=where.involving).values("work_item_id")
        query = query.filter(Q(requester_id=where.involving) | Q(id__in=Subquery(theirs)))
    return await paginate(query, order_by=("-requested_at", "-id"), first=first, after=after)


# Delivered after the end of the promised day (UTC), as ``derivation.is_late`` says.
LATE = "delivered_at >= ((promised_on + 1)::timestamp AT TIME ZONE 'UTC')"


@dataclass(frozen=True)
class SalesFigures:
    """A requester's (or everyone's) requests: by status, answered within 24 h, promised
    against feasible dates."""

    by_status: dict[str, int]
    answered: int
    answered_within_24h: int
    promised: int
    overpromised: int
    delivered_late: int
    late_by_cause: dict[str, int]


async def sales_figures(
    tenant: TenantID,
    kinds: Sequence[str],
    *,
    requester_id: UUID | None,
    requested_from: datetime | None,
    requested_before: datetime | None,
) -> SalesFigures:
    """Three grouped statements over the requests, whatever their number."""
    tx = require_tenant(tenant)
    where = (
        "tenant_id = $1 AND kind = ANY($2::text[]) "
        "AND ($3::uuid IS NULL OR requester_id = $3) "
        "AND ($4::timestamptz IS NULL OR requested_at >= $4) "
        "AND ($5::timestamptz IS NULL OR requested_at < $5)"
    )
    args = (tenant, list(kinds), requester_id, requested_from, requested_before)
    statuses = await tx.fetch(
        f"SELECT status, count(*)::int AS n FROM work_items WHERE {where} GROUP BY status",  # noqa: S608
        *args,
    )
    row = await tx.fetchrow(
        "SELECT count(answered_at)::int AS answered, "  # noqa: S608 - constants
        "(count(*) FILTER (WHERE answered_at < requested_at + interval '24 hours'))::int "
        "AS within, count(promised_on)::int AS promised, "
        "(count(*) FILTER (WHERE overpromised))::int AS overpromised, "
        f"(count(*) FILTER (WHERE {LATE}))::int AS late "
        f"FROM work_items WHERE {where}",
        *args,
    )
    causes = await tx.fetch(
        "SELECT COALESCE(delay_cause, 'unknown') AS cause, count(*)::int AS n "  # noqa: S608
        f"FROM work_items WHERE {where} AND {LATE} GROUP BY 1",
        *args,
    )
    return SalesFigures(
        by_status={r["status"]: r["n"] for r in statuses},
        answered=row["answered"],
        answered_within_24h=row["within"],
        promised=row["promised"],
        overpromised=row["overpromised"],
        delivered_late=row["late"],
        late_by_cause={r["cause"]: r["n"] for r in causes},
    )

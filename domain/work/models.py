"""Tables of work items: requests, defects, complaints, homework and questions, with assignees.

An item's kind comes from the tenant's pack; its status moves only along the transitions
``domain.work.service`` allows. Timestamps are the facts' source: the facts an item derives
are recomputed from them whenever they change.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.indexes import Index

from tenants.orm import TenantModel


class WorkStatus(StrEnum):
    NEW = "new"
    ANSWERED = "answered"
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DELIVERED = "delivered"
    CLOSED = "closed"
    CANCELLED = "cancelled"


# Items still to be done: what counts as a person's open load.
OPEN_STATUSES = (WorkStatus.NEW, WorkStatus.ANSWERED, WorkStatus.PLANNED, WorkStatus.IN_PROGRESS)


class Verdict(StrEnum):
    FEASIBLE = "feasible"
    NOT_FEASIBLE = "not_feasible"
    NEEDS_CHANGE = "needs_change"


class FoundIn(StrEnum):
    TEST = "test"
    PRODUCTION = "production"


class WorkItem(TenantModel):
    """One piece of work asked for, answered, promised, done and closed."""

    kind = fields.CharField(max_length=63)
    title = fields.CharField(max_length=300)
    # The customer (R&D) or the class (school) it is for.
    customer: str | None = fields.CharField(max_length=200, null=True)  # type: ignore[assignment]
    # Who asked: a person on the records (a sales colleague) or a name (a student).
    requester_id = fields.UUIDField(null=True)
    requester_name: str | None = fields.CharField(max_length=200, null=True)  # type: ignore[assignment]
    org_unit_id = fields.UUIDField(null=True)
    # [{"skillId": ..., "minLevel": 1-5}]
    skills: list[dict[str, Any]] = fields.JSONField(default=list)
    size = fields.FloatField(null=True)
    status = fields.CharEnumField(WorkStatus, max_length=16, default=WorkStatus.NEW)
    requested_at = fields.DatetimeField()
    answered_at = fields.DatetimeField(null=True)
    answered_by = fields.UUIDField(null=True)
    verdict = fields.CharEnumField(Verdict, max_length=16, null=True)
    estimate_days = fields.FloatField(null=True)
    answer_note: str | None = fields.TextField(null=True)
    promised_on = fields.DateField(null=True)
    promised_at = fields.DatetimeField(null=True)
    # The earliest date the system could show as feasible when the date was promised, and
    # whether the promise was earlier than that.
    feasible_on = fields.DateField(null=True)
    overpromised = fields.BooleanField(default=False)
    started_at = fields.DatetimeField(null=True)
    delivered_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)
    cancelled_at = fields.DatetimeField(null=True)
    # Why a late item was late, or (complaints) what caused it.
    delay_cause: str | None = fields.CharField(max_length=32, null=True)  # type: ignore[assignment]
    cause: str | None = fields.CharField(max_length=32, null=True)  # type: ignore[assignment]
    cause_comment: str | None = fields.TextField(null=True)
    # A defect: where it was found and the item it was found in.
    found_in = fields.CharEnumField(FoundIn, max_length=16, null=True)
    linked_item_id = fields.UUIDField(null=True)
    source = fields.CharField(max_length=63, default="api")
    external_key: str | None = fields.CharField(max_length=128, null=True)  # type: ignore[assignment]
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "work_items"
        indexes = (
            Index(fields=("tenant_id", "kind", "status"), name="work_items_status_idx"),
            Index(fields=("tenant_id", "requester_id"), name="work_items_requester_idx"),
            Index(fields=("tenant_id", "linked_item_id"), name="work_items_linked_idx"),
            Index(fields=("tenant_id", "requested_at"), name="work_items_requested_idx"),
        )


class WorkItemAssignee(TenantModel):
    """A person working on an item, with their share of it (shares of an item sum to 1)."""

    work_item: fields.ForeignKeyRelation[WorkItem] = fields.ForeignKeyField(
        "renshi.WorkItem", related_name=False, on_delete=fields.CASCADE, db_index=False
    )
    work_item_id: Any
    employee: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "renshi.Employee", related_name=False, on_delete=fields.CASCADE, db_index=False
    )
    employee_id: Any
    share = fields.FloatField()

    class Meta:
        table = "work_item_assignees"
        unique_together = (("tenant", "work_item", "employee"),)
        indexes = (Index(fields=("tenant_id", "employee_id"), name="work_assignees_employee_idx"),)


class CapabilityProfile(TenantModel):
    """A person's delivery history summarised for matching: ln(days per point) and defects
    per item over the 12 months before ``CapabilityProfileState.window_end``. Rebuilt as a
    whole from the facts when they changed or the day turned (``domain.work.profiles``)."""

    employee: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "renshi.Employee", related_name=False, on_delete=fields.CASCADE, db_index=False
    )
    employee_id: Any
    level = fields.CharField(max_length=63)
    pace_n = fields.IntField()
    pace_mean = fields.FloatField(null=True)
    pace_var = fields.FloatField(null=True)
    defect_n = fields.IntField()
    defect_mean = fields.FloatField(null=True)
    defect_var = fields.FloatField(null=True)

    class Meta:
        table = "capability_profiles"
        unique_together = (("tenant", "employee"),)
        indexes = (Index(fields=("tenant_id", "level"), name="capability_profiles_level_idx"),)


class CapabilityProfileState(TenantModel):
    """What the tenant's profiles were built from: the window's end (exclusive) and the time
    the facts had last changed then."""

    window_end = fields.DateField()
    facts_changed_at = fields.DatetimeField(null=True)
    refreshed_at = fields.DatetimeField()

    class Meta:
        table = "capability_profile_states"
        unique_together = (("tenant",),)

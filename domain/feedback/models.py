"""Feedback on people, from managers and peers to sales, customers, students and parents."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.indexes import Index

from tenants.orm import TenantModel


class FeedbackSource(StrEnum):
    MANAGER = "manager"
    PEER = "peer"
    SUBORDINATE = "subordinate"
    SELF = "self"
    SALES = "sales"
    OTHER_DEPARTMENT = "other_department"
    CUSTOMER = "customer"
    STUDENT = "student"
    PARENT = "parent"


class Feedback(TenantModel):
    """Ratings per criterion (1-5) and a comment about one person.

    Anonymous feedback stores no author at all: nobody, administrators included, can learn
    who gave it, and it is only ever shown inside aggregates of three responses or more.
    """

    subject: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "renshi.Employee", related_name=False, on_delete=fields.CASCADE, db_index=False
    )
    subject_id: Any
    source = fields.CharEnumField(FeedbackSource, max_length=32)
    anonymous = fields.BooleanField(default=False)
    author_user_id = fields.UUIDField(null=True)
    author_label = fields.CharField(max_length=200, null=True)
    ratings: dict[str, int] = fields.JSONField(default=dict)
    comment = fields.TextField(null=True)
    given_at = fields.DatetimeField()
    # The key of the feedback in the system it came from (imports and ERP syncs).
    external_key = fields.CharField(max_length=128, null=True)
    archived_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "feedback"
        unique_together = (("tenant", "external_key"),)
        indexes = (
            Index(fields=("tenant_id", "subject_id", "given_at"), name="feedback_subject_idx"),
        )

"""The job table: one row per long-running piece of work, owned by a tenant."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.indexes import Index

from tenants.orm import TenantModel


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Job(TenantModel):
    """Status, progress, counts and the error report of one job.

    The broker message carries only the job id and tenant id; everything else is here, so
    any worker can pick a job up and a lost message is recovered by the sweeper.
    """

    kind = fields.CharField(max_length=64)
    status = fields.CharEnumField(JobStatus, max_length=16, default=JobStatus.QUEUED)
    payload: dict[str, Any] = fields.JSONField(default=dict)
    total = fields.IntField(null=True)
    processed = fields.IntField(default=0)
    counts: dict[str, int] = fields.JSONField(default=dict)
    error_report: dict[str, Any] | None = fields.JSONField(null=True)
    attempts = fields.IntField(default=0)
    created_by = fields.UUIDField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    enqueued_at = fields.DatetimeField(null=True)
    started_at = fields.DatetimeField(null=True)
    heartbeat_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "jobs"
        indexes = (
            Index(fields=("tenant_id", "created_at"), name="jobs_created_idx"),
            Index(fields=("tenant_id", "status", "enqueued_at"), name="jobs_status_idx"),
        )

"""Imports: one row per uploaded file and its latest run, its ciphertext in chunks, saved
mapping profiles.

The file itself is stored only as the sender's ciphertext, cut into chunks so that any
worker can stream it from PostgreSQL. The reports a run produces (the rows that failed, a
preview of mapped rows) hold pieces of the file, so they are stored encrypted too, as chunks
of their own ``part``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.indexes import Index

from tenants.orm import TenantModel


class ImportStatus(StrEnum):
    AWAITING_UPLOAD = "awaiting_upload"  # created, its file not (completely) uploaded yet
    READY = "ready"  # uploaded; nothing run, or the last run was a preview
    QUEUED = "queued"
    RUNNING = "running"  # a worker took it: decrypting, reading the header
    VALIDATING = "validating"  # reading, mapping and checking rows
    LOADING = "loading"  # writing the checked rows
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_STATUSES = frozenset(
    {ImportStatus.QUEUED, ImportStatus.RUNNING, ImportStatus.VALIDATING, ImportStatus.LOADING}
)


class ImportMode(StrEnum):
    PREVIEW = "preview"  # headers, a suggested mapping and the first rows after mapping
    DRY_RUN = "dry_run"  # everything checked and written inside a transaction rolled back
    COMMIT = "commit"


class OnError(StrEnum):
    ALL_OR_NOTHING = "all_or_nothing"
    SKIP_INVALID = "skip_invalid"


class ImportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    JSONL = "jsonl"


class Import(TenantModel):
    """An uploaded file, how it maps to a kind of record, and its latest run."""

    kind = fields.CharField(max_length=32)
    format = fields.CharEnumField(ImportFormat, max_length=8)
    file_name = fields.CharField(max_length=255, null=True)
    status = fields.CharEnumField(ImportStatus, max_length=16, default=ImportStatus.AWAITING_UPLOAD)
    mode = fields.CharEnumField(ImportMode, max_length=16, null=True)
    on_error = fields.CharEnumField(OnError, max_length=16, default=OnError.ALL_OR_NOTHING)
    mapping: dict[str, Any] = fields.JSONField(default=dict)
    profile = fields.CharField(max_length=63, null=True)
    # The ciphertext as stored: its size, digest and number of chunks.
    byte_size = fields.BigIntField(default=0)
    sha256 = fields.CharField(max_length=64, null=True)
    chunk_count = fields.IntField(default=0)
    # The latest run.
    job_id = fields.UUIDField(null=True)
    run = fields.IntField(default=0)
    cancel_requested = fields.BooleanField(default=False)
    bytes_processed = fields.BigIntField(default=0)
    rows_read = fields.IntField(default=0)
    rows_valid = fields.IntField(default=0)
    rows_invalid = fields.IntField(default=0)
    rows_written = fields.IntField(default=0)
    encoding = fields.CharField(max_length=16, null=True)
    headers: list[str] = fields.JSONField(default=list)
    summary: dict[str, Any] = fields.JSONField(default=dict)
    error_code = fields.CharField(max_length=48, null=True)
    error_message = fields.TextField(null=True)
    error_message_zh = fields.TextField(null=True)
    created_by = fields.UUIDField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    uploaded_at = fields.DatetimeField(null=True)
    started_at = fields.DatetimeField(null=True)
    progress_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "imports"
        indexes = (Index(fields=("tenant_id", "created_at"), name="imports_created_idx"),)


class ImportChunk(TenantModel):
    """One piece of an import's ciphertext (``part`` source) or of an encrypted report."""

    # The import it belongs to (a foreign key with ON DELETE CASCADE, added by the migration:
    # chunks go with their import).
    import_id = fields.UUIDField()
    part = fields.CharField(max_length=8)  # source, errors, preview
    seq = fields.IntField()
    data = fields.BinaryField()

    class Meta:
        table = "import_chunks"
        unique_together = (("tenant", "import_id", "part", "seq"),)


class ImportProfile(TenantModel):
    """A mapping saved for a source system, to be used again for its next exports."""

    name = fields.CharField(max_length=63)
    kind = fields.CharField(max_length=32)
    source_system = fields.CharField(max_length=63, null=True)
    mapping: dict[str, Any] = fields.JSONField()
    created_by = fields.UUIDField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "import_profiles"
        unique_together = (("tenant", "kind", "name"),)

from uuid import uuid4

from orjson import loads
from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise.indexes import Index
from tortoise.migrations import operations as ops
from tortoise.migrations.constraints import UniqueConstraint

from domain.imports.models import ImportFormat, ImportMode, ImportStatus, OnError
from tenants.database.rls import tenant_table


class Migration(migrations.Migration):
    dependencies = [("renshi", "0008_work_items_open_idx")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Import",
            fields=[
                (
                    "id",
                    fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True),
                ),
                (
                    "tenant",
                    fields.ForeignKeyField(
                        "renshi.Tenant",
                        source_field="tenant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("kind", fields.CharField(max_length=32)),
                (
                    "format",
                    fields.CharEnumField(
                        description="CSV: csv\nXLSX: xlsx\nJSONL: jsonl",
                        enum_type=ImportFormat,
                        max_length=8,
                    ),
                ),
                ("file_name", fields.CharField(null=True, max_length=255)),
                (
                    "status",
                    fields.CharEnumField(
                        default=ImportStatus.AWAITING_UPLOAD,
                        description="AWAITING_UPLOAD: awaiting_upload\nREADY: ready\nQUEUED: queued\nRUNNING: running\nVALIDATING: validating\nLOADING: loading\nSUCCEEDED: succeeded\nFAILED: failed\nCANCELLED: cancelled",
                        enum_type=ImportStatus,
                        max_length=16,
                    ),
                ),
                (
                    "mode",
                    fields.CharEnumField(
                        null=True,
                        description="PREVIEW: preview\nDRY_RUN: dry_run\nCOMMIT: commit",
                        enum_type=ImportMode,
                        max_length=16,
                    ),
                ),
                (
                    "on_error",
                    fields.CharEnumField(
                        default=OnError.ALL_OR_NOTHING,
                        description="ALL_OR_NOTHING: all_or_nothing\nSKIP_INVALID: skip_invalid",
                        enum_type=OnError,
                        max_length=16,
                    ),
                ),
                ("mapping", fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ("profile", fields.CharField(null=True, max_length=63)),
                ("byte_size", fields.BigIntField(default=0)),
                ("sha256", fields.CharField(null=True, max_length=64)),
                ("chunk_count", fields.IntField(default=0)),
                ("job_id", fields.UUIDField(null=True)),
                ("run", fields.IntField(default=0)),
                ("cancel_requested", fields.BooleanField(default=False)),
                ("bytes_processed", fields.BigIntField(default=0)),
                ("rows_read", fields.IntField(default=0)),
                ("rows_valid", fields.IntField(default=0)),
                ("rows_invalid", fields.IntField(default=0)),
                ("rows_written", fields.IntField(default=0)),
                ("encoding", fields.CharField(null=True, max_length=16)),
                ("headers", fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ("summary", fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ("error_code", fields.CharField(null=True, max_length=48)),
                ("error_message", fields.TextField(null=True, unique=False)),
                ("error_message_zh", fields.TextField(null=True, unique=False)),
                ("created_by", fields.UUIDField(null=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                (
                    "uploaded_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("started_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                (
                    "progress_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                (
                    "finished_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
            ],
            options={
                "table": "imports",
                "app": "renshi",
                "indexes": [Index(fields=["tenant_id", "created_at"], name="imports_created_idx")],
                "pk_attr": "id",
                "table_description": "An uploaded file, how it maps to a kind of record, and its latest run.",
            },
            bases=["TenantModel"],
        ),
        ops.CreateModel(
            name="ImportChunk",
            fields=[
                (
                    "id",
                    fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True),
                ),
                (
                    "tenant",
                    fields.ForeignKeyField(
                        "renshi.Tenant",
                        source_field="tenant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("import_id", fields.UUIDField()),
                ("part", fields.CharField(max_length=8)),
                ("seq", fields.IntField()),
                ("data", fields.BinaryField()),
            ],
            options={
                "table": "import_chunks",
                "app": "renshi",
                "unique_together": (("tenant", "import_id", "part", "seq"),),
                "pk_attr": "id",
                "table_description": "One piece of an import's ciphertext (``part`` source) or of an encrypted report.",
            },
            bases=["TenantModel"],
        ),
        ops.CreateModel(
            name="ImportProfile",
            fields=[
                (
                    "id",
                    fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True),
                ),
                (
                    "tenant",
                    fields.ForeignKeyField(
                        "renshi.Tenant",
                        source_field="tenant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("name", fields.CharField(max_length=63)),
                ("kind", fields.CharField(max_length=32)),
                ("source_system", fields.CharField(null=True, max_length=63)),
                ("mapping", fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ("created_by", fields.UUIDField(null=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "import_profiles",
                "app": "renshi",
                "unique_together": (("tenant", "kind", "name"),),
                "pk_attr": "id",
                "table_description": "A mapping saved for a source system, to be used again for its next exports.",
            },
            bases=["TenantModel"],
        ),
        ops.AddField(
            model_name="Feedback",
            name="external_key",
            field=fields.CharField(null=True, max_length=128),
        ),
        ops.AddConstraint(
            model_name="Feedback",
            constraint=UniqueConstraint(fields=("tenant", "external_key"), name=None),
        ),
        ops.RunSQL(
            [
                "ALTER TABLE import_chunks ADD CONSTRAINT import_chunks_import_fk "
                "FOREIGN KEY (import_id) REFERENCES imports (id) ON DELETE CASCADE",
            ],
            reverse_sql=["ALTER TABLE import_chunks DROP CONSTRAINT import_chunks_import_fk"],
        ),
        *(tenant_table(table) for table in ("imports", "import_chunks", "import_profiles")),
    ]

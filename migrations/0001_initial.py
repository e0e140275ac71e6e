import functools
from json import dumps, loads
from uuid import uuid4

from tortoise import fields, migrations
from tortoise.contrib.postgres.fields import ArrayField
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from domain.jobs.models import JobStatus
from tenants.database.rls import CURRENT_TENANT, tenant_table
from tenants.models import TenantStatus


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name="Tenant",
            fields=[
                (
                    "id",
                    fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True),
                ),
                ("slug", fields.CharField(unique=True, max_length=63)),
                ("name", fields.CharField(max_length=200)),
                ("template_code", fields.CharField(max_length=63)),
                (
                    "status",
                    fields.CharEnumField(
                        default=TenantStatus.ACTIVE,
                        description="ACTIVE: active\nSUSPENDED: suspended",
                        enum_type=TenantStatus,
                        max_length=16,
                    ),
                ),
                (
                    "settings",
                    fields.JSONField(
                        default=dict,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "tenants",
                "app": "renshi",
                "pk_attr": "id",
                "table_description": "A customer organisation. Its own row is visible only inside its own scope.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ApiClient",
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
                ("client_id", fields.CharField(max_length=120)),
                ("name", fields.CharField(max_length=200)),
                ("secret_hash", fields.CharField(max_length=255)),
                ("scopes", ArrayField(default=list, element_type="TEXT")),
                ("is_active", fields.BooleanField(default=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                (
                    "last_used_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
            ],
            options={
                "table": "api_clients",
                "app": "renshi",
                "unique_together": (("tenant", "client_id"),),
                "pk_attr": "id",
                "table_description": "An integrator's OAuth2 client (client credentials grant), with scopes.",
            },
            bases=["TenantModel"],
        ),
        ops.CreateModel(
            name="Job",
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
                ("kind", fields.CharField(max_length=64)),
                (
                    "status",
                    fields.CharEnumField(
                        default=JobStatus.QUEUED,
                        description="QUEUED: queued\nRUNNING: running\nSUCCEEDED: succeeded\nFAILED: failed",
                        enum_type=JobStatus,
                        max_length=16,
                    ),
                ),
                (
                    "payload",
                    fields.JSONField(
                        default=dict,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("total", fields.IntField(null=True)),
                ("processed", fields.IntField(default=0)),
                (
                    "counts",
                    fields.JSONField(
                        default=dict,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                (
                    "error_report",
                    fields.JSONField(
                        null=True,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("attempts", fields.IntField(default=0)),
                ("created_by", fields.UUIDField(null=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                (
                    "enqueued_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("started_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                (
                    "heartbeat_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                (
                    "finished_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
            ],
            options={
                "table": "jobs",
                "app": "renshi",
                "indexes": [
                    Index(fields=["tenant_id", "created_at"], name="jobs_created_idx"),
                    Index(fields=["tenant_id", "status", "enqueued_at"], name="jobs_status_idx"),
                ],
                "pk_attr": "id",
                "table_description": "Status, progress, counts and the error report of one job.",
            },
            bases=["TenantModel"],
        ),
        ops.CreateModel(
            name="User",
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
                ("email", fields.CharField(max_length=254)),
                ("display_name", fields.CharField(max_length=200)),
                ("password_hash", fields.CharField(null=True, max_length=255)),
                ("roles", ArrayField(default=list, element_type="TEXT")),
                ("is_active", fields.BooleanField(default=True)),
                (
                    "last_login_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "users",
                "app": "renshi",
                "unique_together": (("tenant", "email"),),
                "pk_attr": "id",
                "table_description": "A person who logs in. Email is stored lower-cased and unique per tenant.",
            },
            bases=["TenantModel"],
        ),
        ops.CreateModel(
            name="RefreshToken",
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
                (
                    "user",
                    fields.ForeignKeyField(
                        "renshi.User",
                        source_field="user_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("family_id", fields.UUIDField()),
                ("token_hash", fields.CharField(max_length=64)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("expires_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("used_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("revoked_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "refresh_tokens",
                "app": "renshi",
                "unique_together": (("tenant", "token_hash"),),
                "indexes": [
                    Index(fields=["tenant_id", "family_id"], name="refresh_tokens_family_idx"),
                    Index(fields=["tenant_id", "user_id"], name="refresh_tokens_user_idx"),
                    Index(fields=["tenant_id", "expires_at"], name="refresh_tokens_expiry_idx"),
                ],
                "pk_attr": "id",
                "table_description": "One refresh token of a login session; only its SHA-256 is stored.",
            },
            bases=["TenantModel"],
        ),
        tenant_table("users"),
        tenant_table("refresh_tokens"),
        tenant_table("api_clients"),
        tenant_table("jobs"),
        # A tenant sees its own row; a login may read the one row whose slug it names.
        ops.RunSQL(
            [
                'ALTER TABLE "tenants" ENABLE ROW LEVEL SECURITY',
                'ALTER TABLE "tenants" FORCE ROW LEVEL SECURITY',
                'CREATE POLICY tenant_isolation ON "tenants" '
                f"USING (id = {CURRENT_TENANT}) WITH CHECK (id = {CURRENT_TENANT})",
                'CREATE POLICY tenant_lookup ON "tenants" FOR SELECT '
                "USING (slug = NULLIF(current_setting('app.tenant_slug', true), ''))",
            ],
            reverse_sql=[
                'DROP POLICY IF EXISTS tenant_lookup ON "tenants"',
                'DROP POLICY IF EXISTS tenant_isolation ON "tenants"',
                'ALTER TABLE "tenants" NO FORCE ROW LEVEL SECURITY',
                'ALTER TABLE "tenants" DISABLE ROW LEVEL SECURITY',
            ],
        ),
        # The job sweeper's one cross-tenant read: ids of jobs that look stuck, nothing else.
        # SECURITY DEFINER runs as the owner, which a policy of its own lets read jobs.
        ops.RunSQL(
            [
                'CREATE POLICY platform_owner_read ON "jobs" FOR SELECT TO CURRENT_USER USING (true)',
                """
                CREATE FUNCTION platform_stale_jobs(
                    queued_before timestamptz, running_before timestamptz, max_rows integer
                )
                RETURNS TABLE (job_id uuid, tenant_id uuid, kind varchar)
                LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
                AS $$
                    SELECT j.id, j.tenant_id, j.kind
                    FROM public.jobs j
                    WHERE (j.status = 'queued' AND j.enqueued_at < queued_before)
                       OR (j.status = 'running' AND j.heartbeat_at < running_before)
                    ORDER BY j.enqueued_at
                    LIMIT max_rows
                $$
                """,
            ],
            reverse_sql=[
                "DROP FUNCTION IF EXISTS platform_stale_jobs(timestamptz, timestamptz, integer)",
                'DROP POLICY IF EXISTS platform_owner_read ON "jobs"',
            ],
        ),
    ]

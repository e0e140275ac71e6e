from uuid import uuid4

from orjson import loads
from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from domain.work.models import FoundIn, Verdict, WorkStatus
from tenants.database.rls import tenant_table


class Migration(migrations.Migration):
    dependencies = [("renshi", "0005_scorecard_digest")]

    initial = False

    operations = [
        ops.CreateModel(
            name="WorkItem",
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
                ("kind", fields.CharField(max_length=63)),
                ("title", fields.CharField(max_length=300)),
                ("customer", fields.CharField(null=True, max_length=200)),
                ("requester_id", fields.UUIDField(null=True)),
                ("requester_name", fields.CharField(null=True, max_length=200)),
                ("org_unit_id", fields.UUIDField(null=True)),
                ("skills", fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ("size", fields.FloatField(null=True)),
                (
                    "status",
                    fields.CharEnumField(
                        default=WorkStatus.NEW,
                        description="NEW: new\nANSWERED: answered\nPLANNED: planned\nIN_PROGRESS: in_progress\nDELIVERED: delivered\nCLOSED: closed\nCANCELLED: cancelled",
                        enum_type=WorkStatus,
                        max_length=16,
                    ),
                ),
                ("requested_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                (
                    "answered_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("answered_by", fields.UUIDField(null=True)),
                (
                    "verdict",
                    fields.CharEnumField(
                        null=True,
                        description="FEASIBLE: feasible\nNOT_FEASIBLE: not_feasible\nNEEDS_CHANGE: needs_change",
                        enum_type=Verdict,
                        max_length=16,
                    ),
                ),
                ("estimate_days", fields.FloatField(null=True)),
                ("answer_note", fields.TextField(null=True, unique=False)),
                ("promised_on", fields.DateField(null=True)),
                (
                    "promised_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("feasible_on", fields.DateField(null=True)),
                ("overpromised", fields.BooleanField(default=False)),
                ("started_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                (
                    "delivered_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("closed_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                (
                    "cancelled_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("delay_cause", fields.CharField(null=True, max_length=32)),
                ("cause", fields.CharField(null=True, max_length=32)),
                ("cause_comment", fields.TextField(null=True, unique=False)),
                (
                    "found_in",
                    fields.CharEnumField(
                        null=True,
                        description="TEST: test\nPRODUCTION: production",
                        enum_type=FoundIn,
                        max_length=16,
                    ),
                ),
                ("linked_item_id", fields.UUIDField(null=True)),
                ("source", fields.CharField(default="api", max_length=63)),
                ("external_key", fields.CharField(null=True, max_length=128)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "work_items",
                "app": "renshi",
                "indexes": [
                    Index(fields=["tenant_id", "kind", "status"], name="work_items_status_idx"),
                    Index(fields=["tenant_id", "requester_id"], name="work_items_requester_idx"),
                    Index(fields=["tenant_id", "linked_item_id"], name="work_items_linked_idx"),
                    Index(fields=["tenant_id", "requested_at"], name="work_items_requested_idx"),
                ],
                "pk_attr": "id",
                "table_description": "One piece of work asked for, answered, promised, done and closed.",
            },
            bases=["TenantModel"],
        ),
        ops.CreateModel(
            name="WorkItemAssignee",
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
                    "work_item",
                    fields.ForeignKeyField(
                        "renshi.WorkItem",
                        source_field="work_item_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "employee",
                    fields.ForeignKeyField(
                        "renshi.Employee",
                        source_field="employee_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("share", fields.FloatField()),
            ],
            options={
                "table": "work_item_assignees",
                "app": "renshi",
                "unique_together": (("tenant", "work_item", "employee"),),
                "indexes": [
                    Index(fields=["tenant_id", "employee_id"], name="work_assignees_employee_idx")
                ],
                "pk_attr": "id",
                "table_description": "A person working on an item, with their share of it (shares of an item sum to 1).",
            },
            bases=["TenantModel"],
        ),
        *(tenant_table(table) for table in ("work_items", "work_item_assignees")),
        # A ticket system's or an ERP's key names one item per source.
        ops.RunSQL(
            [
                "CREATE UNIQUE INDEX work_items_external_key_uidx ON work_items "
                "(tenant_id, source, external_key) WHERE external_key IS NOT NULL",
            ],
            reverse_sql=["DROP INDEX IF EXISTS work_items_external_key_uidx"],
        ),
    ]

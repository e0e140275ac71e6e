from uuid import uuid4

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from tenants.database.rls import tenant_table


class Migration(migrations.Migration):
    dependencies = [("renshi", "0006_work_items")]

    initial = False

    operations = [
        ops.CreateModel(
            name="CapabilityProfile",
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
                ("level", fields.CharField(max_length=63)),
                ("pace_n", fields.IntField()),
                ("pace_mean", fields.FloatField(null=True)),
                ("pace_var", fields.FloatField(null=True)),
                ("defect_n", fields.IntField()),
                ("defect_mean", fields.FloatField(null=True)),
                ("defect_var", fields.FloatField(null=True)),
            ],
            options={
                "table": "capability_profiles",
                "app": "renshi",
                "unique_together": (("tenant", "employee"),),
                "indexes": [
                    Index(fields=["tenant_id", "level"], name="capability_profiles_level_idx")
                ],
                "pk_attr": "id",
                "table_description": "A person's delivery history summarised for matching: ln(days per point) and defects",
            },
            bases=["TenantModel"],
        ),
        ops.CreateModel(
            name="CapabilityProfileState",
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
                ("window_end", fields.DateField()),
                (
                    "facts_changed_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("refreshed_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "capability_profile_states",
                "app": "renshi",
                "unique_together": (("tenant",),),
                "pk_attr": "id",
                "table_description": "What the tenant's profiles were built from: the window's end (exclusive) and the time",
            },
            bases=["TenantModel"],
        ),
        ops.CreateModel(
            name="FactChange",
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
                ("changed_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "fact_changes",
                "app": "renshi",
                "unique_together": (("tenant",),),
                "pk_attr": "id",
                "table_description": "When a tenant's facts last changed: summaries made from facts (capability profiles)",
            },
            bases=["TenantModel"],
        ),
        *(
            tenant_table(table)
            for table in ("fact_changes", "capability_profiles", "capability_profile_states")
        ),
    ]

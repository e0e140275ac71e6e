from uuid import uuid4

from orjson import loads
from tortoise import fields, migrations
from tortoise.contrib.postgres.fields import ArrayField
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from domain.feedback.models import FeedbackSource
from domain.history.models import AppraisalSource
from domain.org.models import LtreeField
from domain.people.models import CustomFieldType, EmployeeStatus
from domain.skills.models import SkillSource
from tenants.database.rls import tenant_table


class Migration(migrations.Migration):
    dependencies = [("renshi", "0001_initial")]

    initial = False

    operations = [
        # Org unit paths; a trusted extension, so the database owner may create it.
        ops.RunSQL("CREATE EXTENSION IF NOT EXISTS ltree", reverse_sql="SELECT 1"),
        ops.CreateModel(
            name="AuditEntry",
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
                ("actor_kind", fields.CharField(max_length=16)),
                ("actor_id", fields.UUIDField(null=True)),
                ("actor_label", fields.CharField(null=True, max_length=254)),
                ("entity_type", fields.CharField(max_length=63)),
                ("entity_id", fields.UUIDField()),
                ("action", fields.CharField(max_length=32)),
                ("changes", fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ("request_id", fields.CharField(null=True, max_length=64)),
                ("at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "audit_log",
                "app": "renshi",
                "indexes": [
                    Index(
                        fields=["tenant_id", "entity_type", "entity_id", "at"],
                        name="audit_entity_idx",
                    ),
                    Index(fields=["tenant_id", "at", "id"], name="audit_at_idx"),
                ],
                "pk_attr": "id",
            },
            bases=["TenantModel"],
        ),
        ops.CreateModel(
            name="CustomFieldDefinition",
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
                ("entity", fields.CharField(max_length=32)),
                ("key", fields.CharField(max_length=63)),
                ("label_zh", fields.CharField(max_length=200)),
                ("label_en", fields.CharField(max_length=200)),
                (
                    "type",
                    fields.CharEnumField(
                        description="STRING: string\nNUMBER: number\nDATE: date\nENUM: enum\nBOOLEAN: boolean",
                        enum_type=CustomFieldType,
                        max_length=16,
                    ),
                ),
                ("required", fields.BooleanField(default=False)),
                ("options", fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ("position", fields.IntField(default=0)),
                (
                    "archived_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "custom_field_definitions",
                "app": "renshi",
                "unique_together": (("tenant", "entity", "key"),),
                "pk_attr": "id",
                "table_description": "A field the tenant adds to a record type, validated on every write of that record.",
            },
            bases=["TenantModel"],
        ),
        ops.CreateModel(
            name="OrgUnit",
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
                ("external_key", fields.CharField(null=True, max_length=128)),
                ("name", fields.CharField(max_length=200)),
                ("kind", fields.CharField(max_length=63)),
                (
                    "parent",
                    fields.ForeignKeyField(
                        "renshi.OrgUnit",
                        source_field="parent_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("path", LtreeField(generated=False, null=False, unique=False)),
                (
                    "archived_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "org_units",
                "app": "renshi",
                "unique_together": (("tenant", "external_key"),),
                "indexes": [
                    Index(fields=["tenant_id", "parent_id"], name="org_units_parent_idx"),
                    Index(fields=["tenant_id", "name", "id"], name="org_units_name_idx"),
                ],
                "pk_attr": "id",
                "table_description": "A department or team (in schools: a grade or subject group).",
            },
            bases=["TenantModel"],
        ),
        ops.CreateModel(
            name="Employee",
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
                ("employee_number", fields.CharField(max_length=64)),
                ("name", fields.CharField(max_length=200)),
                ("email", fields.CharField(null=True, max_length=254)),
                ("phone", fields.CharField(null=True, max_length=32)),
                (
                    "org_unit",
                    fields.ForeignKeyField(
                        "renshi.OrgUnit",
                        source_field="org_unit_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("level", fields.CharField(null=True, max_length=63)),
                ("title", fields.CharField(null=True, max_length=200)),
                ("hire_date", fields.DateField(null=True)),
                (
                    "status",
                    fields.CharEnumField(
                        default=EmployeeStatus.ACTIVE,
                        description="ACTIVE: active\nON_LEAVE: on_leave\nLEFT: left",
                        enum_type=EmployeeStatus,
                        max_length=16,
                    ),
                ),
                (
                    "user",
                    fields.ForeignKeyField(
                        "renshi.User",
                        source_field="user_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                (
                    "custom_fields",
                    fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads),
                ),
                ("national_id", fields.BinaryField(null=True)),
                (
                    "archived_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "employees",
                "app": "renshi",
                "unique_together": (
                    ("tenant", "employee_number"),
                    ("tenant", "user"),
                    ("tenant", "national_id"),
                ),
                "indexes": [
                    Index(fields=["tenant_id", "org_unit_id"], name="employees_org_unit_idx"),
                    Index(fields=["tenant_id", "name", "id"], name="employees_name_idx"),
                    Index(fields=["tenant_id", "level"], name="employees_level_idx"),
                ],
                "pk_attr": "id",
                "table_description": "A person on the tenant's records. ``employee_number`` is the external key of imports",
            },
            bases=["TenantModel"],
        ),
        ops.CreateModel(
            name="Appraisal",
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
                ("external_key", fields.CharField(null=True, max_length=128)),
                ("period", fields.CharField(max_length=32)),
                ("period_start", fields.DateField()),
                ("period_end", fields.DateField()),
                ("score", fields.DecimalField(null=True, max_digits=6, decimal_places=2)),
                ("grade", fields.CharField(null=True, max_length=16)),
                ("reviewer", fields.CharField(null=True, max_length=200)),
                ("comments", fields.TextField(null=True, unique=False)),
                (
                    "source",
                    fields.CharEnumField(
                        default=AppraisalSource.ENTERED,
                        description="ENTERED: entered\nIMPORTED: imported",
                        enum_type=AppraisalSource,
                        max_length=16,
                    ),
                ),
                (
                    "archived_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "appraisals",
                "app": "renshi",
                "unique_together": (("tenant", "external_key"),),
                "indexes": [
                    Index(
                        fields=["tenant_id", "employee_id", "period_end"],
                        name="appraisals_employee_idx",
                    )
                ],
                "pk_attr": "id",
                "table_description": "A past evaluation result for one period.",
            },
            bases=["TenantModel"],
        ),
        ops.CreateModel(
            name="Engagement",
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
                ("external_key", fields.CharField(null=True, max_length=128)),
                ("kind", fields.CharField(max_length=63)),
                ("name", fields.CharField(max_length=200)),
                ("role", fields.CharField(null=True, max_length=120)),
                ("started_on", fields.DateField()),
                ("ended_on", fields.DateField(null=True)),
                ("outcomes", fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                (
                    "archived_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "engagements",
                "app": "renshi",
                "unique_together": (("tenant", "external_key"),),
                "indexes": [
                    Index(
                        fields=["tenant_id", "employee_id", "started_on"],
                        name="engagements_employee_idx",
                    )
                ],
                "pk_attr": "id",
                "table_description": "A stretch of work by one person: a project in R&D, a class or a course in a school.",
            },
            bases=["TenantModel"],
        ),
        ops.CreateModel(
            name="Feedback",
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
                    "subject",
                    fields.ForeignKeyField(
                        "renshi.Employee",
                        source_field="subject_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "source",
                    fields.CharEnumField(
                        description="MANAGER: manager\nPEER: peer\nSUBORDINATE: subordinate\nSELF: self\nSALES: sales\nOTHER_DEPARTMENT: other_department\nCUSTOMER: customer\nSTUDENT: student\nPARENT: parent",
                        enum_type=FeedbackSource,
                        max_length=32,
                    ),
                ),
                ("anonymous", fields.BooleanField(default=False)),
                ("author_user_id", fields.UUIDField(null=True)),
                ("author_label", fields.CharField(null=True, max_length=200)),
                ("ratings", fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ("comment", fields.TextField(null=True, unique=False)),
                ("given_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                (
                    "archived_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "feedback",
                "app": "renshi",
                "indexes": [
                    Index(
                        fields=["tenant_id", "subject_id", "given_at"], name="feedback_subject_idx"
                    )
                ],
                "pk_attr": "id",
                "table_description": "Ratings per criterion (1-5) and a comment about one person.",
            },
            bases=["TenantModel"],
        ),
        ops.CreateModel(
            name="OrgUnitManager",
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
                    "org_unit",
                    fields.ForeignKeyField(
                        "renshi.OrgUnit",
                        source_field="org_unit_id",
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
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "org_unit_managers",
                "app": "renshi",
                "unique_together": (("tenant", "org_unit", "employee"),),
                "indexes": [
                    Index(
                        fields=["tenant_id", "employee_id"], name="org_unit_managers_employee_idx"
                    )
                ],
                "pk_attr": "id",
                "table_description": "An employee who manages a unit, and so sees its whole subtree.",
            },
            bases=["TenantModel"],
        ),
        ops.CreateModel(
            name="Skill",
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
                ("external_key", fields.CharField(null=True, max_length=128)),
                ("name", fields.CharField(max_length=120)),
                ("name_key", fields.CharField(max_length=120)),
                ("name_zh", fields.CharField(null=True, max_length=120)),
                ("name_en", fields.CharField(null=True, max_length=120)),
                ("category", fields.CharField(null=True, max_length=120)),
                ("aliases", ArrayField(default=list, element_type="TEXT")),
                (
                    "archived_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "skills",
                "app": "renshi",
                "unique_together": (("tenant", "name_key"), ("tenant", "external_key")),
                "pk_attr": "id",
                "table_description": "A skill of the catalogue. ``name_key`` is the case-folded name, unique per tenant;",
            },
            bases=["TenantModel"],
        ),
        ops.CreateModel(
            name="EmployeeSkill",
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
                (
                    "skill",
                    fields.ForeignKeyField(
                        "renshi.Skill",
                        source_field="skill_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("level", fields.SmallIntField()),
                (
                    "source",
                    fields.CharEnumField(
                        description="SELF: self\nMANAGER: manager\nVERIFIED: verified\nDERIVED: derived",
                        enum_type=SkillSource,
                        max_length=16,
                    ),
                ),
                ("evaluated_on", fields.DateField()),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "employee_skills",
                "app": "renshi",
                "unique_together": (("tenant", "employee", "skill"),),
                "indexes": [
                    Index(
                        fields=["tenant_id", "skill_id", "level"], name="employee_skills_skill_idx"
                    )
                ],
                "pk_attr": "id",
                "table_description": "A person's current level (1-5) in a skill; every change is also an event below.",
            },
            bases=["TenantModel"],
        ),
        ops.CreateModel(
            name="EmployeeSkillEvent",
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
                (
                    "skill",
                    fields.ForeignKeyField(
                        "renshi.Skill",
                        source_field="skill_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("level", fields.SmallIntField(null=True)),
                (
                    "source",
                    fields.CharEnumField(
                        description="SELF: self\nMANAGER: manager\nVERIFIED: verified\nDERIVED: derived",
                        enum_type=SkillSource,
                        max_length=16,
                    ),
                ),
                ("evaluated_on", fields.DateField()),
                ("recorded_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("recorded_by", fields.UUIDField(null=True)),
            ],
            options={
                "table": "employee_skill_events",
                "app": "renshi",
                "indexes": [
                    Index(
                        fields=["tenant_id", "employee_id", "skill_id", "evaluated_on"],
                        name="employee_skill_events_idx",
                    )
                ],
                "pk_attr": "id",
                "table_description": "One change of a person's skill: set to a level, or removed (``level`` null).",
            },
            bases=["TenantModel"],
        ),
        ops.CreateModel(
            name="EngagementSkill",
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
                    "engagement",
                    fields.ForeignKeyField(
                        "renshi.Engagement",
                        source_field="engagement_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "skill",
                    fields.ForeignKeyField(
                        "renshi.Skill",
                        source_field="skill_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
            ],
            options={
                "table": "engagement_skills",
                "app": "renshi",
                "unique_together": (("tenant", "engagement", "skill"),),
                "indexes": [
                    Index(fields=["tenant_id", "skill_id"], name="engagement_skills_skill_idx")
                ],
                "pk_attr": "id",
                "table_description": "A skill used in an engagement.",
            },
            bases=["TenantModel"],
        ),
        ops.CreateModel(
            name="TenantKey",
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
                ("purpose", fields.CharField(max_length=32)),
                ("wrapped_keyset", fields.BinaryField()),
                ("provider", fields.CharField(max_length=32)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "tenant_keys",
                "app": "renshi",
                "unique_together": (("tenant", "purpose"),),
                "pk_attr": "id",
                "table_description": "A tenant's Tink keyset for one purpose (``pii``, ``import``), wrapped by the master key.",
            },
            bases=["TenantModel"],
        ),
        *(
            tenant_table(table)
            for table in (
                "org_units",
                "org_unit_managers",
                "employees",
                "custom_field_definitions",
                "skills",
                "employee_skills",
                "employee_skill_events",
                "engagements",
                "engagement_skills",
                "appraisals",
                "feedback",
                "audit_log",
                "tenant_keys",
            )
        ),
        # History is appended to, never rewritten: not even the application can.
        ops.RunSQL(
            [
                """
                CREATE FUNCTION renshi_refuse_change() RETURNS trigger
                LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME
                        USING ERRCODE = 'insufficient_privilege';
                END
                $$
                """,
                "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
                "FOR EACH ROW EXECUTE FUNCTION renshi_refuse_change()",
                "CREATE TRIGGER employee_skill_events_append_only BEFORE UPDATE ON employee_skill_events "
                "FOR EACH ROW EXECUTE FUNCTION renshi_refuse_change()",
            ],
            reverse_sql=[
                "DROP TRIGGER IF EXISTS employee_skill_events_append_only ON employee_skill_events",
                "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
                "DROP FUNCTION IF EXISTS renshi_refuse_change()",
            ],
        ),
    ]

from uuid import uuid4

from orjson import loads
from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from domain.indicators.models import LineStatus, PeriodStatus, ScorecardStatus
from tenants.database.rls import tenant_table


class Migration(migrations.Migration):
    dependencies = [("renshi", "0002_records")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Fact",
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
                ("kind", fields.CharField(max_length=63)),
                ("occurred_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("value", fields.FloatField()),
                ("denominator", fields.FloatField(null=True)),
                ("source", fields.CharField(max_length=63)),
                ("external_key", fields.CharField(null=True, max_length=128)),
                ("attributes", fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ("recorded_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("recorded_by", fields.UUIDField(null=True)),
                (
                    "superseded_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("superseded_by", fields.UUIDField(null=True)),
                ("correction_of", fields.UUIDField(null=True)),
            ],
            options={
                "table": "facts",
                "app": "renshi",
                "indexes": [
                    Index(
                        fields=["tenant_id", "employee_id", "kind", "occurred_at"],
                        name="facts_employee_idx",
                    )
                ],
                "pk_attr": "id",
                "table_description": "One measurement about one person: a delivered item's cycle days, an answer's hours.",
            },
            bases=["TenantModel"],
        ),
        ops.CreateModel(
            name="IndicatorSet",
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
                ("version", fields.IntField()),
                ("definition", fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ("note", fields.CharField(null=True, max_length=500)),
                ("created_by", fields.UUIDField(null=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "indicator_sets",
                "app": "renshi",
                "unique_together": (("tenant", "version"),),
                "pk_attr": "id",
                "table_description": "One version of a tenant's indicator set (indicators, weights, rules), never edited.",
            },
            bases=["TenantModel"],
        ),
        ops.CreateModel(
            name="Period",
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
                ("code", fields.CharField(max_length=32)),
                ("kind", fields.CharField(max_length=16)),
                ("starts_on", fields.DateField()),
                ("ends_on", fields.DateField()),
                (
                    "status",
                    fields.CharEnumField(
                        default=PeriodStatus.OPEN,
                        description="OPEN: open\nCLOSED: closed",
                        enum_type=PeriodStatus,
                        max_length=16,
                    ),
                ),
                ("indicator_set_version", fields.IntField()),
                (
                    "computed_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("closed_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("closed_by", fields.UUIDField(null=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "periods",
                "app": "renshi",
                "unique_together": (("tenant", "code"),),
                "indexes": [Index(fields=["tenant_id", "starts_on"], name="periods_start_idx")],
                "pk_attr": "id",
                "table_description": "A scoring period: a month, a quarter or a school term, from ``starts_on`` to ``ends_on``.",
            },
            bases=["TenantModel"],
        ),
        ops.CreateModel(
            name="LevelBaseline",
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
                    "period",
                    fields.ForeignKeyField(
                        "renshi.Period",
                        source_field="period_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("indicator", fields.CharField(max_length=63)),
                ("level", fields.CharField(max_length=63)),
                ("value", fields.FloatField(null=True)),
                ("people", fields.IntField()),
                ("facts", fields.IntField()),
                ("low", fields.FloatField(null=True)),
                ("high", fields.FloatField(null=True)),
                ("window_start", fields.DateField()),
                ("window_end", fields.DateField()),
            ],
            options={
                "table": "level_baselines",
                "app": "renshi",
                "unique_together": (("tenant", "period", "indicator", "level"),),
                "pk_attr": "id",
                "table_description": "An indicator's baseline for one level in one period (the level's median of the",
            },
            bases=["TenantModel"],
        ),
        ops.CreateModel(
            name="Scorecard",
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
                    "period",
                    fields.ForeignKeyField(
                        "renshi.Period",
                        source_field="period_id",
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
                ("level", fields.CharField(max_length=63)),
                ("org_unit_id", fields.UUIDField(null=True)),
                (
                    "status",
                    fields.CharEnumField(
                        description="SCORED: scored\nINSUFFICIENT_DATA: insufficient_data",
                        enum_type=ScorecardStatus,
                        max_length=32,
                    ),
                ),
                ("indicator_total", fields.FloatField(null=True)),
                ("review_points", fields.FloatField(null=True)),
                ("review_responses", fields.IntField(default=0)),
                ("blended_total", fields.FloatField(null=True)),
                ("adjustment", fields.FloatField(default=0)),
                ("adjustment_comment", fields.TextField(null=True, unique=False)),
                ("adjusted_by", fields.UUIDField(null=True)),
                (
                    "adjusted_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("total", fields.FloatField(null=True)),
                ("percentile", fields.FloatField(null=True)),
                ("scored_weight", fields.FloatField()),
                ("details", fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ("indicator_set_version", fields.IntField()),
                ("computed_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "scorecards",
                "app": "renshi",
                "unique_together": (("tenant", "period", "employee"),),
                "indexes": [
                    Index(
                        fields=["tenant_id", "period_id", "level", "total"],
                        name="scorecards_level_idx",
                    ),
                    Index(fields=["tenant_id", "employee_id"], name="scorecards_employee_idx"),
                ],
                "pk_attr": "id",
                "table_description": "One person's result in one period: the lines, their subtotals, total and percentile.",
            },
            bases=["TenantModel"],
        ),
        ops.CreateModel(
            name="ScorecardLine",
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
                    "scorecard",
                    fields.ForeignKeyField(
                        "renshi.Scorecard",
                        source_field="scorecard_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("indicator", fields.CharField(max_length=63)),
                ("category", fields.CharField(max_length=16)),
                ("group", fields.CharField(max_length=63)),
                (
                    "status",
                    fields.CharEnumField(
                        description="SCORED: scored\nINSUFFICIENT_DATA: insufficient_data\nNO_DATA: no_data\nNO_BASELINE: no_baseline",
                        enum_type=LineStatus,
                        max_length=32,
                    ),
                ),
                ("actual", fields.FloatField(null=True)),
                ("raw_actual", fields.FloatField(null=True)),
                ("n", fields.IntField()),
                ("facts", fields.IntField()),
                ("baseline", fields.FloatField(null=True)),
                ("baseline_kind", fields.CharField(null=True, max_length=16)),
                ("baseline_n", fields.IntField(null=True)),
                ("baseline_low", fields.FloatField(null=True)),
                ("baseline_high", fields.FloatField(null=True)),
                ("threshold", fields.FloatField(null=True)),
                ("target", fields.FloatField(null=True)),
                ("stretch", fields.FloatField(null=True)),
                ("limit", fields.FloatField(null=True)),
                ("achievement", fields.FloatField(null=True)),
                ("points", fields.FloatField(null=True)),
                ("weight", fields.FloatField()),
                ("effective_weight", fields.FloatField()),
                ("watch", fields.BooleanField(default=False)),
                ("adjustments", fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
            ],
            options={
                "table": "scorecard_lines",
                "app": "renshi",
                "unique_together": (("tenant", "scorecard", "indicator"),),
                "pk_attr": "id",
                "table_description": "One indicator on a scorecard: actual, n, baseline, target after rules, points, weight.",
            },
            bases=["TenantModel"],
        ),
        ops.CreateModel(
            name="TargetAdjustment",
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
                    "period",
                    fields.ForeignKeyField(
                        "renshi.Period",
                        source_field="period_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("rule", fields.CharField(max_length=63)),
                ("rule_kind", fields.CharField(max_length=32)),
                ("indicator", fields.CharField(max_length=63)),
                ("org_unit_id", fields.UUIDField(null=True)),
                ("employee_id", fields.UUIDField(null=True)),
                ("inputs", fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ("effect", fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ("reason_en", fields.TextField(unique=False)),
                ("reason_zh", fields.TextField(unique=False)),
            ],
            options={
                "table": "target_adjustments",
                "app": "renshi",
                "indexes": [
                    Index(
                        fields=["tenant_id", "period_id", "indicator"],
                        name="adjustments_period_idx",
                    )
                ],
                "pk_attr": "id",
                "table_description": "A rule that moved a target, a limit or a weight in a period, with its inputs.",
            },
            bases=["TenantModel"],
        ),
        *(
            tenant_table(table)
            for table in (
                "indicator_sets",
                "facts",
                "periods",
                "level_baselines",
                "target_adjustments",
                "scorecards",
                "scorecard_lines",
            )
        ),
        # An external key names one current fact per source; superseded facts keep theirs.
        # The scoring index covers what aggregation reads, so it scans the index alone.
        ops.RunSQL(
            [
                "CREATE UNIQUE INDEX facts_external_key_uidx ON facts "
                "(tenant_id, source, external_key) "
                "WHERE superseded_at IS NULL AND external_key IS NOT NULL",
                "CREATE INDEX facts_scoring_idx ON facts (tenant_id, kind, occurred_at) "
                "INCLUDE (employee_id, value, denominator) WHERE superseded_at IS NULL",
            ],
            reverse_sql=[
                "DROP INDEX IF EXISTS facts_scoring_idx",
                "DROP INDEX IF EXISTS facts_external_key_uidx",
            ],
        ),
        # Facts are never rewritten: an update may only mark a fact superseded, once.
        ops.RunSQL(
            [
                """
                CREATE FUNCTION renshi_fact_supersede_only() RETURNS trigger
                LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP = 'DELETE' THEN
                        RAISE EXCEPTION 'facts are append-only'
                            USING ERRCODE = 'insufficient_privilege';
                    END IF;
                    IF OLD.superseded_at IS NOT NULL
                       OR (to_jsonb(NEW) - 'superseded_at' - 'superseded_by')
                          IS DISTINCT FROM (to_jsonb(OLD) - 'superseded_at' - 'superseded_by')
                    THEN
                        RAISE EXCEPTION 'facts are append-only: supersede with a correction'
                            USING ERRCODE = 'insufficient_privilege';
                    END IF;
                    RETURN NEW;
                END
                $$
                """,
                "CREATE TRIGGER facts_append_only BEFORE UPDATE OR DELETE ON facts "
                "FOR EACH ROW EXECUTE FUNCTION renshi_fact_supersede_only()",
            ],
            reverse_sql=[
                "DROP TRIGGER IF EXISTS facts_append_only ON facts",
                "DROP FUNCTION IF EXISTS renshi_fact_supersede_only()",
            ],
        ),
    ]

from orjson import loads
from tortoise import fields, migrations
from tortoise.fields.data import JSON_DUMPS
from tortoise.migrations import operations as ops

# Lines move into their scorecard (one row per person and period instead of one per person,
# period and indicator). Existing lines are carried over first: closed periods stay as they
# were. The owner lifts FORCE for the copy only, since the tenant policy hides every row from
# a session without a tenant.
COPY_LINES = """
UPDATE scorecards s SET lines = moved.lines
FROM (
    SELECT scorecard_id, jsonb_agg(jsonb_build_object(
        'indicator', indicator, 'category', category, 'group', "group", 'status', status,
        'n', n, 'facts', facts, 'weight', weight, 'effective_weight', effective_weight,
        'actual', actual, 'raw_actual', raw_actual, 'baseline', baseline,
        'baseline_kind', baseline_kind, 'baseline_n', baseline_n,
        'baseline_low', baseline_low, 'baseline_high', baseline_high,
        'threshold', threshold, 'target', target, 'stretch', stretch, 'limit', "limit",
        'achievement', achievement, 'points', points, 'watch', watch,
        'adjustments', adjustments
    ) ORDER BY indicator) AS lines
    FROM scorecard_lines GROUP BY scorecard_id
) AS moved
WHERE moved.scorecard_id = s.id
"""


class Migration(migrations.Migration):
    dependencies = [("renshi", "0003_indicators")]

    initial = False

    operations = [
        # Nullable while existing cards receive their lines, then required.
        ops.AddField(
            model_name="Scorecard",
            name="lines",
            field=fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.RunSQL(
            [
                "ALTER TABLE scorecards NO FORCE ROW LEVEL SECURITY",
                "ALTER TABLE scorecard_lines NO FORCE ROW LEVEL SECURITY",
                COPY_LINES,
                "UPDATE scorecards SET lines = '[]' WHERE lines IS NULL",
                "ALTER TABLE scorecard_lines FORCE ROW LEVEL SECURITY",
                "ALTER TABLE scorecards FORCE ROW LEVEL SECURITY",
            ],
            reverse_sql="SELECT 1",
        ),
        ops.AlterField(
            model_name="Scorecard",
            name="lines",
            field=fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.DeleteModel(name="ScorecardLine"),
    ]

from tortoise import migrations
from tortoise.migrations import operations as ops

# Matching sums everyone's open work: a few open items among years of closed ones. The
# partial index finds them without reading the closed ones.


class Migration(migrations.Migration):
    dependencies = [("renshi", "0007_capability_profiles")]

    initial = False

    operations = [
        ops.RunSQL(
            [
                "CREATE INDEX work_items_open_idx ON work_items (tenant_id) "
                "WHERE status IN ('new', 'answered', 'planned', 'in_progress')",
            ],
            reverse_sql=["DROP INDEX IF EXISTS work_items_open_idx"],
        ),
    ]

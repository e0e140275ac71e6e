from tortoise import fields, migrations
from tortoise.migrations import operations as ops

# A recomputation rewrites only the cards whose figures changed: it compares a digest of
# what it computed with the one stored, instead of every stored card's lines.
# Existing cards have none, so their next recomputation rewrites them once.


class Migration(migrations.Migration):
    dependencies = [("renshi", "0004_scorecard_lines_inline")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Scorecard",
            name="digest",
            field=fields.BinaryField(null=True),
        ),
    ]

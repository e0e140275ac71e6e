import importlib

from tortoise import migrations
from tortoise.migrations import operations as ops

# The append-only guards of ``audit_log`` (0002) and ``facts`` (0003) let one DELETE
# through: a tenant's erasure (``tenants.lifecycle.deletion``). It used to step past them
# with ``ALTER TABLE ... DISABLE TRIGGER``, whose SHARE ROW EXCLUSIVE lock made every
# tenant's writes to both tables wait until the erasure committed. Now the guards let a row
# be deleted when both hold:
#
# - ``renshi.erase_tenant``, set for the transaction, names the row's tenant (an erasure of
#   tenant A removes nothing of tenant B, whatever its statements say);
# - the role running the statement *and* the role that opened the session may own the
#   table. Any role can set a custom setting, so the setting alone proves nothing. The
#   statement's role alone is not enough either: a cascading foreign-key action runs as the
#   referencing table's owner (deleting an employee of the application role cascades to
#   its facts as the owner), and so does an owner's SECURITY DEFINER function; the session's
#   role is the login, which only a superuser can change.
#
# Catalog names are qualified: a temporary table is searched before ``pg_catalog`` unless
# the path says otherwise, and the application role may create one named ``pg_class``.
# The owner is looked up only once the setting matched, so the guards still run no SQL on
# the paths they refuse. UPDATEs are treated exactly as before (``audit_log`` refuses all,
# ``facts`` only supersedes, once).


def _created_by(module: str, function: str) -> str:
    """The ``CREATE FUNCTION`` statement of ``function`` in migration ``module``, as a
    replacement: a migration's text never changes once applied, so the reverse restores the
    old body exactly."""
    migration = importlib.import_module(f"migrations.{module}").Migration
    head = f"CREATE FUNCTION {function}()"
    found = [
        statement
        for operation in migration.operations
        if isinstance(operation, ops.RunSQL)
        for statement in (
            [operation.sql] if isinstance(operation.sql, str) else list(operation.sql)
        )
        if statement.strip().startswith(head)
    ]
    if len(found) != 1:
        raise RuntimeError(f"{module} no longer creates {function} once")
    return found[0].replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


_ERASING_THIS_ROW = "OLD.tenant_id::text = pg_catalog.current_setting('renshi.erase_tenant', true)"
_MAY_OWN = """pg_catalog.pg_has_role(session_user, o.relowner, 'MEMBER')
                       AND pg_catalog.pg_has_role(current_user, o.relowner, 'MEMBER')
                FROM pg_catalog.pg_class o WHERE o.oid = TG_RELID"""

# The start of both guards: an erasure's DELETE of its own tenant's rows goes through.
_ERASURE_PASSES = f"""                    IF TG_OP = 'DELETE' THEN
                        IF {_ERASING_THIS_ROW} THEN
                            IF (SELECT {_MAY_OWN}) THEN
                                RETURN OLD;
                            END IF;
                        END IF;"""

_REFUSE_CHANGE = f"""
                CREATE OR REPLACE FUNCTION renshi_refuse_change() RETURNS trigger
                LANGUAGE plpgsql AS $$
                BEGIN
{_ERASURE_PASSES}
                    END IF;
                    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME
                        USING ERRCODE = 'insufficient_privilege';
                END
                $$
                """

_FACT_SUPERSEDE_ONLY = f"""
                CREATE OR REPLACE FUNCTION renshi_fact_supersede_only() RETURNS trigger
                LANGUAGE plpgsql AS $$
                BEGIN
{_ERASURE_PASSES}
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
                """


class Migration(migrations.Migration):
    dependencies = [("renshi", "0013_dashboard_rollups_deferred")]

    initial = False

    operations = [
        ops.RunSQL(
            [_REFUSE_CHANGE, _FACT_SUPERSEDE_ONLY],
            reverse_sql=[
                _created_by("0002_records", "renshi_refuse_change"),
                _created_by("0003_indicators", "renshi_fact_supersede_only"),
            ],
        ),
    ]

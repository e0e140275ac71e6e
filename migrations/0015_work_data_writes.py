from tortoise import migrations
from tortoise.migrations import operations as ops

from tenants.database.rls import tenant_table

# Which transactions wrote a tenant's work data, so that a result computed from it can be
# kept and reused exactly as long as nothing it read has changed (the R&D dashboard's
# period statement: ``domain.dashboards.cache``).
#
# Statement triggers on the tables that statement reads (work items, their assignees,
# employees, org units, employee skills) add one row per writing transaction and tenant:
# its id (``xid8``). A result is kept with the snapshot it was computed under; a later
# transaction may reuse it when no write it can see is invisible to that snapshot, which
# one range of the primary key answers (``txid >= the snapshot's xmin``). Exact under any
# interleaving: a write committed after the snapshot is visible to the later reader and
# not to the snapshot; one rolled back is visible to neither.
#
# Why not a version counter per tenant: its row would be locked from a writer's first
# statement to its commit, so every writer of a tenant would wait for the others (an import
# would hold up an HR user's edit), and writers taking it and the rollup rows (0012) in
# different orders could deadlock. Distinct (tenant, txid) keys never make one transaction
# wait for another.
#
# Rows before a horizon are pruned now and then (one writing transaction in 512, under a
# try-lock, so pruners never wait either): ``work_data_horizons.below`` is the xmin of the
# pruner's snapshot, every transaction below it had ended, and a kept result whose
# snapshot's xmin is below the horizon is no longer reused (it might have missed a
# pruned row).
#
# A tenant's erasure (``tenants.lifecycle.deletion``) deletes its work data after these
# tables, which notes the erasing transaction again: the rows go with the tenant's own row
# (``ON DELETE CASCADE``), before the erasure checks that nothing of the tenant is left.

_TABLES = """
CREATE TABLE work_data_writes (
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    txid xid8 NOT NULL,
    PRIMARY KEY (tenant_id, txid)
)"""
_HORIZONS = """
CREATE TABLE work_data_horizons (
    tenant_id uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    below xid8 NOT NULL
)"""
_COMMENTS = [
    """COMMENT ON TABLE work_data_writes IS 'One row per transaction that wrote a tenant''s work
items, assignees, employees, org units or employee skills (statement triggers): a result
computed from them under a snapshot stays valid while every such write visible now was
visible to that snapshot.'""",
    """COMMENT ON TABLE work_data_horizons IS 'work_data_writes rows of a tenant below this
transaction id were pruned: results computed under a snapshot whose xmin is lower are not
reused.'""",
    """COMMENT ON FUNCTION work_data_prune(uuid) IS 'Raises the tenant''s horizon to the oldest
transaction still running and deletes the work_data_writes rows below it.'""",
    """COMMENT ON FUNCTION work_data_note_write() IS 'Statement trigger: notes the writing
transaction in work_data_writes for each tenant of the changed rows.'""",
]

_PRUNE = """
CREATE FUNCTION work_data_prune(a_tenant uuid) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    horizon xid8 := pg_snapshot_xmin(pg_current_snapshot());
BEGIN
    INSERT INTO work_data_horizons AS h (tenant_id, below) VALUES (a_tenant, horizon)
    ON CONFLICT (tenant_id) DO UPDATE SET below = EXCLUDED.below
    WHERE h.below < EXCLUDED.below;
    DELETE FROM work_data_writes WHERE tenant_id = a_tenant AND txid < horizon;
END
$$"""

# ``changed``: the statement's new rows (insert, update) or old rows (delete). The prune
# lock's first key is this feature's own number; the second, the tenant's hash.
_NOTE = """
CREATE FUNCTION work_data_note_write() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    me xid8 := pg_current_xact_id();
    t uuid;
BEGIN
    FOR t IN SELECT DISTINCT c.tenant_id FROM changed c LOOP
        INSERT INTO work_data_writes (tenant_id, txid) VALUES (t, me) ON CONFLICT DO NOTHING;
        IF FOUND AND me::text::numeric % 512 = 0
           AND pg_try_advisory_xact_lock(20151, hashtext(t::text)) THEN
            PERFORM work_data_prune(t);
        END IF;
    END LOOP;
    RETURN NULL;
END
$$"""

SOURCES = ("work_items", "work_item_assignees", "employees", "org_units", "employee_skills")
_EVENTS = (("insert", "NEW"), ("update", "NEW"), ("delete", "OLD"))


def _triggers(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_note_write_{event} AFTER {event.upper()} ON {table} "
        f"REFERENCING {rows} TABLE AS changed FOR EACH STATEMENT "
        "EXECUTE FUNCTION work_data_note_write()"
        for event, rows in _EVENTS
    ]


class Migration(migrations.Migration):
    dependencies = [("renshi", "0014_tenant_erasure_guards")]

    initial = False

    operations = [
        ops.RunSQL(
            [
                _TABLES,
                _HORIZONS,
                _PRUNE,
                _NOTE,
                *_COMMENTS,
                *(sql for table in SOURCES for sql in _triggers(table)),
            ],
            reverse_sql=[
                *(
                    f"DROP TRIGGER IF EXISTS {table}_note_write_{event} ON {table}"
                    for table in SOURCES
                    for event, _ in _EVENTS
                ),
                "DROP FUNCTION IF EXISTS work_data_note_write()",
                "DROP FUNCTION IF EXISTS work_data_prune(uuid)",
                "DROP TABLE IF EXISTS work_data_horizons",
                "DROP TABLE IF EXISTS work_data_writes",
            ],
        ),
        tenant_table("work_data_writes"),
        tenant_table("work_data_horizons"),
    ]

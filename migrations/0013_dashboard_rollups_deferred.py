import importlib

from tortoise import migrations
from tortoise.migrations import operations as ops

# Two fixes to 0012's rollups, found by a demo build that spent over ten minutes in them.
#
# 1. The recomputation scanned all of a tenant's items of a kind for every (day, role) it
#    recomputed. Its day bounds were written ``w.requested_at >= (p.d::timestamp AT TIME
#    ZONE 'UTC')``: under row-level security the planner may use a condition as an index
#    condition only when no function that is not leakproof touches a column (the date to
#    timestamp cast and ``timezone`` are not), so the bound was checked row by row (17 to
#    21 ms for a one-item update on a large tenant). The bounds are now computed with the
#    triples and compared with plain operators, which are leakproof. The final update no
#    longer joins the aggregates and the rollup rows in one plan: seeing a new tenant's
#    statistics (none yet), the planner took the triples for one row and recomputed every
#    aggregate once per triple; the new rows are gathered first, then updated by key, and
#    the rows are locked one by one in key order (a plan of one index lookup each).
#
# 2. Bulk loads rebuild once, at commit, instead of after every statement. A load writes
#    items in batches, each spread over the whole history (a demo draws a person's years
#    at a time), then their assignees: every batch recomputed nearly every day of the
#    tenant, twice, and looked each assignee's item up with a plan made for an empty table,
#    so a load's cost grew with the square of its size. ``work_item_rollups_defer()``
#    switches the rest of the transaction to deferred mode: the triggers then only note the
#    tenants their statements wrote (and number no one), and a deferred constraint trigger
#    rebuilds every day of those tenants once, when the transaction commits (deferred
#    triggers run before the commit, in the writer's transaction, under its tenant and
#    row-level security: what 0012 guarantees holds, and no load commits stale rollups,
#    whether or not it flushes itself). ``work_item_rollups_flush()`` rebuilds what is
#    noted so far, for a load that reads the rollups before it commits. The rows' locks
#    are taken at the rebuild: a deferred load holds up writers of its tenant for less time
#    than an immediate one held up writers of its days.

# 0012's trigger builders, reused for the assignees trigger's new body: a migration's text
# never changes once applied, so importing it is importing a constant.
_V12 = importlib.import_module("migrations.0012_dashboard_day_rollups")


# Each (tenant, day, role) once, with the day's bounds in UTC.
_TRIPLES = """SELECT x.t, x.d, x.r, (x.d::timestamp AT TIME ZONE 'UTC') AS lo,
               ((x.d + 1)::timestamp AT TIME ZONE 'UTC') AS hi
        FROM (SELECT DISTINCT t, d, r FROM unnest(of_tenants, of_days, of_roles)
              AS u(t, d, r)) x"""
_ON_TIME = _V12._ON_TIME

# 0012's recomputation (read its comments there) with the bounds compared plainly, the rows
# locked one at a time in key order, the new rows gathered before the update, and that
# update by key.
_REFRESH = f"""
CREATE OR REPLACE FUNCTION work_item_rollups_refresh(
    of_tenants uuid[], of_days date[], of_roles smallint[]
) RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    a_tenant uuid;
    a_day date;
    a_role smallint;
BEGIN
    IF COALESCE(cardinality(of_days), 0) = 0 THEN
        RETURN;
    END IF;

    INSERT INTO work_item_day_rollups (
        tenant_id, day, role, n, promised, hits, late, late_causes, flagged, cycle_days, people
    )
    SELECT p.t, p.d, p.r, 0, 0, 0, 0, '{{}}', 0, '{{}}', B''
    FROM ({_TRIPLES}) p
    ORDER BY p.t, p.d, p.r
    ON CONFLICT DO NOTHING;

    FOR a_tenant, a_day, a_role IN
        SELECT DISTINCT t, d, r FROM unnest(of_tenants, of_days, of_roles) AS u(t, d, r)
        ORDER BY 1, 2, 3
    LOOP
        PERFORM FROM work_item_day_rollups w
        WHERE w.tenant_id = a_tenant AND w.day = a_day AND w.role = a_role
        FOR UPDATE;
    END LOOP;

    WITH p AS MATERIALIZED ({_TRIPLES}),
    items AS MATERIALIZED (
        SELECT p.t AS tenant_id, p.d AS day, i.*
        FROM p CROSS JOIN LATERAL (
            SELECT 1::smallint AS role, w.id, w.answered_by,
                   w.promised_on IS NOT NULL AS promised, {_ON_TIME} AS hit,
                   w.delay_cause AS cause,
                   date_part('epoch', w.delivered_at - w.started_at) / 86400 AS days,
                   false AS flag
            FROM work_items w
            WHERE p.r = 1 AND w.tenant_id = p.t AND w.kind = 'requirement'
              AND w.delivered_at >= p.lo AND w.delivered_at < p.hi
            UNION ALL
            SELECT 2::smallint, w.id, NULL, false, false, NULL, NULL, false
            FROM work_items w
            WHERE p.r = 2 AND w.tenant_id = p.t AND w.kind = 'complaint' AND w.cause = 'rd'
              AND w.requested_at >= p.lo AND w.requested_at < p.hi
            UNION ALL
            SELECT 3::smallint, w.id, w.answered_by, w.promised_on IS NOT NULL,
                   w.promised_on IS NOT NULL AND {_ON_TIME}, NULL, NULL,
                   COALESCE(w.answered_at <= w.requested_at + interval '24 hours', false)
            FROM work_items w
            WHERE p.r = 3 AND w.tenant_id = p.t AND w.kind = 'requirement'
              AND w.requested_at >= p.lo AND w.requested_at < p.hi
            UNION ALL
            SELECT 4::smallint, w.id, NULL, false, false, NULL, NULL,
                   w.found_in = 'production'
            FROM work_items w
            WHERE p.r = 4 AND w.tenant_id = p.t AND w.kind IN ('bug', 'incident')
              AND w.found_in IS NOT NULL AND w.requested_at >= p.lo AND w.requested_at < p.hi
        ) i
    ),
    scoped AS MATERIALIZED (
        SELECT i.*, x.persons
        FROM items i
        CROSS JOIN LATERAL (
            SELECT ARRAY(
                       SELECT a.employee_id FROM work_item_assignees a
                       WHERE a.tenant_id = i.tenant_id AND a.work_item_id = i.id
                       UNION ALL
                       SELECT i.answered_by WHERE i.answered_by IS NOT NULL
                   ) AS persons
            OFFSET 0
        ) x
        WHERE cardinality(x.persons) > 0
    ),
    widths AS MATERIALIZED (
        SELECT t.t AS tenant_id,
               repeat('0', COALESCE((SELECT max(o.ordinal) + 1 FROM work_item_rollup_people o
                                     WHERE o.tenant_id = t.t), 0))::varbit AS empty
        FROM (SELECT DISTINCT p.t FROM p) t
    ),
    maps AS MATERIALIZED (
        SELECT s.tenant_id, s.day, s.role,
               bit_or(b.bit) AS people,
               bit_or(b.bit) FILTER (WHERE s.promised) AS due_people,
               bit_or(b.bit) FILTER (WHERE s.promised AND NOT s.hit) AS late_people,
               bit_or(b.bit) FILTER (WHERE s.days IS NOT NULL) AS cycle_people
        FROM scoped s
        CROSS JOIN LATERAL unnest(s.persons) AS x(person)
        JOIN work_item_rollup_people o ON o.tenant_id = s.tenant_id AND o.person_id = x.person
        JOIN widths z ON z.tenant_id = s.tenant_id
        CROSS JOIN LATERAL (SELECT set_bit(z.empty, o.ordinal, 1) AS bit OFFSET 0) b
        GROUP BY s.tenant_id, s.day, s.role
    ),
    causes AS MATERIALIZED (
        SELECT tenant_id, day, role, jsonb_object_agg(cause, late) AS late_causes
        FROM (SELECT tenant_id, day, role, cause, count(*)::int AS late FROM scoped
              WHERE promised AND NOT hit AND cause IS NOT NULL
              GROUP BY tenant_id, day, role, cause) c
        GROUP BY tenant_id, day, role
    ),
    figures AS MATERIALIZED (
        SELECT tenant_id, day, role, count(*)::int AS n,
               count(*) FILTER (WHERE promised)::int AS promised,
               count(*) FILTER (WHERE hit)::int AS hits,
               count(*) FILTER (WHERE promised AND NOT hit)::int AS late,
               count(*) FILTER (WHERE flag)::int AS flagged,
               COALESCE(array_agg(days ORDER BY days) FILTER (WHERE days IS NOT NULL),
                        '{{}}') AS cycle_days
        FROM scoped GROUP BY tenant_id, day, role
    ),
    -- Every triple's new row (those with no item: zeros), before any rollup row is read.
    fresh AS MATERIALIZED (
        SELECT p.t, p.d, p.r, COALESCE(f.n, 0) AS n, COALESCE(f.promised, 0) AS promised,
               COALESCE(f.hits, 0) AS hits, COALESCE(f.late, 0) AS late,
               COALESCE(c.late_causes, '{{}}') AS late_causes,
               COALESCE(f.flagged, 0) AS flagged, COALESCE(f.cycle_days, '{{}}') AS cycle_days,
               COALESCE(m.people, B'') AS people,
               CASE WHEN p.r = 1 THEN m.due_people END AS due_people,
               CASE WHEN p.r = 1 THEN m.late_people END AS late_people,
               CASE WHEN p.r = 1 THEN m.cycle_people END AS cycle_people
        FROM p
        LEFT JOIN figures f ON f.tenant_id = p.t AND f.day = p.d AND f.role = p.r
        LEFT JOIN maps m ON m.tenant_id = p.t AND m.day = p.d AND m.role = p.r
        LEFT JOIN causes c ON c.tenant_id = p.t AND c.day = p.d AND c.role = p.r
    )
    UPDATE work_item_day_rollups w
    SET n = x.n, promised = x.promised, hits = x.hits, late = x.late,
        late_causes = x.late_causes, flagged = x.flagged, cycle_days = x.cycle_days,
        people = x.people, due_people = x.due_people, late_people = x.late_people,
        cycle_people = x.cycle_people
    FROM fresh x
    WHERE w.tenant_id = x.t AND w.day = x.d AND w.role = x.r;
END
$$"""  # noqa: S608


_PENDING = "pg_temp.work_item_rollups_pending"
_DEFERRED = "current_setting('renshi.rollups_deferred', true) = 'on'"

# Deferred mode's first step in each trigger: note the tenants of the statement's rows and
# stop (the rebuild at commit numbers the people and recomputes their days).
_NOTE = f"""
    IF {_DEFERRED} THEN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO {_PENDING} (tenant_id) SELECT DISTINCT tenant_id FROM new_rows;
        ELSIF TG_OP = 'UPDATE' THEN
            INSERT INTO {_PENDING} (tenant_id)
            SELECT tenant_id FROM old_rows UNION SELECT tenant_id FROM new_rows;
        ELSE
            INSERT INTO {_PENDING} (tenant_id) SELECT DISTINCT tenant_id FROM old_rows;
        END IF;
        RETURN NULL;
    END IF;"""  # noqa: S608


def _with_note(function: str) -> str:
    """0012's trigger function ``function`` replaced by one that notes first in deferred mode."""
    body = "\nBEGIN\n"
    if function.count(body) != 1:
        raise RuntimeError("0012's trigger function changed shape")
    return function.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1).replace(
        body, body + _NOTE + "\n"
    )


def _items_by_key(assignees: str) -> str:
    """The work items of the assignee rows ``assignees`` (alias ``r``), each looked up by its
    key (``OFFSET 0`` keeps it a lookup per assignee row whatever the planner believes of
    their number: it took a join with the statement's rows, which have no statistics, for a
    scan of them per work item)."""
    return (
        f"(SELECT w.* FROM {assignees} a CROSS JOIN LATERAL ("  # noqa: S608
        "SELECT * FROM work_items x WHERE x.tenant_id = a.tenant_id AND x.id = a.work_item_id "
        "OFFSET 0) w) r"
    )


_ON_ITEMS = _with_note(_V12._ON_ITEMS)
_ON_ASSIGNEES = _with_note(
    _V12._trigger_function(
        "work_item_assignees_refresh_rollups",
        "employee_id",
        insert=_V12._rows_of(_items_by_key("new_rows")),
        update=_V12._rows_of(_items_by_key(_V12._ASSIGNEE_CHANGES)),
        delete=_V12._rows_of(_items_by_key("old_rows")),
    )
)

# Takes the noted tenants out of the table (a second flush, or the commit's, finds none),
# numbers everybody behind their items and recomputes every day they have items on, and
# every day they had rollups for (days whose items went become zero rows).
_FLUSH = f"""
CREATE FUNCTION work_item_rollups_flush() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    noted uuid[];
    changed_tenants uuid[];
    changed_days date[];
    changed_roles smallint[];
BEGIN
    IF to_regclass('{_PENDING}') IS NULL THEN
        RETURN;
    END IF;
    WITH gone AS (DELETE FROM {_PENDING} RETURNING tenant_id)
    SELECT array_agg(DISTINCT tenant_id) INTO noted FROM gone;
    IF noted IS NULL THEN
        RETURN;
    END IF;
    PERFORM work_item_rollups_enrol(array_agg(x.t), array_agg(x.p)) FROM (
        SELECT a.tenant_id AS t, a.employee_id AS p FROM work_item_assignees a
        WHERE a.tenant_id = ANY (noted)
        UNION
        SELECT w.tenant_id, w.answered_by FROM work_items w
        WHERE w.tenant_id = ANY (noted) AND w.answered_by IS NOT NULL
    ) x;
    {_V12._rows_of("(SELECT * FROM work_items WHERE tenant_id = ANY (noted)) r")};
    SELECT array_agg(x.t), array_agg(x.d), array_agg(x.r)
    INTO changed_tenants, changed_days, changed_roles
    FROM (
        SELECT * FROM unnest(changed_tenants, changed_days, changed_roles)
        UNION
        SELECT tenant_id, day, role FROM work_item_day_rollups WHERE tenant_id = ANY (noted)
    ) x(t, d, r);
    PERFORM work_item_rollups_refresh(changed_tenants, changed_days, changed_roles);
END
$$"""  # noqa: S608

_FLUSH_AT_COMMIT = """
CREATE FUNCTION work_item_rollups_flush_at_commit() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    PERFORM work_item_rollups_flush();
    RETURN NULL;
END
$$"""

# The table is the session's own (temporary, dropped at commit after the deferred triggers
# have run), so concurrent loads never see each other's notes.
_DEFER = f"""
CREATE FUNCTION work_item_rollups_defer() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    IF to_regclass('{_PENDING}') IS NULL THEN
        CREATE TEMPORARY TABLE work_item_rollups_pending (tenant_id uuid NOT NULL)
            ON COMMIT DROP;
        CREATE CONSTRAINT TRIGGER work_item_rollups_pending_flush
            AFTER INSERT ON {_PENDING} DEFERRABLE INITIALLY DEFERRED
            FOR EACH ROW EXECUTE FUNCTION work_item_rollups_flush_at_commit();
        -- A cascade from a deleted work item to its assignees runs as the tables' owner,
        -- and its trigger notes as the owner. Only this session can reach the table.
        GRANT SELECT, INSERT, DELETE ON {_PENDING} TO PUBLIC;
    END IF;
    PERFORM set_config('renshi.rollups_deferred', 'on', true);
END
$$"""

_COMMENTS = [
    "COMMENT ON FUNCTION work_item_rollups_defer() IS 'For the rest of the transaction, the "
    "rollup triggers only note the tenants they write, and every day of those tenants in "
    "work_item_day_rollups is recomputed once, at commit (or at work_item_rollups_flush()): "
    "for bulk loads.'",
    "COMMENT ON FUNCTION work_item_rollups_flush() IS 'Recomputes the rollups of the tenants "
    "noted since work_item_rollups_defer() (or the last flush) in this transaction.'",
]


def _as_replacement(function: str) -> str:
    return function.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


class Migration(migrations.Migration):
    dependencies = [("renshi", "0012_dashboard_day_rollups")]

    initial = False

    operations = [
        ops.RunSQL(
            [
                _REFRESH,
                _ON_ITEMS,
                _ON_ASSIGNEES,
                _FLUSH,
                _FLUSH_AT_COMMIT,
                _DEFER,
                *_COMMENTS,
            ],
            reverse_sql=[
                "DROP FUNCTION IF EXISTS work_item_rollups_defer()",
                "DROP FUNCTION IF EXISTS work_item_rollups_flush_at_commit()",
                "DROP FUNCTION IF EXISTS work_item_rollups_flush()",
                _as_replacement(_V12._REFRESH),
                _as_replacement(_V12._ON_ITEMS),
                _as_replacement(_V12._ON_ASSIGNEES),
            ],
        ),
    ]

from tortoise import migrations
from tortoise.migrations import operations as ops

from tenants.database.rls import tenant_table

# The R&D dashboard's whole-tenant view, by month or quarter, read a year of work items
# and their people on every request (some 300,000 rows on a large tenant: most of a
# second). ``work_item_day_rollups`` holds, per tenant, UTC day and role, exactly what that
# view needs of the day (``domain.dashboards.rd_sql.period_rollups`` and
# ``before_after_rollups`` read it): a year is some 1,460 rows.
#
# The database keeps it exact itself: statement triggers on ``work_items`` and
# ``work_item_assignees`` recompute, from the base tables and in the writer's transaction,
# the (day, role) rows a statement touched, under those rows' locks (no lock of the whole
# tenant: a long import holds up writers of the days it touched only). They run as the
# writer, in its tenant (no SECURITY DEFINER: its row-level security applies). Every
# write path (the services, imports, the demo's and the bench's COPY staging) stays right
# without code of its own. TRUNCATE is not followed (the application role may not truncate).
#
# Roles (``rd_sql``'s): 1 requirements delivered that day, 2 complaints caused by R&D
# requested that day, 3 requirements requested that day, 4 bugs and incidents with a place
# found requested that day. An item counts when somebody is behind it: an assignee, or, for
# a requirement, the person who answered it (as ``rd_sql.period_fast`` counts).
#
# People are bitmaps over ``work_item_rollup_people``, which numbers a tenant's persons
# from 0: the people of a month are the bits set in the or of its days' maps. Arrays of
# person ids were measured first: a year's union took unnesting and sorting some 400,000
# of them, 230 to 300 ms, the whole dashboard's budget; the or of 1,460 maps of a few
# hundred bytes takes a millisecond or two. Delivered rows carry three more maps: the
# people behind promised items (on time), late ones, and those with a cycle time.

_PEOPLE = """
CREATE TABLE work_item_rollup_people (
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    person_id uuid NOT NULL,
    ordinal integer NOT NULL CHECK (ordinal >= 0),
    PRIMARY KEY (tenant_id, person_id),
    UNIQUE (tenant_id, ordinal)
)"""

_PEOPLE_COMMENT = (
    "COMMENT ON TABLE work_item_rollup_people IS 'The bit of each person behind a work item "
    "(assignee, answerer) in the maps of work_item_day_rollups: numbered from 0 per tenant, "
    "never renumbered.'"
)

_ROLLUPS = """
CREATE TABLE work_item_day_rollups (
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    day date NOT NULL,
    role smallint NOT NULL CHECK (role BETWEEN 1 AND 4),
    n integer NOT NULL,
    promised integer NOT NULL,
    hits integer NOT NULL,
    late integer NOT NULL,
    late_causes jsonb NOT NULL,
    flagged integer NOT NULL,
    cycle_days float8[] NOT NULL,
    people varbit NOT NULL,
    due_people varbit,
    late_people varbit,
    cycle_people varbit,
    PRIMARY KEY (tenant_id, day, role)
)"""

_ROLLUPS_COMMENT = (
    "COMMENT ON TABLE work_item_day_rollups IS 'Per tenant, UTC day and role (1 requirements "
    "delivered, 2 complaints caused by R&D, 3 requirements requested, 4 bugs and incidents "
    "with a place found; 2 to 4 by request date): the R&D dashboard''s figures of the day, "
    "kept exact by triggers on work_items and work_item_assignees. n: items somebody is "
    "behind; promised; hits: delivered by the end of the promised day; late: promised and "
    "not on time; late_causes: late items per delay cause given; flagged: answered within "
    "24 h (3), found in production (4); cycle_days: days from start to delivery (1); people "
    "and (1) due_people, late_people, cycle_people: maps of work_item_rollup_people.ordinal. "
    "A day whose items are gone keeps a zero row: n 0, an empty people map.'"
)

# Numbers the persons not numbered yet. Only a statement that brings a new person takes the
# tenant's numbering lock (held to its commit), and reads the highest number after taking
# it: a concurrent writer's numbers are committed by then (READ COMMITTED: a statement
# sees what was committed before it began). Numbers must stay dense (a map is as wide as
# the highest one), which a sequence's gaps would not keep: so a writer bringing a person
# nobody has numbered yet waits for an import that brought new people to commit; writers
# of people already numbered, nearly all, never take this lock.
_ENROL = """
CREATE FUNCTION work_item_rollups_enrol(of_tenants uuid[], of_persons uuid[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    a_tenant uuid;
BEGIN
    FOR a_tenant IN
        SELECT DISTINCT x.t FROM unnest(of_tenants, of_persons) AS x(t, p)
        WHERE x.p IS NOT NULL AND NOT EXISTS (
            SELECT FROM work_item_rollup_people o WHERE o.tenant_id = x.t AND o.person_id = x.p)
        ORDER BY 1
    LOOP
        PERFORM pg_advisory_xact_lock(hashtextextended('work_item_rollup_people:' || a_tenant, 0));
        INSERT INTO work_item_rollup_people (tenant_id, person_id, ordinal)
        SELECT a_tenant, x.p,
               COALESCE((SELECT max(o.ordinal) + 1 FROM work_item_rollup_people o
                         WHERE o.tenant_id = a_tenant), 0)
               + row_number() OVER (ORDER BY x.p) - 1
        FROM (SELECT DISTINCT y.p FROM unnest(of_tenants, of_persons) AS y(t, p)
              WHERE y.t = a_tenant AND y.p IS NOT NULL) x
        WHERE NOT EXISTS (SELECT FROM work_item_rollup_people o
                          WHERE o.tenant_id = a_tenant AND o.person_id = x.p);
    END LOOP;
END
$$"""

# The end of a promised day in UTC (``derivation.end_of_day``): delivered before it is on time.
_ON_TIME = "COALESCE(w.delivered_at < ((w.promised_on + 1)::timestamp AT TIME ZONE 'UTC'), false)"
# The UTC day of ``p.d``.
_DAY = (
    "{col} >= (p.d::timestamp AT TIME ZONE 'UTC') "
    "AND {col} < ((p.d + 1)::timestamp AT TIME ZONE 'UTC')"
)
# (tenant, day, role) of the refresh's arguments, each once.
_TRIPLES = "SELECT DISTINCT t, d, r FROM unnest(of_tenants, of_days, of_roles) AS x(t, d, r)"

# Recomputes the rows of the given (tenant, day, role) triples from the base tables. Writers
# of the same rows are serialized by the rows' own locks, held until the writer commits as
# any row lock is: they live in the tuples, so a long import that touches thousands of rows
# neither fills the server's lock table nor holds up writers of other days (a lock for the
# whole tenant did: every write of the tenant waited for the import's commit). Three
# statements, each seeing what was committed before it began (READ COMMITTED):
# 1. each row exists: a zero row is put in where none is (ON CONFLICT DO NOTHING waits for
#    a concurrent writer who put in the same row, until it commits, and keeps its row);
# 2. the rows are locked in one order (two writers never wait on each other in a circle
#    within their statements), waiting for the writers holding them to commit;
# 3. they are recomputed: every earlier writer of these days has committed by now, a later
#    one waits for this writer's commit, so no row is computed from data another writer is
#    still changing.
# A row whose day has no item any more stays, as a zero row (deleting it would let a writer
# waiting for its lock find nothing to lock): the readers sum zeros and or empty maps.
_REFRESH = f"""
CREATE FUNCTION work_item_rollups_refresh(of_tenants uuid[], of_days date[], of_roles smallint[])
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
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

    PERFORM FROM work_item_day_rollups w
    WHERE (w.tenant_id, w.day, w.role) IN (SELECT p.t, p.d, p.r FROM ({_TRIPLES}) p)
    ORDER BY w.tenant_id, w.day, w.role
    FOR UPDATE OF w;

    WITH p AS ({_TRIPLES}),
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
              AND {_DAY.format(col="w.delivered_at")}
            UNION ALL
            SELECT 2::smallint, w.id, NULL, false, false, NULL, NULL, false
            FROM work_items w
            WHERE p.r = 2 AND w.tenant_id = p.t AND w.kind = 'complaint' AND w.cause = 'rd'
              AND {_DAY.format(col="w.requested_at")}
            UNION ALL
            SELECT 3::smallint, w.id, w.answered_by, w.promised_on IS NOT NULL,
                   w.promised_on IS NOT NULL AND {_ON_TIME}, NULL, NULL,
                   COALESCE(w.answered_at <= w.requested_at + interval '24 hours', false)
            FROM work_items w
            WHERE p.r = 3 AND w.tenant_id = p.t AND w.kind = 'requirement'
              AND {_DAY.format(col="w.requested_at")}
            UNION ALL
            SELECT 4::smallint, w.id, NULL, false, false, NULL, NULL,
                   w.found_in = 'production'
            FROM work_items w
            WHERE p.r = 4 AND w.tenant_id = p.t AND w.kind IN ('bug', 'incident')
              AND w.found_in IS NOT NULL AND {_DAY.format(col="w.requested_at")}
        ) i
    ),
    -- Each item with the people behind it (OFFSET 0: their lookup runs once per item);
    -- an item nobody is behind is out.
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
    -- An empty map as wide as the tenant's numbered people, made once (it is parsed from
    -- text) and copied with one bit set for each person behind an item.
    widths AS MATERIALIZED (
        SELECT t.t AS tenant_id,
               repeat('0', COALESCE((SELECT max(o.ordinal) + 1 FROM work_item_rollup_people o
                                     WHERE o.tenant_id = t.t), 0))::varbit AS empty
        FROM (SELECT DISTINCT p.t FROM p) t
    ),
    maps AS (
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
    causes AS (
        SELECT tenant_id, day, role, jsonb_object_agg(cause, late) AS late_causes
        FROM (SELECT tenant_id, day, role, cause, count(*)::int AS late FROM scoped
              WHERE promised AND NOT hit AND cause IS NOT NULL
              GROUP BY tenant_id, day, role, cause) c
        GROUP BY tenant_id, day, role
    ),
    figures AS (
        SELECT tenant_id, day, role, count(*)::int AS n,
               count(*) FILTER (WHERE promised)::int AS promised,
               count(*) FILTER (WHERE hit)::int AS hits,
               count(*) FILTER (WHERE promised AND NOT hit)::int AS late,
               count(*) FILTER (WHERE flag)::int AS flagged,
               COALESCE(array_agg(days ORDER BY days) FILTER (WHERE days IS NOT NULL),
                        '{{}}') AS cycle_days
        FROM scoped GROUP BY tenant_id, day, role
    )
    -- Every row of the triples: those with no item (left) become zero rows.
    UPDATE work_item_day_rollups w
    SET n = COALESCE(f.n, 0), promised = COALESCE(f.promised, 0), hits = COALESCE(f.hits, 0),
        late = COALESCE(f.late, 0), late_causes = COALESCE(c.late_causes, '{{}}'),
        flagged = COALESCE(f.flagged, 0), cycle_days = COALESCE(f.cycle_days, '{{}}'),
        people = COALESCE(m.people, B''),
        due_people = CASE WHEN p.r = 1 THEN m.due_people END,
        late_people = CASE WHEN p.r = 1 THEN m.late_people END,
        cycle_people = CASE WHEN p.r = 1 THEN m.cycle_people END
    FROM p
    LEFT JOIN figures f ON f.tenant_id = p.t AND f.day = p.d AND f.role = p.r
    LEFT JOIN maps m ON m.tenant_id = p.t AND m.day = p.d AND m.role = p.r
    LEFT JOIN causes c ON c.tenant_id = p.t AND c.day = p.d AND c.role = p.r
    WHERE w.tenant_id = p.t AND w.day = p.d AND w.role = p.r;
END
$$"""  # noqa: S608

_KINDS = "('requirement', 'complaint', 'bug', 'incident')"
# The columns whose change changes a row of the rollups (a title or a status change none).
_FIGURE_COLUMNS = (
    "tenant_id", "kind", "requested_at", "delivered_at", "answered_by", "answered_at",
    "promised_on", "started_at", "delay_cause", "cause", "found_in",
)  # fmt: skip


def _rows_of(items: str) -> str:
    """The (tenant, day, role) rows the work items ``items`` (alias ``r``) count in, into the
    trigger's ``changed_*`` arrays: a requirement by request (3) and delivery (1), a
    complaint (2) and a defect (4) by request."""
    return f"""SELECT array_agg(x.t), array_agg(x.d), array_agg(x.r)
        INTO changed_tenants, changed_days, changed_roles
        FROM (
            SELECT DISTINCT r.tenant_id AS t, (v.at AT TIME ZONE 'UTC')::date AS d, v.role AS r
            FROM {items}
            CROSS JOIN LATERAL (VALUES
                (r.requested_at, CASE r.kind WHEN 'requirement' THEN 3
                                             WHEN 'complaint' THEN 2 ELSE 4 END::smallint),
                (CASE WHEN r.kind = 'requirement' THEN r.delivered_at END, 1::smallint)
            ) AS v(at, role)
            WHERE v.at IS NOT NULL AND r.kind IN {_KINDS}
        ) x"""  # noqa: S608


def _changed(alias: str, columns: tuple[str, ...]) -> str:
    """The ``alias`` images (old ``o`` or new ``n``) of the rows of an update whose
    ``columns`` changed."""
    old = ", ".join(f"o.{c}" for c in columns)
    new = ", ".join(f"n.{c}" for c in columns)
    return (
        f"SELECT {alias}.* FROM old_rows o FULL JOIN new_rows n ON n.id = o.id "  # noqa: S608
        f"WHERE {alias}.id IS NOT NULL AND ROW({old}) IS DISTINCT FROM ROW({new})"
    )


def _trigger_function(name: str, enrolled: str, *, insert: str, update: str, delete: str) -> str:
    """A statement trigger's function: numbers the new persons of the new rows (column
    ``enrolled``), then recomputes the rollup rows of the items its statement touched."""
    return f"""
CREATE FUNCTION {name}() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    changed_tenants uuid[];
    changed_days date[];
    changed_roles smallint[];
    new_tenants uuid[];
    new_persons uuid[];
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT array_agg(n.tenant_id), array_agg(n.{enrolled}) INTO new_tenants, new_persons
        FROM new_rows n WHERE n.{enrolled} IS NOT NULL;
        PERFORM work_item_rollups_enrol(new_tenants, new_persons);
    END IF;
    IF TG_OP = 'INSERT' THEN
        {insert};
    ELSIF TG_OP = 'UPDATE' THEN
        {update};
    ELSE
        {delete};
    END IF;
    PERFORM work_item_rollups_refresh(changed_tenants, changed_days, changed_roles);
    RETURN NULL;
END
$$"""  # noqa: S608


_ITEM_CHANGES = f"({_changed('o', _FIGURE_COLUMNS)} UNION ALL {_changed('n', _FIGURE_COLUMNS)}) r"
_ON_ITEMS = _trigger_function(
    "work_items_refresh_rollups",
    "answered_by",
    insert=_rows_of("new_rows r"),
    update=_rows_of(_ITEM_CHANGES),
    delete=_rows_of("old_rows r"),
)


def _items_of(assignees: str) -> str:
    """The work items of the assignee rows ``assignees`` (alias ``r``). Those of a cascade
    from their own deletion are gone: the deleting statement recomputes their rows."""
    return (
        f"(SELECT w.* FROM {assignees} a JOIN work_items w "  # noqa: S608
        "ON w.tenant_id = a.tenant_id AND w.id = a.work_item_id) r"
    )


_ASSIGNEE_COLUMNS = ("tenant_id", "work_item_id", "employee_id")
_ASSIGNEE_CHANGES = (
    f"({_changed('o', _ASSIGNEE_COLUMNS)} UNION ALL {_changed('n', _ASSIGNEE_COLUMNS)})"
)
_ON_ASSIGNEES = _trigger_function(
    "work_item_assignees_refresh_rollups",
    "employee_id",
    insert=_rows_of(_items_of("new_rows")),
    update=_rows_of(_items_of(_ASSIGNEE_CHANGES)),
    delete=_rows_of(_items_of("old_rows")),
)


def _triggers(table: str, function: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_rollups_insert AFTER INSERT ON {table} "
        f"REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {table}_rollups_update AFTER UPDATE ON {table} "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {table}_rollups_delete AFTER DELETE ON {table} "
        f"REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
    ]


# The data there is, computed as the owner, who sees every tenant's rows once the tables'
# row-level security is not forced on it: for this transaction only (a migration is one
# transaction; FORCE is back before it commits).
_SOURCES = ("tenants", "work_items", "work_item_assignees")
_BACKFILL = [
    *(f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY' for table in _SOURCES),
    """SELECT work_item_rollups_enrol(array_agg(x.t), array_agg(x.p)) FROM (
        SELECT tenant_id AS t, employee_id AS p FROM work_item_assignees
        UNION SELECT tenant_id, answered_by FROM work_items WHERE answered_by IS NOT NULL
    ) x""",
    f"""DO $$
    DECLARE
        changed_tenants uuid[];
        changed_days date[];
        changed_roles smallint[];
    BEGIN
        {_rows_of("work_items r")};
        PERFORM work_item_rollups_refresh(changed_tenants, changed_days, changed_roles);
    END
    $$""",
    *(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY' for table in _SOURCES),
]


class Migration(migrations.Migration):
    dependencies = [("renshi", "0011_work_items_dashboard_idx")]

    initial = False

    operations = [
        ops.RunSQL(
            [_PEOPLE, _PEOPLE_COMMENT, _ROLLUPS, _ROLLUPS_COMMENT, _ENROL, _REFRESH],
            reverse_sql=[
                "DROP FUNCTION IF EXISTS work_item_rollups_refresh(uuid[], date[], smallint[])",
                "DROP FUNCTION IF EXISTS work_item_rollups_enrol(uuid[], uuid[])",
                "DROP TABLE IF EXISTS work_item_day_rollups",
                "DROP TABLE IF EXISTS work_item_rollup_people",
            ],
        ),
        ops.RunSQL(
            [
                _ON_ITEMS,
                _ON_ASSIGNEES,
                *_triggers("work_items", "work_items_refresh_rollups"),
                *_triggers("work_item_assignees", "work_item_assignees_refresh_rollups"),
            ],
            reverse_sql=[
                *(
                    f"DROP TRIGGER IF EXISTS {table}_rollups_{event} ON {table}"
                    for table in ("work_items", "work_item_assignees")
                    for event in ("insert", "update", "delete")
                ),
                "DROP FUNCTION IF EXISTS work_item_assignees_refresh_rollups()",
                "DROP FUNCTION IF EXISTS work_items_refresh_rollups()",
            ],
        ),
        ops.RunSQL(_BACKFILL, reverse_sql=[]),
        tenant_table("work_item_rollup_people"),
        tenant_table("work_item_day_rollups"),
    ]

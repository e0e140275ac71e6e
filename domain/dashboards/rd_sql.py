"""The SQL of the R&D dashboard: the period's work items in one statement, and a statement
each for before/after, scorecards and capabilities.

The period statement reads every work item the period's panels count, each in a role:

    1 delivered   requirements delivered in the period (on time, late by cause, cycle time,
                  and the complaints chart's denominator), bucketed by delivery
    2 complaint   complaints caused by R&D requested in the period, bucketed by request
    3 requested   requirements requested in the period (the funnel, one total)
    4 defect      bugs and incidents with a place found, requested in the period

A requirement delivered and requested in the period is read in both roles. Its people are
its assignees and (requirements) the person who answered it; an item is in scope when one
of them is in scope (``scope.scoped_people_sql``), and under an org-unit or level grouping it
counts once in each group its people in scope belong to. Reading and joining the items to
their people once for all six panels is most of what the dashboard costs: a statement per
panel would join the same rows six times.

Three shapes compute the same figures:

``fast``  the caller reaches everyone, no filter narrows the people, the grouping is by time:
          every person is in scope, so there is no ``people`` CTE. A requirement delivered
          and requested in the period is one row with both buckets. Items count straight
          from their rows: in scope when answered, or else when they have an assignee, as
          the assignee rows (read once, for the people too) tell. People count from one row
          per person with a bit per month or quarter they appear in (a hash of a few
          thousand people, instead of one of every person and month).
``general`` otherwise: item and person rows joined to ``people`` once (``members``), then
          each item once per group and each person once per group (hash aggregates).

``rollups`` the fast shape's case without a customer filter (``reads_rollups``): the same
          figures summed from ``work_item_day_rollups``, which the database keeps per tenant,
          UTC day and role (migration 0012 says how), instead of read from the work items.
          Before/after of the whole tenant reads them too (its windows are whole days).

All return the same columns: per (role, group) the item figures, and the people of the
group per panel (``*_people``), and one ``asked_people`` for the funnel.

Only placeholders and this module's constants are interpolated; values travel as parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from domain.dashboards.scope import Audience, DashboardFilter, Grouping, Params, scoped_people_sql
from domain.templates.work_items import CAUSES

TENANT = "$1"
REQUIREMENT = "requirement"
COMPLAINT = "complaint"
DEFECT_KINDS = ("bug", "incident")
# A null or unrecognised delay cause.
UNKNOWN_CAUSE = "unknown"
CAUSE_ORDER: tuple[str, ...] = (*CAUSES, UNKNOWN_CAUSE)
# Roles of the period statement's rows.
DELIVERED, COMPLAINED, REQUESTED, DEFECT = 1, 2, 3, 4
# Bits of a bigint the fast shape can give buckets (1 to 62): five years of months is 61.
MAX_BUCKETS = 62

# The end of a promised day in UTC (``derivation.end_of_day``): delivered before it is on time.
_ON_TIME = "(w.delivered_at < ((w.promised_on + 1)::timestamp AT TIME ZONE 'UTC'))"
# date_part (float) rather than extract (numeric, several times slower over many rows).
_CYCLE_DAYS = "(date_part('epoch', w.delivered_at - w.started_at) / 86400)"


@dataclass(frozen=True)
class Buckets:
    """The months or quarters of a time grouping as parameters: their first instants (for
    ``width_bucket``, a binary search per row) and their first days (the groups' keys)."""

    bounds: str
    days: str

    def index(self, column: str) -> str:
        return f"width_bucket({column}, {self.bounds})"

    def day(self, index: str) -> str:
        return f"({self.days})[{index}]"


def buckets(params: Params, starts: list[datetime], days: list[date]) -> Buckets:
    return Buckets(params.add(starts, "timestamptz[]"), params.add(days, "date[]"))


@dataclass(frozen=True)
class Frame:
    """How a statement reaches its people: the ``people`` CTE (empty: everyone, no join),
    how a row of a person joins it, and the key and name of the row's group."""

    people: str
    join: str  # with ``{who}``: the column holding the person's id
    key: str
    name: str

    def with_people(self) -> str:
        return f"people AS ({self.people})," if self.people else ""

    def joined(self, who: str) -> str:
        return self.join.format(who=who)

    @property
    def everyone(self) -> bool:
        return not self.people


_JOIN = " JOIN people p ON p.id = {who}"


def reaches_everyone(flt: DashboardFilter, audience: Audience) -> bool:
    """No reach limit and no filter on people: every employee of the tenant is in scope."""
    return (
        audience.visibility.everyone
        and flt.org_unit_id is None
        and flt.level is None
        and flt.skill_id is None
    )


def frame(flt: DashboardFilter, audience: Audience, params: Params) -> Frame:
    """The frame under the filter's grouping: the row's bucket for a time grouping (``i.grp``,
    set by the statement), else the person's unit or level."""
    if flt.time_unit is not None:
        return plain_frame(flt, audience, params, key="i.grp")
    scoped = scoped_people_sql(TENANT, flt, audience, params)
    if flt.group_by == Grouping.LEVEL:
        people = (
            "SELECT s.id, COALESCE(s.level, '') AS grp, NULL::text AS grp_name "  # noqa: S608
            f"FROM ({scoped}) s"
        )
    else:
        people = _org_people(scoped, flt, params)
    return Frame(people, _JOIN, "p.grp", "p.grp_name")


def plain_frame(
    flt: DashboardFilter, audience: Audience, params: Params, *, key: str = "NULL::text"
) -> Frame:
    """The frame of a statement not grouped by people: scope only."""
    if reaches_everyone(flt, audience):
        return Frame("", "", key, "NULL::text")
    return Frame(scoped_people_sql(TENANT, flt, audience, params), _JOIN, key, "NULL::text")


def _org_people(scoped: str, flt: DashboardFilter, params: Params) -> str:
    """Each person's unit rolled up to the direct children of the filter's unit (a person in
    that unit itself stays in it), or to the top-level units: the ltree label at that depth
    of the unit's path is the group unit's id. People without a unit: key ''."""
    if flt.org_unit_id is not None:
        root = params.add(flt.org_unit_id, "uuid")
        depth = (
            f"(SELECT nlevel(r.path) FROM org_units r WHERE r.tenant_id = {TENANT} "  # noqa: S608
            f"AND r.id = {root})"
        )
    else:
        depth = "0"
    label = f"ltree2text(subpath(u.path, LEAST({depth}, nlevel(u.path) - 1), 1))"
    return (
        f"SELECT s.id, COALESCE(g.id::text, '') AS grp, g.name AS grp_name FROM ({scoped}) s "  # noqa: S608
        f"LEFT JOIN org_units u ON u.tenant_id = {TENANT} AND u.id = s.org_unit_id "
        f"LEFT JOIN org_units g ON g.tenant_id = {TENANT} AND g.id = {label}::uuid"
    )


def _customer(flt: DashboardFilter, params: Params) -> str:
    if flt.customer is None:
        return ""
    return f" AND w.customer = {params.add(flt.customer, 'text')}"


@dataclass(frozen=True)
class Period:
    """The bounds of the statement's dates, as parameter placeholders."""

    start: str
    end: str


def period(params: Params, start: datetime, end: datetime) -> Period:
    return Period(params.add(start, "timestamptz"), params.add(end, "timestamptz"))


def _members(frame: Frame, columns: str) -> str:
    """One row per item and person in scope, with the row's group: the item's assignees
    and the person who answered it."""
    return (
        f"SELECT {columns}, a.employee_id, {frame.key} AS grp_key, {frame.name} AS grp_name "  # noqa: S608
        f"FROM items i JOIN work_item_assignees a ON a.tenant_id = {TENANT} "
        f"AND a.work_item_id = i.id{frame.joined('a.employee_id')} "
        f"UNION ALL SELECT {columns}, i.answered_by, {frame.key}, {frame.name} "
        f"FROM items i{frame.joined('i.answered_by')} WHERE i.answered_by IS NOT NULL"
    )


# An item is in scope, when everyone is, if somebody answered it or it has an assignee. The
# probe runs only for unanswered items (its condition on the outer row is checked first).
_ASSIGNED = f"""LEFT JOIN LATERAL (
    SELECT true AS assigned FROM work_item_assignees a
    WHERE i.answered_by IS NULL AND a.tenant_id = {TENANT} AND a.work_item_id = i.id LIMIT 1
) x ON true
WHERE i.answered_by IS NOT NULL OR x.assigned"""  # noqa: S608


# --- the period ---------------------------------------------------------------------------------


def period_items(flt: DashboardFilter, params: Params, at: Period, grid: Buckets | None) -> str:
    """The items of the period in their roles (``grp``: the bucket's index under a time
    grouping, else null)."""
    customer = _customer(flt, params)
    causes = params.add(list(CAUSES), "text[]")
    kinds = params.add(list(DEFECT_KINDS), "text[]")

    def bucket(column: str) -> str:
        return grid.index(column) if grid is not None else "NULL::int"

    return f"""items AS MATERIALIZED (
    SELECT w.id, w.answered_by, {DELIVERED} AS role, {bucket("w.delivered_at")} AS grp,
           w.promised_on IS NOT NULL AS promised, {_ON_TIME} AS hit,
           CASE WHEN w.delay_cause = ANY({causes}) THEN w.delay_cause
                ELSE '{UNKNOWN_CAUSE}' END AS cause,
           {_CYCLE_DAYS} AS days, NULL::boolean AS flag
    FROM work_items w
    WHERE w.tenant_id = {TENANT} AND w.kind = '{REQUIREMENT}'
      AND w.delivered_at >= {at.start} AND w.delivered_at < {at.end}{customer}
    UNION ALL
    SELECT w.id, NULL::uuid, {COMPLAINED}, {bucket("w.requested_at")}, NULL, NULL, NULL, NULL,
           NULL
    FROM work_items w
    WHERE w.tenant_id = {TENANT} AND w.kind = '{COMPLAINT}' AND w.cause = 'rd'
      AND w.requested_at >= {at.start} AND w.requested_at < {at.end}{customer}
    UNION ALL
    SELECT w.id, w.answered_by, {REQUESTED}, {bucket("w.requested_at")},
           w.promised_on IS NOT NULL, w.promised_on IS NOT NULL AND {_ON_TIME}, NULL, NULL,
           w.answered_at <= w.requested_at + interval '24 hours'
    FROM work_items w
    WHERE w.tenant_id = {TENANT} AND w.kind = '{REQUIREMENT}'
      AND w.requested_at >= {at.start} AND w.requested_at < {at.end}{customer}
    UNION ALL
    SELECT w.id, NULL::uuid, {DEFECT}, {bucket("w.requested_at")}, NULL, NULL, NULL, NULL,
           w.found_in = 'production'
    FROM work_items w
    WHERE w.tenant_id = {TENANT} AND w.kind = ANY({kinds}) AND w.found_in IS NOT NULL
      AND w.requested_at >= {at.start} AND w.requested_at < {at.end}{customer}
)"""  # noqa: S608


def _item_figures(params: Params) -> str:
    """The figures of a set of items (one row each): the funnel's and escaped defects' come
    from ``promised``, ``hit`` and ``flag`` of their roles."""
    late = ",\n       ".join(
        f"count(*) FILTER (WHERE promised AND NOT hit AND cause = {params.add(cause, 'text')})"
        f"::int AS late_{index}"
        for index, cause in enumerate(CAUSE_ORDER)
    )
    return f"""count(*)::int AS n,
       count(*) FILTER (WHERE promised)::int AS promised,
       count(*) FILTER (WHERE hit)::int AS hits,
       count(*) FILTER (WHERE promised AND NOT hit)::int AS late,
       {late},
       count(*) FILTER (WHERE flag)::int AS flagged,
       count(days)::int AS cycle_n,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY days) AS median,
       percentile_cont(0.8) WITHIN GROUP (ORDER BY days) AS p80"""


# The item figures' columns, in the order ``_item_figures`` gives them.
FIGURES: tuple[str, ...] = (
    "n", "promised", "hits", "late", *(f"late_{i}" for i in range(len(CAUSE_ORDER))),
    "flagged", "cycle_n", "median", "p80",
)  # fmt: skip


def _listed(prefix: str, names: tuple[str, ...]) -> str:
    return ", ".join(f"{prefix}{name}" for name in names)


# Which rows make a person count for a panel: everyone behind the complaints chart, the due
# items (on time), the late ones, the cycle times and the defects.
_PERSON_FLAGS = (
    ("people", f"role IN ({DELIVERED}, {COMPLAINED})"),
    ("due_people", f"role = {DELIVERED} AND promised"),
    ("late_people", f"role = {DELIVERED} AND promised AND NOT hit"),
    ("cycle_people", f"role = {DELIVERED} AND days IS NOT NULL"),
    ("defect_people", f"role = {DEFECT}"),
)
PEOPLE: tuple[str, ...] = tuple(name for name, _ in _PERSON_FLAGS)


# Each item's part in the people counts of the fast shape, as bits of its buckets (``d``:
# delivery, ``r``: request), computed once per item rather than once per item and person:
# everyone behind the complaints chart, the due items (on time), the late ones, the cycle
# times and the defects. ``1 << NULL`` is NULL, which ``bit_or`` skips.
_FAST_MASKS = (
    (
        "people",
        f"CASE role WHEN {DELIVERED} THEN 1::bigint << d WHEN {COMPLAINED} THEN 1::bigint << r END",
    ),
    ("due_people", f"CASE WHEN role = {DELIVERED} AND promised THEN 1::bigint << d END"),
    (
        "late_people",
        f"CASE WHEN role = {DELIVERED} AND promised AND NOT hit THEN 1::bigint << d END",
    ),
    (
        "cycle_people",
        f"CASE WHEN role = {DELIVERED} AND days IS NOT NULL THEN 1::bigint << d END",
    ),
    ("defect_people", f"CASE WHEN role = {DEFECT} THEN 1::bigint << r END"),
)


def _cycle_quantiles() -> str:
    """Median and P80 of ``days`` from one sort (``percentile_cont`` of an array)."""
    return "percentile_cont(ARRAY[0.5, 0.8]::float8[]) WITHIN GROUP (ORDER BY days)"


def period_fast(flt: DashboardFilter, params: Params, at: Period, grid: Buckets) -> str:
    """The period statement when everyone is in scope and the grouping is by time.

    A requirement delivered and requested in the period is one row here, with both buckets
    (``d``: delivery, ``r``: request), and each item carries its part in the people counts
    as bit masks (``_FAST_MASKS``). The items are joined to their assignees once, by one
    outer join aggregated per person (a bit-or of the masks): an item nobody answered and
    nobody is assigned to comes out of it with no person (``orphans``), and only those are
    left out of the item figures: no per-item probe of the assignees, no sort by item."""
    customer = _customer(flt, params)
    causes = params.add(list(CAUSES), "text[]")
    kinds = params.add(list(DEFECT_KINDS), "text[]")
    delivered = f"w.delivered_at >= {at.start} AND w.delivered_at < {at.end}"
    requested = f"w.requested_at >= {at.start} AND w.requested_at < {at.end}"
    requirement = f"""w.id, w.answered_by, {DELIVERED} AS role,
           CASE WHEN {delivered} THEN {grid.index("w.delivered_at")} END AS d,
           CASE WHEN {requested} THEN {grid.index("w.requested_at")} END AS r,
           w.promised_on IS NOT NULL AS promised, COALESCE({_ON_TIME}, false) AS hit,
           CASE WHEN w.delay_cause = ANY({causes}) THEN w.delay_cause
                ELSE '{UNKNOWN_CAUSE}' END AS cause,
           {_CYCLE_DAYS} AS days,
           w.answered_at <= w.requested_at + interval '24 hours' AS flag"""
    item_masks = ",\n           ".join(
        f"{expression} AS m_{name}" for name, expression in _FAST_MASKS
    )
    person_masks = ",\n           ".join(f"bit_or(m_{name}) AS {name}" for name in PEOPLE)
    counts = ",\n       ".join(
        f"count(*) FILTER (WHERE {name} & (1::bigint << b) <> 0)::int AS {name}" for name in PEOPLE
    )
    item_columns = ", ".join(f"i.m_{name}" for name in PEOPLE)
    late = ",\n       ".join(
        f"count(*) FILTER (WHERE promised AND NOT hit AND cause = {params.add(cause, 'text')})"
        f"::int AS late_{index}"
        for index, cause in enumerate(CAUSE_ORDER)
    )

    # Only the items the outer join found nobody behind are out (a hashed set, mostly empty).
    in_scope = "AND id NOT IN (SELECT o.id FROM orphans o)"

    def figures(quantiles: bool) -> str:
        cycle = (
            f"count(days)::int AS cycle_n, {_cycle_quantiles()} AS q"
            if quantiles
            else "count(days)::int AS cycle_n, NULL::float8[] AS q"
        )
        return f"""count(*)::int AS n,
       count(*) FILTER (WHERE promised)::int AS promised,
       count(*) FILTER (WHERE hit)::int AS hits,
       count(*) FILTER (WHERE promised AND NOT hit)::int AS late,
       {late},
       count(*) FILTER (WHERE flag)::int AS flagged,
       {cycle}"""

    return f"""
WITH items AS MATERIALIZED (
    SELECT u.*, {item_masks}
    FROM (
        SELECT {requirement}
        FROM work_items w
        WHERE w.tenant_id = {TENANT} AND w.kind = '{REQUIREMENT}' AND {delivered}{customer}
        UNION ALL
        SELECT {requirement}
        FROM work_items w
        WHERE w.tenant_id = {TENANT} AND w.kind = '{REQUIREMENT}' AND {requested}{customer}
          AND (w.delivered_at IS NULL OR w.delivered_at < {at.start}
               OR w.delivered_at >= {at.end})
        UNION ALL
        SELECT w.id, NULL::uuid, {COMPLAINED}, NULL, {grid.index("w.requested_at")}, NULL,
               NULL, NULL, NULL, NULL
        FROM work_items w
        WHERE w.tenant_id = {TENANT} AND w.kind = '{COMPLAINT}' AND w.cause = 'rd'
          AND {requested}{customer}
        UNION ALL
        SELECT w.id, NULL::uuid, {DEFECT}, NULL, {grid.index("w.requested_at")}, NULL, NULL,
               NULL, NULL, w.found_in = 'production'
        FROM work_items w
        WHERE w.tenant_id = {TENANT} AND w.kind = ANY({kinds}) AND w.found_in IS NOT NULL
          AND {requested}{customer}
    ) u
    ORDER BY u.id
),
masks AS MATERIALIZED (
    SELECT employee_id,
           {person_masks},
           bool_or(asked) AS asked,
           array_agg(id) FILTER (WHERE employee_id IS NULL AND answered_by IS NULL) AS orphans
    FROM (SELECT a.employee_id, i.id, i.answered_by, {item_columns},
                 i.role = {DELIVERED} AND i.r IS NOT NULL AS asked
          FROM items i
          LEFT JOIN work_item_assignees a ON a.tenant_id = {TENANT} AND a.work_item_id = i.id
          UNION ALL
          SELECT i.answered_by, i.id, i.answered_by, {item_columns},
                 i.role = {DELIVERED} AND i.r IS NOT NULL
          FROM items i WHERE i.answered_by IS NOT NULL) m
    GROUP BY employee_id
),
orphans AS (SELECT unnest(orphans) AS id FROM masks WHERE employee_id IS NULL),
counts AS (
    SELECT {DELIVERED} AS role, d AS grp, {figures(True)}
    FROM items WHERE role = {DELIVERED} AND d IS NOT NULL {in_scope} GROUP BY d
    UNION ALL
    SELECT {REQUESTED}, r, {figures(False)}
    FROM items WHERE role = {DELIVERED} AND r IS NOT NULL {in_scope} GROUP BY r
    UNION ALL
    SELECT role, r, {figures(False)}
    FROM items WHERE role IN ({COMPLAINED}, {DEFECT}) {in_scope} GROUP BY role, r
),
people_counts AS (
    SELECT b AS grp,
       {counts}
    FROM masks CROSS JOIN generate_series(1, cardinality({grid.days})) b
    WHERE employee_id IS NOT NULL
    GROUP BY b
)
SELECT c.role, {grid.day("c.grp")} AS grp, NULL::text AS grp_name,
       {_listed("c.", FIGURES[:-2])}, c.q[1] AS median, c.q[2] AS p80,
       {_listed("pc.", PEOPLE)},
       (SELECT count(*) FILTER (WHERE asked) FROM masks
        WHERE employee_id IS NOT NULL)::int AS asked_people
FROM counts c LEFT JOIN people_counts pc ON pc.grp = c.grp
"""  # noqa: S608


def period_general(
    frame: Frame, flt: DashboardFilter, params: Params, at: Period, grid: Buckets | None
) -> str:
    """The period statement through ``people``: any scope, any grouping."""
    items = period_items(flt, params, at, grid)
    figures = _item_figures(params)
    flags = ",\n           ".join(
        f"bool_or({condition}) AS {name}" for name, condition in _PERSON_FLAGS
    )
    counts = ",\n           ".join(
        f"count(*) FILTER (WHERE {name})::int AS {name}" for name, _ in _PERSON_FLAGS
    )
    columns = "i.id, i.role, i.promised, i.hit, i.cause, i.days, i.flag"
    # Under a time grouping ``grp_key`` is the bucket's index: its first day is the key.
    key = grid.day("c.grp_key") if grid is not None else "c.grp_key"
    return f"""
WITH {frame.with_people()}
{items},
members AS ({_members(frame, columns)}),
per_item AS (
    SELECT role, grp_key, grp_name, id, promised, hit, cause, days, flag FROM members
    WHERE role <> {REQUESTED}
    GROUP BY role, grp_key, grp_name, id, promised, hit, cause, days, flag
),
asked AS (
    SELECT id, promised, hit, cause, days, flag FROM members WHERE role = {REQUESTED}
    GROUP BY id, promised, hit, cause, days, flag
),
per_person AS (
    SELECT grp_key, employee_id,
           {flags}
    FROM members WHERE role <> {REQUESTED} GROUP BY grp_key, employee_id
),
people_counts AS (
    SELECT grp_key,
           {counts}
    FROM per_person GROUP BY grp_key
)
SELECT c.role, {key} AS grp, c.grp_name, {_listed("c.", FIGURES)}, {_listed("pc.", PEOPLE)},
       NULL::int AS asked_people
FROM (SELECT role, grp_key, grp_name, {figures} FROM per_item GROUP BY role, grp_key, grp_name) c
LEFT JOIN people_counts pc ON pc.grp_key = c.grp_key
UNION ALL
SELECT {REQUESTED}, NULL, NULL, {_listed("f.", FIGURES)}, {", ".join("NULL" for _ in PEOPLE)},
       (SELECT count(DISTINCT employee_id) FROM members WHERE role = {REQUESTED})::int
FROM (SELECT {figures} FROM asked) f
"""  # noqa: S608


# --- the whole tenant from the day rollups -----------------------------------------------------

ROLLUPS = "work_item_day_rollups"


def reads_rollups(flt: DashboardFilter, audience: Audience) -> bool:
    """Everyone in scope and no customer filter: the day rollups hold the figures."""
    return reaches_everyone(flt, audience) and flt.customer is None


def _padded(column: str) -> str:
    """A person bitmap widened to ``width`` (a map is as wide as the tenant's numbered
    people when its day was last computed; bit_or wants them alike)."""
    return f"({column} || repeat('0', width - length({column}))::varbit)"


def _union_count(column: str, condition: str) -> str:
    """The people of the rows meeting ``condition``: the bits set in the or of their maps."""
    return f"COALESCE(bit_count(bit_or({_padded(column)}) FILTER (WHERE {condition})), 0)::int"


def period_rollups(params: Params, first_day: str, last_day: str, bucket_days: str) -> str:
    """The period statement of the whole tenant under a time grouping, from
    ``work_item_day_rollups`` (migration 0012 defines its rows): the figures are sums of
    the days' counts, the cycle quantiles one sort of the days' cycle times, the people
    the bits of the or of the days' person bitmaps. ``bucket_days``: the first days of the
    months or quarters (a ``date[]``). Same columns as ``period_fast``."""
    known = [
        f"COALESCE(sum((late_causes ->> {params.add(cause, 'text')})::int), 0)::int AS late_{index}"
        for index, cause in enumerate(CAUSES)
    ]
    known_sum = " + ".join(f"f.late_{index}" for index in range(len(CAUSES)))
    late_columns = ", ".join(f"f.late_{index}" for index in range(len(CAUSES)))
    unknown = len(CAUSE_ORDER) - 1
    return f"""
WITH d AS MATERIALIZED (
    SELECT r.role, width_bucket(r.day, {bucket_days}) AS b, r.n, r.promised, r.hits, r.late,
           r.late_causes, r.flagged, r.cycle_days, r.people, r.due_people, r.late_people,
           r.cycle_people, max(length(r.people)) OVER () AS width
    FROM {ROLLUPS} r
    WHERE r.tenant_id = {TENANT} AND r.day >= {first_day} AND r.day <= {last_day}
),
figures AS (
    SELECT role, b, sum(n)::int AS n, sum(promised)::int AS promised, sum(hits)::int AS hits,
           sum(late)::int AS late, {", ".join(known)}, sum(flagged)::int AS flagged
    FROM d GROUP BY role, b
),
cycles AS (
    SELECT b, count(*)::int AS cycle_n, {_cycle_quantiles()} AS q
    FROM (SELECT b, unnest(cycle_days) AS days FROM d WHERE role = {DELIVERED}) c
    GROUP BY b
),
people_counts AS (
    SELECT b,
           {_union_count("people", f"role IN ({DELIVERED}, {COMPLAINED})")} AS people,
           {_union_count("due_people", f"role = {DELIVERED}")} AS due_people,
           {_union_count("late_people", f"role = {DELIVERED}")} AS late_people,
           {_union_count("cycle_people", f"role = {DELIVERED}")} AS cycle_people,
           {_union_count("people", f"role = {DEFECT}")} AS defect_people
    FROM d GROUP BY b
)
SELECT f.role, ({bucket_days})[f.b] AS grp, NULL::text AS grp_name, f.n, f.promised, f.hits,
       f.late, {late_columns}, f.late - ({known_sum}) AS late_{unknown}, f.flagged,
       COALESCE(c.cycle_n, 0) AS cycle_n, c.q[1] AS median, c.q[2] AS p80,
       {_listed("pc.", PEOPLE)},
       (SELECT {_union_count("people", f"role = {REQUESTED}")} FROM d) AS asked_people
FROM figures f
LEFT JOIN cycles c ON c.b = f.b AND f.role = {DELIVERED}
LEFT JOIN people_counts pc ON pc.b = f.b
"""  # noqa: S608


def before_after_rollups(first_day: str, end_day: str, change_day: str) -> str:
    """``before_after`` of the whole tenant from the day rollups: the delivered rows of the
    windows' days (both day-aligned), their cycle times and the people behind those."""
    return f"""
WITH d AS MATERIALIZED (
    SELECT r.day >= {change_day} AS after, r.cycle_days, r.cycle_people,
           max(length(r.cycle_people)) OVER () AS width
    FROM {ROLLUPS} r
    WHERE r.tenant_id = {TENANT} AND r.role = {DELIVERED} AND r.day >= {first_day}
      AND r.day < {end_day} AND cardinality(r.cycle_days) > 0
),
sides AS (
    SELECT after, count(*)::int AS n, {_cycle_quantiles()} AS q, array_agg(days) AS days
    FROM (SELECT after, unnest(cycle_days) AS days FROM d) c
    GROUP BY after
),
people_counts AS (
    SELECT after, {_union_count("cycle_people", "true")} AS people FROM d GROUP BY after
)
SELECT s.after, s.n, s.q[1] AS median, s.q[2] AS p80, s.days, pc.people
FROM sides s JOIN people_counts pc ON pc.after = s.after
"""  # noqa: S608


# --- the other panels ---------------------------------------------------------------------------


def before_after(
    frame: Frame, flt: DashboardFilter, params: Params, at: Period, change: str
) -> str:
    """Requirements delivered in ``at`` (the two windows), on either side of ``change``: per
    side n, median, P80, the cycle days themselves (for the rank test) and the people."""
    customer = _customer(flt, params)
    # In id order when everyone is in scope: merged with the assignees' unique index below.
    order = "\n    ORDER BY w.id" if frame.everyone else ""
    items = f"""items AS MATERIALIZED (
    SELECT w.id, w.answered_by, w.delivered_at >= {change} AS after, {_CYCLE_DAYS} AS days
    FROM work_items w
    WHERE w.tenant_id = {TENANT} AND w.kind = '{REQUIREMENT}' AND w.started_at IS NOT NULL
      AND w.delivered_at >= {at.start} AND w.delivered_at < {at.end}{customer}{order}
)"""  # noqa: S608
    sides = f"""SELECT after, count(*)::int AS n, {_cycle_quantiles()} AS q,
           array_agg(days) AS days"""
    if frame.everyone:
        # As in ``period_fast``: one outer join of the items (in id order, merged with the
        # assignees' unique index) per person; items with nobody behind them are out.
        return f"""
WITH {items},
persons AS MATERIALIZED (
    SELECT employee_id, bool_and(after) AS after_only, bool_or(after) AS after_any,
           array_agg(id) FILTER (WHERE employee_id IS NULL AND answered_by IS NULL) AS orphans
    FROM (SELECT a.employee_id, i.id, i.answered_by, i.after FROM items i
          LEFT JOIN work_item_assignees a ON a.tenant_id = {TENANT} AND a.work_item_id = i.id
          UNION ALL
          SELECT i.answered_by, i.id, i.answered_by, i.after FROM items i
          WHERE i.answered_by IS NOT NULL) m
    GROUP BY employee_id
),
sides AS (
    {sides} FROM items
    WHERE id NOT IN (SELECT unnest(orphans) FROM persons WHERE employee_id IS NULL)
    GROUP BY after
),
people_counts AS (
    SELECT count(*) FILTER (WHERE NOT after_only)::int AS before_people,
           count(*) FILTER (WHERE after_any)::int AS after_people
    FROM persons WHERE employee_id IS NOT NULL
)
SELECT s.after, s.n, s.q[1] AS median, s.q[2] AS p80, s.days,
       CASE WHEN s.after THEN pc.after_people ELSE pc.before_people END AS people
FROM sides s CROSS JOIN people_counts pc
"""  # noqa: S608
    return f"""
WITH {frame.with_people()}
{items},
members AS ({_members(frame, "i.id, i.after, i.days")}),
per_item AS (SELECT id, after, days FROM members GROUP BY id, after, days),
sides AS ({sides} FROM per_item GROUP BY after)
SELECT s.after, s.n, s.q[1] AS median, s.q[2] AS p80, s.days, pp.people
FROM sides s
JOIN (SELECT after, count(*)::int AS people
      FROM (SELECT after, employee_id FROM members GROUP BY after, employee_id) x
      GROUP BY after) pp
  ON pp.after = s.after
"""  # noqa: S608


def scorecards(frame: Frame, params: Params, first_day: str, last_day: str) -> str:
    """Totals of the scorecards of periods ending within the period, per scored level."""
    joined = frame.joined("sc.employee_id")
    return f"""
WITH {frame.with_people()}
cards AS (
    SELECT COALESCE(sc.level, '') AS grp, sc.total, sc.employee_id
    FROM scorecards sc
    JOIN periods pr ON pr.tenant_id = {TENANT} AND pr.id = sc.period_id{joined}
    WHERE sc.tenant_id = {TENANT} AND sc.total IS NOT NULL
      AND pr.ends_on >= {first_day} AND pr.ends_on <= {last_day}
)
SELECT grp, count(*)::int AS n, min(total) AS min,
       percentile_cont(0.25) WITHIN GROUP (ORDER BY total) AS q1,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY total) AS median,
       percentile_cont(0.75) WITHIN GROUP (ORDER BY total) AS q3,
       max(total) AS max, avg(total) AS mean,
       count(DISTINCT employee_id)::int AS people
FROM cards GROUP BY grp
"""  # noqa: S608


def capability(flt: DashboardFilter, audience: Audience, params: Params) -> str:
    """People in scope who are still here, by skill of the catalogue and level: how many hold
    the skill and their mean level in it."""
    scoped = scoped_people_sql(TENANT, flt, audience, params)
    return f"""
WITH people AS ({scoped})
SELECT s.skill_id, k.name, k.name_en, k.name_zh, COALESCE(p.level, '') AS grp,
       count(*)::int AS head_count, avg(s.level)::float8 AS mean_level
FROM employee_skills s
JOIN people p ON p.id = s.employee_id
JOIN employees e ON e.tenant_id = {TENANT} AND e.id = s.employee_id
JOIN skills k ON k.tenant_id = {TENANT} AND k.id = s.skill_id
WHERE s.tenant_id = {TENANT} AND k.archived_at IS NULL
  AND e.archived_at IS NULL AND e.status <> 'left'
GROUP BY s.skill_id, k.name, k.name_en, k.name_zh, p.level
"""  # noqa: S608

"""The baseline of ``bench.dashboards``: the R&D dashboard's aggregates in plain SQL.

One statement per panel, written from the panels' definitions (issue 7's ``rdDashboard``
contract and ``domain.dashboards.rd``'s docstring) for the benchmark's caller: an HR user,
who sees every employee, with no narrowing filter. A work item counts when one of its
assignees is in scope, a requirement also through the person who answered it; with everyone
in scope that is "has an assignee (or an answerer)", every assignee being an employee of the
tenant, so the statements join the assignees and no list of people. ``people`` counts the
distinct persons behind a group (assignees, and for requirements the answerer). Months are
``date_trunc('month', ...)`` in UTC over a ``generate_series`` of the period, so empty months
are listed too. Each figure was checked once against the dashboard's (people, quantiles,
before/after, scorecards and the heat map included); the benchmark checks the counts.

``run_panels`` runs them one after the other in one tenant transaction (``set_config(
'app.tenant_id', ...)`` as the application role, as a request does) and returns the rows.
No statistics, labels or suppression: the least the database has to do for the dashboard.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from typing import Any

from tenants.scope import TenantID, tenant_transaction

# $1 tenant, $2 the first day, $3 the last day (both included).
_MONTHS = (
    "months AS (SELECT generate_series(date_trunc('month', $2::date), "
    "date_trunc('month', $3::date), interval '1 month')::date AS month)"
)
# The period as UTC instants: from the first day's midnight to the midnight after the last.
_IN_PERIOD = (
    "{col} >= $2::date::timestamp AT TIME ZONE 'UTC' "
    "AND {col} < ($3::date + 1)::timestamp AT TIME ZONE 'UTC'"
)
_MONTH_OF = "date_trunc('month', {col} AT TIME ZONE 'UTC')::date"
_LATE = "w.delivered_at >= (w.promised_on + 1)::timestamp AT TIME ZONE 'UTC'"
_DAYS = "extract(epoch FROM w.delivered_at - w.started_at)::float8 / 86400"
_CAUSES = "('rd', 'sales_overpromise', 'customer_change', 'external')"
# Each item of ``items`` with a person in scope behind it: its assignees and the person who
# answered it (requests are in scope through either); one row per (item, person).
_MEMBERS = """SELECT i.*, a.employee_id AS person FROM items i
    JOIN work_item_assignees a ON a.tenant_id = $1 AND a.work_item_id = i.id
    UNION ALL SELECT i.*, i.answered_by FROM items i WHERE i.answered_by IS NOT NULL"""

# Requirements with a promised date delivered in the month: on time (hits) of all, people.
ON_TIME = f"""
WITH {_MONTHS},
items AS (
    SELECT w.id, w.answered_by, {_MONTH_OF.format(col="w.delivered_at")} AS month,
           NOT ({_LATE}) AS hit
    FROM work_items w
    WHERE w.tenant_id = $1 AND w.kind = 'requirement' AND w.promised_on IS NOT NULL
      AND {_IN_PERIOD.format(col="w.delivered_at")}
),
members AS ({_MEMBERS})
SELECT m.month, count(DISTINCT i.id) FILTER (WHERE i.hit) AS hits, count(DISTINCT i.id) AS n,
       count(DISTINCT i.person) AS people
FROM months m
LEFT JOIN members i ON i.month = m.month
GROUP BY m.month ORDER BY m.month
"""  # noqa: S608

LATE_BY_CAUSE = f"""
WITH {_MONTHS},
items AS (
    SELECT w.id, w.answered_by, {_MONTH_OF.format(col="w.delivered_at")} AS month,
           CASE WHEN w.delay_cause IN {_CAUSES} THEN w.delay_cause ELSE 'unknown' END AS cause
    FROM work_items w
    WHERE w.tenant_id = $1 AND w.kind = 'requirement' AND w.promised_on IS NOT NULL
      AND {_IN_PERIOD.format(col="w.delivered_at")} AND {_LATE}
),
members AS ({_MEMBERS})
SELECT m.month, i.cause, count(DISTINCT i.id) AS late, count(DISTINCT i.person) AS people
FROM months m
LEFT JOIN members i ON i.month = m.month
GROUP BY GROUPING SETS ((m.month), (m.month, i.cause)) ORDER BY m.month, i.cause NULLS FIRST
"""  # noqa: S608

COMPLAINTS = f"""
WITH {_MONTHS},
items AS (
    SELECT w.id, NULL::uuid AS answered_by, {_MONTH_OF.format(col="w.requested_at")} AS month,
           true AS complaint
    FROM work_items w
    WHERE w.tenant_id = $1 AND w.kind = 'complaint' AND w.cause = 'rd'
      AND {_IN_PERIOD.format(col="w.requested_at")}
    UNION ALL
    SELECT w.id, w.answered_by, {_MONTH_OF.format(col="w.delivered_at")}, false
    FROM work_items w
    WHERE w.tenant_id = $1 AND w.kind = 'requirement'
      AND {_IN_PERIOD.format(col="w.delivered_at")}
),
members AS ({_MEMBERS})
SELECT m.month, count(DISTINCT i.id) FILTER (WHERE i.complaint) AS complaints,
       count(DISTINCT i.id) FILTER (WHERE NOT i.complaint) AS delivered,
       count(DISTINCT i.person) AS people
FROM months m
LEFT JOIN members i ON i.month = m.month
GROUP BY m.month ORDER BY m.month
"""  # noqa: S608

# Quantiles over each item once (ordered-set aggregates take no DISTINCT), people apart.
CYCLE_TIME = f"""
WITH {_MONTHS},
items AS (
    SELECT w.id, w.answered_by, {_MONTH_OF.format(col="w.delivered_at")} AS month,
           {_DAYS} AS days
    FROM work_items w
    WHERE w.tenant_id = $1 AND w.kind = 'requirement' AND w.started_at IS NOT NULL
      AND {_IN_PERIOD.format(col="w.delivered_at")}
      AND (w.answered_by IS NOT NULL OR EXISTS (SELECT 1 FROM work_item_assignees a
           WHERE a.tenant_id = $1 AND a.work_item_id = w.id))
),
quantiles AS (
    SELECT month, count(*) AS n,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY days) AS median,
           percentile_cont(0.8) WITHIN GROUP (ORDER BY days) AS p80
    FROM items GROUP BY month
),
members AS ({_MEMBERS}),
people AS (SELECT month, count(DISTINCT person) AS people FROM members GROUP BY month)
SELECT m.month, coalesce(q.n, 0) AS n, q.median, q.p80, coalesce(p.people, 0) AS people
FROM months m LEFT JOIN quantiles q ON q.month = m.month LEFT JOIN people p ON p.month = m.month
ORDER BY m.month
"""  # noqa: S608

ESCAPED_DEFECTS = f"""
WITH {_MONTHS},
items AS (
    SELECT w.id, {_MONTH_OF.format(col="w.requested_at")} AS month,
           w.found_in = 'production' AS hit
    FROM work_items w
    WHERE w.tenant_id = $1 AND w.kind IN ('bug', 'incident') AND w.found_in IS NOT NULL
      AND w.status <> 'cancelled' AND {_IN_PERIOD.format(col="w.requested_at")}
)
SELECT m.month, count(DISTINCT i.id) FILTER (WHERE i.hit) AS hits, count(DISTINCT i.id) AS n,
       count(DISTINCT a.employee_id) AS people
FROM months m
LEFT JOIN (items i JOIN work_item_assignees a ON a.tenant_id = $1 AND a.work_item_id = i.id)
  ON i.month = m.month
GROUP BY m.month ORDER BY m.month
"""  # noqa: S608

# $2 the change day, $3 the window in days: requirements delivered in the window before the
# change day and in the window from it on; the cycle days of each side for the rank test.
BEFORE_AFTER = f"""
WITH items AS (
    SELECT w.id, w.answered_by,
           w.delivered_at >= $2::date::timestamp AT TIME ZONE 'UTC' AS after,
           {_DAYS} AS days
    FROM work_items w
    WHERE w.tenant_id = $1 AND w.kind = 'requirement' AND w.started_at IS NOT NULL
      AND w.delivered_at >= ($2::date - $3::int)::timestamp AT TIME ZONE 'UTC'
      AND w.delivered_at < ($2::date + $3::int)::timestamp AT TIME ZONE 'UTC'
      AND (w.answered_by IS NOT NULL OR EXISTS (SELECT 1 FROM work_item_assignees a
           WHERE a.tenant_id = $1 AND a.work_item_id = w.id))
),
sides AS (
    SELECT after, count(*) AS n, array_agg(days) AS days,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY days) AS median,
           percentile_cont(0.8) WITHIN GROUP (ORDER BY days) AS p80
    FROM items GROUP BY after
),
members AS ({_MEMBERS}),
people AS (SELECT after, count(DISTINCT person) AS people FROM members GROUP BY after)
SELECT s.after, s.n, s.median, s.p80, s.days, p.people
FROM sides s JOIN people p ON p.after = s.after ORDER BY s.after
"""  # noqa: S608

# Totals of the scorecards of periods ending in the period, per level the card was scored at.
SCORECARDS = """
SELECT s.level, count(*) AS n, min(s.total) AS min,
       percentile_cont(0.25) WITHIN GROUP (ORDER BY s.total) AS q1,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY s.total) AS median,
       percentile_cont(0.75) WITHIN GROUP (ORDER BY s.total) AS q3,
       max(s.total) AS max, avg(s.total) AS mean, count(DISTINCT s.employee_id) AS people
FROM scorecards s
JOIN periods p ON p.tenant_id = s.tenant_id AND p.id = s.period_id
WHERE s.tenant_id = $1 AND s.total IS NOT NULL AND p.ends_on >= $2 AND p.ends_on <= $3
GROUP BY s.level ORDER BY s.level
"""

# People still here (not archived, not left) by skill and level.
CAPABILITY_HEATMAP = """
SELECT s.skill_id, k.name_en, k.name_zh, e.level, count(*) AS head_count,
       avg(s.level)::float8 AS mean_level
FROM employee_skills s
JOIN employees e ON e.tenant_id = s.tenant_id AND e.id = s.employee_id
JOIN skills k ON k.tenant_id = s.tenant_id AND k.id = s.skill_id
WHERE s.tenant_id = $1 AND k.archived_at IS NULL AND e.archived_at IS NULL
  AND e.status <> 'left'
GROUP BY s.skill_id, k.name_en, k.name_zh, e.level
ORDER BY k.name_en, e.level
"""

# Requirements requested in the period, in scope through an assignee or the answerer.
FUNNEL = f"""
WITH items AS (
    SELECT w.id, w.answered_by,
           w.answered_at < w.requested_at + interval '24 hours' AS quick,
           w.promised_on IS NOT NULL AS promised,
           w.promised_on IS NOT NULL AND w.delivered_at IS NOT NULL AND NOT ({_LATE}) AS on_time
    FROM work_items w
    WHERE w.tenant_id = $1 AND w.kind = 'requirement'
      AND {_IN_PERIOD.format(col="w.requested_at")}
),
members AS ({_MEMBERS})
SELECT count(DISTINCT i.id) AS requested,
       count(DISTINCT i.id) FILTER (WHERE i.quick) AS answered_24h,
       count(DISTINCT i.id) FILTER (WHERE i.promised) AS promised,
       count(DISTINCT i.id) FILTER (WHERE i.on_time) AS on_time,
       count(DISTINCT i.person) AS people
FROM members i
"""  # noqa: S608


@dataclass(frozen=True)
class Panels:
    """The rows of every panel, by panel name."""

    rows: dict[str, list[Any]]
    seconds: dict[str, float]  # how long each statement took

    def on_time(self) -> dict[str, tuple[int, int]]:
        """(hits, n) per month key (``2026-03``)."""
        return {_key(r["month"]): (r["hits"], r["n"]) for r in self.rows["on_time"]}

    def late(self) -> dict[str, int]:
        """Late deliveries per month key (the rows without a cause are the totals)."""
        return {
            _key(r["month"]): r["late"] for r in self.rows["late_by_cause"] if r["cause"] is None
        }

    def complaints(self) -> dict[str, tuple[int, int]]:
        """(complaints, delivered) per month key."""
        return {
            _key(r["month"]): (r["complaints"], r["delivered"]) for r in self.rows["complaints"]
        }

    def escaped(self) -> dict[str, tuple[int, int]]:
        """(in production, n) per month key."""
        return {_key(r["month"]): (r["hits"], r["n"]) for r in self.rows["escaped_defects"]}

    def cycle_n(self) -> dict[str, int]:
        return {_key(r["month"]): r["n"] for r in self.rows["cycle_time"]}

    def funnel(self) -> tuple[int, int, int, int]:
        r = self.rows["funnel"][0]
        return r["requested"], r["answered_24h"], r["promised"], r["on_time"]


def _key(month: date) -> str:
    return f"{month.year}-{month.month:02d}"


STATEMENTS: tuple[tuple[str, str], ...] = (
    ("on_time", ON_TIME),
    ("late_by_cause", LATE_BY_CAUSE),
    ("complaints", COMPLAINTS),
    ("cycle_time", CYCLE_TIME),
    ("escaped_defects", ESCAPED_DEFECTS),
    ("scorecard_distribution", SCORECARDS),
    ("funnel", FUNNEL),
)


async def run_panels(
    tenant: TenantID, starts_on: date, ends_on: date, change_on: date, window_days: int,
    *, statement_timeout_ms: int = 60_000,
) -> Panels:  # fmt: skip
    """Every panel's statement, in one tenant transaction (the ORM must be initialised)."""
    rows: dict[str, list[Any]] = {}
    seconds: dict[str, float] = {}
    async with tenant_transaction(tenant, statement_timeout_ms=statement_timeout_ms) as tx:
        for name, sql, args in (
            *((name, sql, (starts_on, ends_on)) for name, sql in STATEMENTS),
            ("before_after", BEFORE_AFTER, (change_on, window_days)),
            ("capability_heatmap", CAPABILITY_HEATMAP, ()),
        ):
            started = time.perf_counter()
            rows[name] = await tx.fetch(sql, tenant, *args)
            seconds[name] = time.perf_counter() - started
    return Panels(rows, seconds)

"""Demo work items: the requests, defects, complaints, homework and questions the demo's facts
tell of, one item per fact, with timestamps, statuses and causes that agree with them."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from domain.demo.builder import HISTORY_DAYS, DemoSummary
from tenants.scope import tenant_transaction
from tests.factories_demo import (
    ACME_SIZE,
    AS_OF,
    SMALL,
    TEMPLATES,
    demo_rows,
)

FIRST_DAY = AS_OF - timedelta(days=HISTORY_DAYS)
# Open items are the last few weeks' requests and the defects being fixed now.
OPEN_WEEKS = 3
WORK_TABLES = ("work_items", "work_item_assignees")


# An item with the fact of kind $2 keyed like it (``requirement:7`` and ``due_item:7``).
_FACT_OF = (
    "LEFT JOIN facts f ON f.tenant_id = w.tenant_id AND f.source = 'demo' "
    "AND f.external_key = $2 || ':' || split_part(w.external_key, ':', 2)"
)
_ASSIGNEE = "LEFT JOIN work_item_assignees a ON a.tenant_id = w.tenant_id AND a.work_item_id = w.id"
_LATE = "((w.delivered_at AT TIME ZONE 'UTC')::date > w.promised_on)"


async def test_the_rd_demo_has_requests_defects_and_complaints(acme: DemoSummary) -> None:
    rows = await demo_rows(
        acme,
        "SELECT w.kind, count(*) AS items, "  # noqa: S608
        "count(*) FILTER (WHERE w.source <> 'demo') AS foreign_, "
        "count(*) FILTER (WHERE w.linked_item_id IS NOT NULL) AS linked, "
        "count(*) FILTER (WHERE w.cause = 'rd') AS rd_caused, "
        f"count(*) FILTER (WHERE {_LATE}) AS late, "
        "count(*) FILTER (WHERE w.overpromised) AS overpromised, "
        f"count(*) FILTER (WHERE {_LATE} AND w.overpromised "
        "  AND w.delay_cause = 'sales_overpromise') AS late_overpromised, "
        f"count(*) FILTER (WHERE {_LATE} AND w.delay_cause = 'rd') AS late_rd, "
        "count(*) FILTER (WHERE jsonb_array_length(w.skills) BETWEEN 1 AND 2) AS with_skills "
        "FROM work_items w WHERE w.tenant_id = $1 GROUP BY w.kind",
    )
    found = {row["kind"]: row for row in rows}
    assert set(found) == {"requirement", "bug", "incident", "complaint"}
    assert all(row["foreign_"] == 0 for row in rows)
    requirements = found["requirement"]
    assert requirements["items"] >= 20 * ACME_SIZE
    assert requirements["with_skills"] == requirements["items"]
    # late ones, some over-promised by sales and some late for R&D's own reasons
    assert 0.05 * requirements["items"] <= requirements["late"] <= 0.3 * requirements["items"]
    assert requirements["late_overpromised"] == requirements["overpromised"] >= 20
    assert requirements["late_rd"] >= 20
    assert requirements["late_rd"] > requirements["late_overpromised"]
    # every defect is linked to the requirement it was found in; more in test than in production
    for kind in ("bug", "incident"):
        assert found[kind]["linked"] == found[kind]["items"] > 0
    assert found["bug"]["items"] > 10 * found["incident"]["items"]
    assert found["complaint"]["rd_caused"] == found["complaint"]["items"] > 0
    (total,) = await demo_rows(acme, "SELECT count(*) FROM work_items WHERE tenant_id = $1")
    (assigned,) = await demo_rows(
        acme, "SELECT count(*) FROM work_item_assignees WHERE tenant_id = $1"
    )
    assert acme.counts["work_items"] == total["count"] == sum(row["items"] for row in rows)
    assert acme.counts["work_item_assignees"] == assigned["count"]


async def test_each_delivered_requirement_is_its_delivery_and_due_facts(acme: DemoSummary) -> None:
    (delivery,) = await demo_rows(
        acme,
        "SELECT count(*) AS items, count(*) FILTER (WHERE f.employee_id = a.employee_id "  # noqa: S608
        "  AND a.share = 1 AND f.occurred_at = w.delivered_at AND f.denominator = w.size "
        "  AND abs(f.value - extract(epoch FROM w.delivered_at - w.started_at) / 86400) < 1e-6"
        ") AS matching, "
        "(SELECT count(*) FROM facts WHERE tenant_id = $1 AND kind = $2) AS facts "
        f"FROM work_items w {_ASSIGNEE} {_FACT_OF} "
        "WHERE w.tenant_id = $1 AND w.kind = 'requirement' AND w.delivered_at IS NOT NULL",
        "requirement_delivered",
    )
    assert delivery["items"] == delivery["matching"] == delivery["facts"] > 0
    rows = await demo_rows(
        acme,
        "SELECT f.employee_id = a.employee_id AS same_person, "  # noqa: S608
        # the due day; a late one the facts clamped to the history's first day was due before
        "  (w.promised_on = (f.occurred_at AT TIME ZONE 'UTC')::date OR (f.value = 0 "
        "   AND (f.occurred_at AT TIME ZONE 'UTC')::date = $3 AND w.promised_on < $3)) AS due, "
        f"  (f.value = 0) = {_LATE} AS lateness, "
        "  coalesce(replace(f.attributes->>'cause', 'sales_over_promise', 'sales_overpromise'), "
        "  '') = coalesce(w.delay_cause, '') AS cause, "
        "  w.overpromised = coalesce(f.attributes->>'cause' = 'sales_over_promise', false) "
        "  AS overpromised, "
        "  CASE WHEN w.overpromised THEN w.feasible_on > w.promised_on "
        "  ELSE w.feasible_on <= w.promised_on END AS feasible_on, count(*) AS items "
        f"FROM work_items w {_ASSIGNEE} {_FACT_OF} "
        "WHERE w.tenant_id = $1 AND w.kind = 'requirement' AND w.delivered_at IS NOT NULL "
        "GROUP BY 1, 2, 3, 4, 5, 6",
        "due_item",
        FIRST_DAY,
    )
    assert [{key: value for key, value in row.items() if key != "items"} for row in rows] == [
        {
            "same_person": True,
            "due": True,
            "lateness": True,
            "cause": True,
            "overpromised": True,
            "feasible_on": True,
        }
    ], [dict(row) for row in rows]
    assert rows[0]["items"] == delivery["items"]


async def test_each_defect_and_complaint_is_its_fact(acme: DemoSummary) -> None:
    (defects,) = await demo_rows(
        acme,
        "SELECT count(*) AS items, count(*) FILTER (WHERE f.employee_id = a.employee_id "  # noqa: S608
        "  AND f.occurred_at = w.requested_at "
        "  AND (f.value = 1) = (w.found_in = 'production') "
        "  AND w.kind = CASE WHEN f.value = 1 THEN 'incident' ELSE 'bug' END "
        # linked to a requirement of the same person, found while it was worked on or after
        "  AND r.kind = 'requirement' AND ra.employee_id = a.employee_id "
        "  AND w.requested_at BETWEEN r.started_at AND r.delivered_at + interval '46 days' "
        ") AS matching, "
        "count(*) FILTER (WHERE w.found_in = 'test' AND w.delivered_at > r.delivered_at "
        "  + interval '10 minutes') AS fixed_after_delivery, "
        "(SELECT count(*) FROM facts WHERE tenant_id = $1 AND kind = $2) AS facts "
        f"FROM work_items w {_ASSIGNEE} {_FACT_OF} "
        "LEFT JOIN work_items r ON r.tenant_id = w.tenant_id AND r.id = w.linked_item_id "
        "LEFT JOIN work_item_assignees ra ON ra.tenant_id = r.tenant_id AND ra.work_item_id = r.id "
        "WHERE w.tenant_id = $1 AND w.kind IN ('bug', 'incident')",
        "defect",
    )
    assert defects["items"] == defects["matching"] == defects["facts"] > 0
    assert defects["fixed_after_delivery"] == 0
    (complaints,) = await demo_rows(
        acme,
        "SELECT count(*) AS items, count(*) FILTER (WHERE f.employee_id = a.employee_id "  # noqa: S608
        "  AND f.occurred_at = w.delivered_at "
        "  AND abs(f.value - extract(epoch FROM w.delivered_at - w.requested_at) / 3600) < 1e-6"
        ") AS matching, "
        "(SELECT count(*) FROM facts WHERE tenant_id = $1 AND kind = $2) AS facts "
        f"FROM work_items w {_ASSIGNEE} {_FACT_OF} "
        "WHERE w.tenant_id = $1 AND w.kind = 'complaint'",
        "complaint_fix",
    )
    assert complaints["items"] == complaints["matching"] == complaints["facts"] > 0


async def test_the_school_demo_has_homework_and_questions_one_to_one_with_its_facts(
    sunrise: DemoSummary,
) -> None:
    rows = await demo_rows(
        sunrise,
        "SELECT w.kind, count(*) AS items, count(*) FILTER (WHERE f.kind = "  # noqa: S608
        "  CASE w.kind WHEN 'homework' THEN 'homework_graded' ELSE 'question_answered' END "
        "  AND f.employee_id = a.employee_id AND f.occurred_at = w.delivered_at "
        "  AND abs(f.value - extract(epoch FROM w.delivered_at - w.requested_at) / 3600) < 1e-6 "
        "  AND w.customer ~ '^初[一二三]\\(\\d+\\)班$' AND w.status = 'closed'"
        ") AS matching, count(DISTINCT f.id) AS facts "
        f"FROM work_items w {_ASSIGNEE} "
        "LEFT JOIN facts f ON f.tenant_id = w.tenant_id AND f.source = 'demo' "
        "AND f.external_key = CASE w.kind WHEN 'homework' THEN 'homework_graded' "
        "  ELSE 'question_answered' END || ':' || split_part(w.external_key, ':', 2) "
        "WHERE w.tenant_id = $1 GROUP BY w.kind",
    )
    found = {row["kind"]: row for row in rows}
    assert set(found) == {"homework", "question"}
    facts = await demo_rows(
        sunrise,
        "SELECT kind, count(*) FROM facts WHERE tenant_id = $1 "
        "AND kind IN ('homework_graded', 'question_answered') GROUP BY kind",
    )
    count = {row["kind"]: row["count"] for row in facts}
    for kind, fact_kind in (("homework", "homework_graded"), ("question", "question_answered")):
        row = found[kind]
        assert row["items"] == row["matching"] == row["facts"] == count[fact_kind] > 0


@pytest.mark.parametrize("template", TEMPLATES)
async def test_statuses_agree_with_timestamps(full: dict[str, DemoSummary], template: str) -> None:
    summary = full[template]
    rows = await demo_rows(
        summary,
        "SELECT status, count(*) AS items, "
        "count(*) FILTER (WHERE NOT ("
        # (every term is true or false, never null: a null would hide a row from the count)
        "  requested_at <= coalesce(answered_at, requested_at) "
        "  AND coalesce(answered_at, requested_at) <= coalesce(started_at, 'infinity') "
        "  AND requested_at <= coalesce(started_at, requested_at) "
        "  AND coalesce(started_at <= delivered_at, delivered_at IS NULL) "
        "  AND coalesce(delivered_at <= closed_at, closed_at IS NULL) "
        "  AND coalesce(promised_at = answered_at, promised_on IS NULL) "
        "  AND (answered_at IS NULL) = (answered_by IS NULL) "
        "  AND (answered_at IS NULL) = (verdict IS NULL) "
        "  AND greatest(requested_at, answered_at, started_at, delivered_at, closed_at) < $2"
        ")) AS out_of_order, "
        "count(*) FILTER (WHERE started_at IS NULL) AS unstarted, "
        "count(*) FILTER (WHERE delivered_at IS NULL) AS undelivered, "
        "count(*) FILTER (WHERE closed_at IS NULL) AS unclosed, "
        "min(requested_at) AS first_requested, min(delivered_at) AS first_delivered, "
        "count(*) FILTER (WHERE a.work_item_id IS NULL) AS unassigned "
        "FROM work_items w LEFT JOIN work_item_assignees a "
        "ON a.tenant_id = w.tenant_id AND a.work_item_id = w.id "
        "WHERE w.tenant_id = $1 GROUP BY status",
        AS_OF + timedelta(days=1),
    )
    found = {row["status"]: row for row in rows}
    assert all(row["out_of_order"] == 0 for row in rows), rows
    closed = found["closed"]
    assert closed["unstarted"] == closed["undelivered"] == closed["unclosed"] == 0
    # most items are done and closed; what is still open is recent
    assert closed["items"] >= 0.95 * sum(row["items"] for row in rows)
    recent = AS_OF - timedelta(weeks=OPEN_WEEKS)
    if "delivered" in found:
        row = found["delivered"]
        assert row["unstarted"] == row["undelivered"] == 0
        assert row["unclosed"] == row["items"]
        assert row["first_delivered"].date() >= recent
    for status in ("new", "answered", "in_progress"):
        if status in found:
            row = found[status]
            assert row["first_requested"].date() >= recent, status
            assert row["undelivered"] == row["items"]
            assert (row["unstarted"] == row["items"]) == (status != "in_progress")
    # open requests are not assigned yet: the only open load is the defects being fixed
    assert "planned" not in found
    for status in ("new", "answered"):
        if status in found:
            assert found[status]["unassigned"] == found[status]["items"]
    (load,) = await demo_rows(
        summary,
        "SELECT coalesce(max(points), 0) AS most FROM (SELECT a.employee_id, "
        "sum(coalesce(w.size, 1) * a.share) AS points FROM work_item_assignees a "
        "JOIN work_items w ON w.tenant_id = a.tenant_id AND w.id = a.work_item_id "
        "WHERE a.tenant_id = $1 AND w.status IN ('new', 'answered', 'planned', 'in_progress') "
        "GROUP BY a.employee_id) loads",
    )
    assert load["most"] <= 3


async def test_the_rd_demo_has_recent_requests_still_open(acme: DemoSummary) -> None:
    rows = await demo_rows(
        acme,
        "SELECT status, count(*) FROM work_items WHERE tenant_id = $1 "
        "AND kind = 'requirement' AND status IN ('new', 'answered') GROUP BY status",
    )
    open_requests = {row["status"]: row["count"] for row in rows}
    assert open_requests.get("answered", 0) > 0
    assert sum(open_requests.values()) < 0.1 * acme.counts["work_items"]


# Everything but row ids and other ids drawn at random: people by number, skills by name,
# linked items by key.
_SAME = (
    "SELECT w.external_key, w.kind, w.title, w.customer, w.requester_name, r.employee_number, "
    "w.size, w.status, w.requested_at, w.answered_at, b.employee_number AS answered_by, "
    "w.verdict, w.estimate_days, w.promised_on, w.promised_at, w.feasible_on, w.overpromised, "
    "w.started_at, w.delivered_at, w.closed_at, w.delay_cause, w.cause, w.found_in, "
    "l.external_key AS linked, e.employee_number AS assignee, a.share, "
    "(SELECT string_agg(s.name || '>=' || (x->>'minLevel'), ',' ORDER BY s.name) "
    " FROM jsonb_array_elements(w.skills) x JOIN skills s ON s.id = (x->>'skillId')::uuid) "
    "FROM work_items w "
    "LEFT JOIN employees r ON r.tenant_id = w.tenant_id AND r.id = w.requester_id "
    "LEFT JOIN employees b ON b.tenant_id = w.tenant_id AND b.id = w.answered_by "
    "LEFT JOIN work_items l ON l.tenant_id = w.tenant_id AND l.id = w.linked_item_id "
    "LEFT JOIN work_item_assignees a ON a.tenant_id = w.tenant_id AND a.work_item_id = w.id "
    "LEFT JOIN employees e ON e.tenant_id = w.tenant_id AND e.id = a.employee_id "
    "WHERE w.tenant_id = $1 ORDER BY w.external_key"
)


@pytest.mark.parametrize("template", TEMPLATES)
async def test_the_same_seed_gives_the_same_work_items(
    twins: dict[str, tuple[DemoSummary, DemoSummary]], template: str
) -> None:
    first, second = twins[template]
    ours, theirs = await demo_rows(first, _SAME), await demo_rows(second, _SAME)
    assert len(ours) > 10 * SMALL
    assert [tuple(row) for row in ours] == [tuple(row) for row in theirs]
    assert first.counts["work_items"] == second.counts["work_items"] == len(ours)


async def test_another_demos_work_items_are_not_visible(
    twins: dict[str, tuple[DemoSummary, DemoSummary]], superuser: asyncpg.Connection
) -> None:
    ours, theirs = twins["enterprise_rd"]
    for table in WORK_TABLES:
        # given: the other tenant has rows (the superuser bypasses row-level security)
        assert (
            await superuser.fetchval(
                f"SELECT count(*) FROM {table} WHERE tenant_id = $1",  # noqa: S608
                theirs.tenant_id,
            )
            == theirs.counts[table]
            > 0
        )
        # then: inside our transaction, with no filter at all, only our rows exist
        async with tenant_transaction(ours.tenant_id) as tx:
            every = f"SELECT count(*) AS every, count(*) FILTER (WHERE tenant_id <> $1) AS foreign_ FROM {table}"  # noqa: S608
            row = await tx.fetchrow(every, ours.tenant_id)
        assert (row["every"], row["foreign_"]) == (ours.counts[table], 0), table

"""Demo tenants: as big as summarised, reproducible, true to the pack, usable, and isolated."""

from __future__ import annotations

import json
import re
import secrets
from datetime import date
from typing import Any

import asyncpg
import phonenumbers
import pytest
from starlette.applications import Starlette

from domain.demo.builder import DemoSummary, build_demo
from domain.demo.catalogue import DEMO_PASSWORD, PROFILES
from domain.feedback.models import FeedbackSource
from domain.feedback.service import feedback_service
from domain.people.models import Employee
from domain.skills.service import name_key
from domain.templates.registry import pack_for
from tenants.errors import ErrorCode, ServiceError
from tenants.scope import tenant_transaction
from tests.support.graphql import GraphQLClient

SIZE = 30
SEED = 11
AS_OF = date(2026, 3, 16)
TEMPLATES = ("enterprise_rd", "school_teaching")
TABLES = (
    "org_units",
    "org_unit_managers",
    "employees",
    "skills",
    "employee_skills",
    "employee_skill_events",
    "engagements",
    "engagement_skills",
    "appraisals",
    "feedback",
    "users",
    "facts",
    "work_items",
    "work_item_assignees",
    "periods",
    "scorecards",
)
LOGIN = """
mutation Login($tenant: String!, $email: String!, $password: String!) {
  login(tenant: $tenant, email: $email, password: $password) {
    __typename
    ... on LoginPayload { accessToken }
    ... on LoginError { code message }
  }
}
"""
EMPLOYEES = "{ employees(first: 100) { edges { node { employeeNumber orgUnit { name } } } } }"


async def _build(template: str) -> DemoSummary:
    return await build_demo(
        slug=f"demo-{secrets.token_hex(4)}",
        template=template,
        employees=SIZE,
        seed=SEED,
        as_of=AS_OF,
    )


@pytest.fixture(scope="module")
async def demos(app: Starlette) -> dict[str, tuple[DemoSummary, DemoSummary]]:
    """Two builds of each template with the same seed, under different slugs."""
    return {template: (await _build(template), await _build(template)) for template in TEMPLATES}


async def _rows(summary: DemoSummary, query: str, *args: Any) -> list[Any]:
    async with tenant_transaction(summary.tenant_id) as tx:
        return await tx.fetch(query, summary.tenant_id, *args)


@pytest.mark.parametrize("template", TEMPLATES)
async def test_the_counts_are_as_the_summary_says(
    demos: dict[str, tuple[DemoSummary, DemoSummary]], template: str
) -> None:
    summary, _ = demos[template]
    # every table, one row of counts (table names from the constant above)
    counts = ", ".join(
        f"(SELECT count(*) FROM {table} WHERE tenant_id = $1) AS {table}"  # noqa: S608
        for table in TABLES
    )
    (row,) = await _rows(summary, f"SELECT {counts}")
    assert dict(row) == summary.counts
    assert summary.counts["employees"] == SIZE
    assert summary.counts["users"] == len(PROFILES[template].logins)
    assert 7 * SIZE <= summary.counts["engagements"] <= 14 * SIZE
    assert 3 * SIZE <= summary.counts["employee_skills"] <= 6 * SIZE
    assert summary.counts["employee_skill_events"] > summary.counts["employee_skills"]
    assert summary.counts["appraisals"] > 0
    assert summary.counts["feedback"] > 0


@pytest.mark.parametrize("template", TEMPLATES)
async def test_the_same_seed_gives_the_same_records(
    demos: dict[str, tuple[DemoSummary, DemoSummary]], template: str
) -> None:
    first, second = demos[template]
    assert first.tenant_id != second.tenant_id
    people = (
        "SELECT employee_number, name, email, phone, level, title, hire_date, status "
        "FROM employees WHERE tenant_id = $1 ORDER BY employee_number"
    )
    work = (
        "SELECT e.employee_number, g.kind, g.name, g.started_on, g.outcomes FROM engagements g "
        "JOIN employees e ON e.id = g.employee_id WHERE g.tenant_id = $1 "
        "ORDER BY 1, g.started_on, g.name, g.outcomes::text"
    )
    for query in (people, work):
        ours, theirs = await _rows(first, query), await _rows(second, query)
        assert [tuple(r) for r in ours] == [tuple(r) for r in theirs]
    names = [row["name"] for row in await _rows(first, people)]
    assert len(set(names)) > SIZE * 0.8  # plausible names, not one repeated


@pytest.mark.parametrize("template", TEMPLATES)
async def test_records_use_the_packs_codes(
    demos: dict[str, tuple[DemoSummary, DemoSummary]], template: str
) -> None:
    summary, _ = demos[template]
    pack = pack_for(template)
    profile = PROFILES[template]

    for row in await _rows(summary, "SELECT * FROM employees WHERE tenant_id = $1"):
        assert pack.level(row["level"]) is not None, row["level"]
        number = rf"^{profile.number_prefix}-\d{{{profile.number_width}}}$"
        assert re.match(number, row["employee_number"])
        assert row["email"].endswith(f"@{profile.email_domain}")
        phone = phonenumbers.parse(row["phone"])
        assert row["phone"].startswith("+86")
        assert phonenumbers.is_valid_number(phone)
    for row in await _rows(summary, "SELECT kind FROM org_units WHERE tenant_id = $1"):
        assert pack.org_unit_kind(row["kind"]) is not None

    rows = await _rows(summary, "SELECT kind, outcomes::text FROM engagements WHERE tenant_id = $1")
    for row in rows:
        kind = pack.engagement_kind(row["kind"])
        assert kind is not None, row["kind"]
        fields = {outcome.code: outcome for outcome in kind.outcomes}
        for code, value in json.loads(row["outcomes"]).items():
            assert code in fields, (kind.code, code)
            low, high = fields[code].min, fields[code].max
            assert low is None or value >= low, (code, value)
            assert high is None or value <= high, (code, value)

    criteria = {criterion.code for criterion in pack.feedback_criteria}
    query = "SELECT source, anonymous, author_user_id, author_label, ratings::text FROM feedback WHERE tenant_id = $1"
    for row in await _rows(summary, query):
        assert row["source"] in pack.feedback_sources
        if row["anonymous"]:
            assert row["author_user_id"] is None
            assert row["author_label"] is None
        ratings = json.loads(row["ratings"])
        assert ratings
        assert set(ratings) <= criteria
        assert all(1 <= value <= 5 for value in ratings.values())

    for row in await _rows(summary, "SELECT score, grade FROM appraisals WHERE tenant_id = $1"):
        assert 55 <= row["score"] <= 98
        assert row["grade"] in {"A", "B", "C", "D"}


async def test_the_company_demo_looks_like_an_r_and_d_company(
    demos: dict[str, tuple[DemoSummary, DemoSummary]],
) -> None:
    summary, _ = demos["enterprise_rd"]
    kinds = await _rows(
        summary, "SELECT kind, count(*) FROM org_units WHERE tenant_id = $1 GROUP BY kind"
    )
    assert {row["kind"]: row["count"] for row in kinds}["company"] == 1
    skills = await _rows(summary, "SELECT name, aliases FROM skills WHERE tenant_id = $1")
    aliases = {row["name"]: set(row["aliases"]) for row in skills}
    assert {"py"} <= aliases["Python"]
    assert {"k8s"} <= aliases["Kubernetes"]
    assert {"js"} <= aliases["JavaScript"]
    keys = [name_key(row["name"]) for row in skills] + [a for row in skills for a in row["aliases"]]
    assert len(keys) == len(set(keys))  # a name or alias names one skill only
    # seniors deliver faster with fewer escaped defects than juniors
    by_level = await _rows(
        summary,
        "SELECT e.level, avg((g.outcomes->>'cycle_days')::numeric) AS cycle, "
        "sum((g.outcomes->>'defects_production')::int)::numeric / "
        "  nullif(sum((g.outcomes->>'defects_production')::int "
        "             + (g.outcomes->>'defects_test')::int), 0) AS escaped "
        "FROM engagements g JOIN employees e ON e.id = g.employee_id "
        "WHERE g.tenant_id = $1 AND g.outcomes ? 'cycle_days' GROUP BY e.level",
    )
    levels = {row["level"]: row for row in by_level}
    assert levels["senior"]["cycle"] < levels["junior"]["cycle"]
    assert levels["senior"]["escaped"] < levels["junior"]["escaped"]
    periods = await _rows(summary, "SELECT DISTINCT period FROM appraisals WHERE tenant_id = $1")
    assert {row["period"] for row in periods} == {"2024-H1", "2024-H2", "2025-H1", "2025-H2"}


async def test_the_school_demo_looks_like_a_middle_school(
    demos: dict[str, tuple[DemoSummary, DemoSummary]],
) -> None:
    summary, _ = demos["school_teaching"]
    units = await _rows(summary, "SELECT name, kind FROM org_units WHERE tenant_id = $1")
    names = {row["name"] for row in units}
    assert {"初一年级组", "初二年级组", "初三年级组", "数学组", "道德与法治组"} <= names
    titles = await _rows(summary, "SELECT title FROM employees WHERE tenant_id = $1")
    assert any(row["title"].startswith("数学教师") for row in titles)
    classes = await _rows(
        summary, "SELECT name FROM engagements WHERE tenant_id = $1 AND kind = 'class'"
    )
    assert all(re.match(r"^初[一二三]\(\d+\)班 \S+$", row["name"]) for row in classes)
    skills = await _rows(summary, "SELECT name, name_en FROM skills WHERE tenant_id = $1")
    assert {"课堂管理", "项目式学习", "分层教学"} <= {row["name"] for row in skills}
    assert all(row["name_en"] for row in skills)


@pytest.mark.parametrize("template", TEMPLATES)
async def test_units_nest_and_managers_manage(
    demos: dict[str, tuple[DemoSummary, DemoSummary]], template: str
) -> None:
    summary, _ = demos[template]
    # One query: a unit's path is its parent's path plus its own label (its id in hex).
    (bad,) = await _rows(
        summary,
        "SELECT count(*) FROM org_units u LEFT JOIN org_units p ON p.id = u.parent_id "
        "WHERE u.tenant_id = $1 AND u.path IS DISTINCT FROM CASE "
        "  WHEN u.parent_id IS NULL THEN text2ltree(replace(u.id::text, '-', '')) "
        "  ELSE p.path || text2ltree(replace(u.id::text, '-', '')) END",
    )
    assert bad["count"] == 0
    (roots,) = await _rows(
        summary, "SELECT count(*) FROM org_units WHERE tenant_id = $1 AND parent_id IS NULL"
    )
    assert roots["count"] == 1
    unmanaged = await _rows(
        summary,
        "SELECT u.name FROM org_units u WHERE u.tenant_id = $1 AND NOT EXISTS "
        "(SELECT 1 FROM org_unit_managers m WHERE m.org_unit_id = u.id)",
    )
    assert unmanaged == []
    if template == "enterprise_rd":
        team_managers = await _rows(
            summary,
            "SELECT e.level FROM org_unit_managers m JOIN org_units u ON u.id = m.org_unit_id "
            "JOIN employees e ON e.id = m.employee_id WHERE m.tenant_id = $1 AND u.kind = 'team'",
        )
        assert team_managers
        assert {row["level"] for row in team_managers} <= {"senior", "principal"}
    # appraisals name the reviewer (the manager); only the head of the whole organisation has none
    (unreviewed,) = await _rows(
        summary,
        "SELECT count(*) FROM appraisals a JOIN employees e ON e.id = a.employee_id "
        "JOIN org_units u ON u.id = e.org_unit_id "
        "WHERE a.tenant_id = $1 AND a.reviewer IS NULL AND u.parent_id IS NOT NULL",
    )
    assert unreviewed["count"] == 0


@pytest.mark.parametrize("template", TEMPLATES)
async def test_some_people_have_enough_anonymous_feedback_to_show(
    demos: dict[str, tuple[DemoSummary, DemoSummary]], template: str
) -> None:
    summary, _ = demos[template]
    rows = await _rows(
        summary,
        "SELECT subject_id, source FROM feedback WHERE tenant_id = $1 AND anonymous "
        "GROUP BY subject_id, source HAVING count(*) >= 3",
    )
    assert rows
    async with tenant_transaction(summary.tenant_id):
        summaries = await feedback_service.summary(summary.tenant_id, [rows[0]["subject_id"]])
    shown = summaries[rows[0]["subject_id"]].sources[FeedbackSource(rows[0]["source"])]
    assert shown.anonymous is not None
    assert shown.anonymous.count >= 3


@pytest.mark.parametrize("template", TEMPLATES)
async def test_the_demo_logins_work(
    demos: dict[str, tuple[DemoSummary, DemoSummary]], template: str, gql: GraphQLClient
) -> None:
    summary, _ = demos[template]
    domain = PROFILES[template].email_domain
    assert {login.email for login in summary.logins} >= {f"admin@{domain}", f"manager@{domain}"}
    tokens = {}
    for login in summary.logins:
        assert login.password == DEMO_PASSWORD
        variables = {"tenant": summary.slug, "email": login.email, "password": login.password}
        result = (await gql(LOGIN, variables)).ok()["login"]
        assert result["__typename"] == "LoginPayload", result
        tokens[login.role] = result["accessToken"]

    # The manager is a person on the records who manages a team: they see its people.
    seen = (await gql(EMPLOYEES, token=tokens["manager"])).ok()["employees"]["edges"]
    (manager,) = await _rows(
        summary,
        "SELECT e.employee_number, e.org_unit_id FROM employees e JOIN users u ON u.id = e.user_id "
        "JOIN org_unit_managers m ON m.employee_id = e.id "
        "WHERE e.tenant_id = $1 AND u.email = $2",
        f"manager@{domain}",
    )
    (team,) = await _rows(
        summary,
        "SELECT count(*) FROM employees e JOIN org_units u ON u.id = e.org_unit_id "
        "JOIN org_units t ON t.id = $2 WHERE e.tenant_id = $1 AND u.path <@ t.path",
        manager["org_unit_id"],
    )
    assert len(seen) == team["count"] > 1
    # The employee sees their own record only.
    mine = (await gql(EMPLOYEES, token=tokens["employee"])).ok()["employees"]["edges"]
    assert len(mine) == 1


async def test_two_demo_tenants_never_see_each_others_rows(
    demos: dict[str, tuple[DemoSummary, DemoSummary]], superuser: asyncpg.Connection
) -> None:
    ours, theirs = demos["enterprise_rd"]
    for table in TABLES:
        # given: the other tenant has rows (the superuser bypasses row-level security)
        assert (
            await superuser.fetchval(
                f"SELECT count(*) FROM {table} WHERE tenant_id = $1",  # noqa: S608
                theirs.tenant_id,
            )
            == theirs.counts[table]
        )
        # then: inside our transaction, with no filter at all, only our rows exist
        async with tenant_transaction(ours.tenant_id) as tx:
            every = f"SELECT count(*) AS every, count(*) FILTER (WHERE tenant_id <> $1) AS foreign_ FROM {table}"  # noqa: S608
            row = await tx.fetchrow(every, ours.tenant_id)
        assert (row["every"], row["foreign_"]) == (ours.counts[table], 0), table
    async with tenant_transaction(ours.tenant_id):
        tenants = {e.tenant_id for e in await Employee.unscoped().all()}
    assert tenants == {ours.tenant_id}


async def test_a_taken_slug_or_a_tiny_size_is_refused(
    demos: dict[str, tuple[DemoSummary, DemoSummary]],
) -> None:
    summary, _ = demos["school_teaching"]
    with pytest.raises(ServiceError) as taken:
        await build_demo(slug=summary.slug, template="school_teaching", employees=SIZE, seed=1)
    assert taken.value.code == ErrorCode.DUPLICATE
    with pytest.raises(ValueError, match="at least"):
        await build_demo(slug="tiny-demo", template="enterprise_rd", employees=5, seed=1)
    with pytest.raises(ValueError, match="no demo"):
        await build_demo(slug="odd-demo", template="hospital", employees=SIZE, seed=1)

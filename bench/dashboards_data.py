"""The dataset of ``bench.dashboards``: an enterprise R&D tenant the size of issue 7's.

``build_records`` draws, from ``random.Random(SEED)`` and as of the fixed ``AS_OF``, a
tenant of pack ``enterprise_rd`` with

* an org tree four levels deep (a company, 8 departments, 40 groups, 240 teams: 289 units),
* 5,000 engineers over the pack's levels (30/40/22/8 %), mostly in teams, with 3 to 6 of the
  catalogue's skills each,
* 200,000 work items over the 15 months up to ``AS_OF``: requirements (requested, answered
  by an engineer, promised, started, delivered, closed; late ones with a delay cause),
  bugs and incidents (found in test or production, linked to a delivered requirement) and
  complaints (with a cause), each with one to three assignees of one team,
* 2,000,000 facts: first those the items derive (``domain.work.derivation``'s rules, under
  the same source and keys), then meeting action items, trainings and contributions,
* the quarters that end within the dashboard's year, created and closed (computed by the
  scoring engine, as a tenant would have), so that scorecards exist,

and an HR user whose token the benchmark uses. The people, items and facts are written in
one tenant transaction (``build_records``: a failed build leaves nothing behind) through COPY
into temporary staging tables and ``INSERT ... SELECT`` (COPY straight into a table with
row-level security is refused; the policy still checks every row on the way in). The
quarters are closed in a second one (``close_quarters``), after the owner has analyzed the
load, and that one marks the dataset complete in the tenant's ``settings.bench`` (with the
time both took): a build stopped between the two is completed by the next run. Row ids are
random (facts' ids time-ordered), everything else follows from the seed.
"""

from __future__ import annotations

import itertools
import math
import queue
import random
import sys
import threading
import time
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import orjson

from domain.demo import catalogue as cat
from domain.indicators import repository as indicators_repo
from domain.indicators.repository import FactRow, copy_facts
from domain.indicators.service import period_service
from domain.org.repository import label
from domain.skills.service import name_key
from domain.templates.onboarding import provision_pack
from domain.templates.registry import pack_codes, pack_for
from tenants import repository as tenant_repo
from tenants.authorization import Role
from tenants.scope import TenantID, require_tenant, tenant_transaction
from tenants.service import tenant_service

# The data version is in the slug: a build with other figures gets a tenant of its own.
SLUG = "bench-dashboards-v1"
NAME = "Bench Dashboards"
TEMPLATE = "enterprise_rd"
SEED = 2026
EMPLOYEES = 5000
WORK_ITEMS = 200_000
FACTS = 2_000_000
# A fixed calendar: every build holds the same figures, whenever it is made.
HISTORY_START = date(2025, 8, 1)
AS_OF = date(2026, 10, 31)
CUTOFF = datetime(2026, 11, 1, tzinfo=UTC)  # nothing has happened from here on
# What the benchmark asks for: the last 12 months of the data, and a change in the middle
# (after which requirements run about 10 % faster, so before/after has something to find).
PERIOD_START = date(2025, 11, 1)
PERIOD_END = AS_OF
CHANGE_ON = date(2026, 5, 1)
HR_EMAIL = "hr@bench-dashboards.example.com"
# Each step of the build is one transaction of a few minutes.
BUILD_STATEMENT_TIMEOUT_MS = 1_800_000
COPY_BATCH = 20_000
SOURCE_ITEMS = "work_items"  # the derived facts' source, as domain.work.derivation's
SOURCE_OTHER = "bench"

LEVELS = (("junior", 1), ("mid", 2), ("senior", 3), ("principal", 4))
LEVEL_WEIGHTS = (30, 40, 22, 8)
# Work item kinds and their shares of the 200,000.
KIND_SHARES = (("requirement", 0.55), ("bug", 0.25), ("incident", 0.08), ("complaint", 0.12))
# Per rank: how much longer than a mid-level engineer a piece of work takes.
PACE = {1: 1.25, 2: 1.0, 3: 0.85, 4: 0.8}
SIZES = (1.0, 2.0, 3.0, 5.0, 8.0)
SIZE_WEIGHTS = (20, 30, 25, 17, 8)
# Why a late requirement was late (when not over-promised), and what caused a complaint.
DELAY_CAUSES = (("rd", 45), ("customer_change", 30), ("external", 15), ("sales_overpromise", 10))
COMPLAINT_CAUSES = (
    ("rd", 40),
    ("sales_overpromise", 25),
    ("customer_change", 20),
    ("external", 15),
)
# Facts that no item tells of, in these shares of what the items leave to 2,000,000.
OTHER_FACTS = (("action_item", 0.83), ("training_given", 0.09), ("tech_contribution", 0.08))
# Departments; their groups and teams are named after them (平台研发部3组2队).
DEPARTMENTS = (
    "平台研发部", "机器人研发部", "感知算法部", "云服务部", "嵌入式研发部", "数据平台部",
    "移动端研发部", "质量工程部",
)  # fmt: skip
GROUPS_PER_DEPARTMENT = 5
TEAMS_PER_GROUP = 6
CUSTOMERS = 300
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

Row = tuple[Any, ...]


def _progress(message: str) -> None:
    print(f"bench.dashboards: {message}", file=sys.stderr, flush=True)


# Tables written by COPY (org units, with their ltree path, are a few hundred INSERTs).
EMPLOYEE_COLUMNS = (
    "id", "tenant_id", "employee_number", "name", "email", "phone", "org_unit_id", "level",
    "title", "hire_date", "status", "user_id", "custom_fields", "national_id", "archived_at",
    "created_at", "updated_at",
)  # fmt: skip
SKILL_COLUMNS = (
    "id", "tenant_id", "external_key", "name", "name_key", "name_zh", "name_en", "category",
    "aliases", "archived_at", "created_at", "updated_at",
)  # fmt: skip
EMPLOYEE_SKILL_COLUMNS = (
    "id", "tenant_id", "employee_id", "skill_id", "level", "source", "evaluated_on", "updated_at",
)  # fmt: skip
ITEM_COLUMNS = (
    "id", "tenant_id", "kind", "title", "customer", "requester_id", "requester_name",
    "org_unit_id", "skills", "size", "status", "requested_at", "answered_at", "answered_by",
    "verdict", "estimate_days", "answer_note", "promised_on", "promised_at", "feasible_on",
    "overpromised", "started_at", "delivered_at", "closed_at", "cancelled_at", "delay_cause",
    "cause", "cause_comment", "found_in", "linked_item_id", "source", "external_key",
    "created_at", "updated_at",
)  # fmt: skip
ASSIGNEE_COLUMNS = ("id", "tenant_id", "work_item_id", "employee_id", "share")
_INSERT_UNIT = (
    "INSERT INTO org_units (id, tenant_id, external_key, name, kind, parent_id, path, "
    "archived_at, created_at, updated_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7::text::ltree, NULL, $8, $8)"
)
# What the build loads and what closing the quarters writes: the owner analyzes them after
# each step (a bulk load has no planner statistics until autovacuum gets to it).
LOADED_TABLES = (
    "tenants", "users", "org_units", "employees", "skills", "employee_skills", "work_items",
    "work_item_assignees", "facts",
)  # fmt: skip
RESULT_TABLES = ("periods", "level_baselines", "target_adjustments", "scorecards")


# --- the plan -------------------------------------------------------------------------------


@dataclass(eq=False, slots=True)
class Unit:
    id: UUID
    name: str
    kind: str
    parent: Unit | None
    path: str
    key: str
    members: list[Person] = field(default_factory=list)


@dataclass(eq=False, slots=True)
class Person:
    id: UUID
    unit: Unit
    rank: int
    talent: float  # standard deviations from the level's mean


@dataclass(eq=False, slots=True)
class Item:
    """A work item as drawn: what its row and its facts are made of."""

    id: UUID
    kind: str
    unit: Unit
    assignees: list[Person]
    requested: datetime
    customer: str
    answered: datetime | None = None
    answerer: Person | None = None
    verdict: str | None = None
    size: float | None = None
    estimate_days: float | None = None
    promised_on: date | None = None
    feasible_on: date | None = None
    started: datetime | None = None
    delivered: datetime | None = None
    closed: datetime | None = None
    delay_cause: str | None = None
    cause: str | None = None
    found_in: str | None = None
    linked: Item | None = None
    defects: int = 0  # defects linked to it (requirements)

    @property
    def cancelled(self) -> bool:
        return self.verdict == "not_feasible"

    @property
    def late(self) -> bool:
        if self.promised_on is None or self.delivered is None:
            return False
        return self.delivered >= end_of_day(self.promised_on)

    @property
    def status(self) -> str:
        if self.cancelled:
            return "cancelled"
        if self.closed is not None:
            return "closed"
        if self.delivered is not None:
            return "delivered"
        if self.started is not None:
            return "in_progress"
        if self.promised_on is not None:
            return "planned"
        return "answered" if self.answered is not None else "new"


def end_of_day(day: date) -> datetime:
    """A promised date is kept when delivered by the end of that day (UTC)."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + DAY


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


class Plan:
    """Everything drawn for the tenant, before anything is written."""

    def __init__(self, tenant: TenantID, *, employees: int, work_items: int, facts: int) -> None:
        self.tenant = tenant
        self.rng = random.Random(SEED)  # reproducible bench data, not secrets
        self.size = employees
        self.item_count = work_items
        self.fact_count = facts
        self.now = datetime.now(UTC)
        self.units: list[Unit] = []
        self.people: list[Person] = []
        self.skill_rows: list[Row] = []
        self.employee_rows: list[Row] = []
        self.employee_skill_rows: list[Row] = []
        self.items: list[Item] = []
        self.customers = [f"{cat.CUSTOMERS[i % len(cat.CUSTOMERS)]} {i // len(cat.CUSTOMERS) + 1}"
                          for i in range(CUSTOMERS)]  # fmt: skip
        self.days = [
            HISTORY_START + timedelta(days=n) for n in range((AS_OF - HISTORY_START).days + 1)
        ]

    # --- people -----------------------------------------------------------------------------

    def organise(self) -> None:
        """The org tree, the people in it, their skills."""
        rng = self.rng
        root = self._unit(NAME, "company", None)
        teams: list[Unit] = []
        groups: list[Unit] = []
        for name in DEPARTMENTS:
            department = self._unit(name, "department", root)
            for g in range(1, GROUPS_PER_DEPARTMENT + 1):
                group = self._unit(f"{name}{g}组", "department", department)
                groups.append(group)
                for t in range(1, TEAMS_PER_GROUP + 1):
                    teams.append(self._unit(f"{name}{g}组{t}队", "team", group))
        # Teams of uneven sizes; a few people (the groups' leads) sit in the groups.
        leads = len(groups) * 2
        weights = [rng.uniform(0.5, 1.5) for _ in teams]
        sizes = _allocate(self.size - leads, weights, 3)
        homes = [unit for group in groups for unit in (group, group)]
        homes += [team for team, size in zip(teams, sizes, strict=True) for _ in range(size)]
        for unit in homes:
            rank = rng.choices((1, 2, 3, 4), weights=LEVEL_WEIGHTS)[0]
            if unit.kind != "team":
                rank = max(rank, 3)
            person = Person(uuid4(), unit, rank, _clamp(rng.gauss(0, 1), -2.5, 2.5))
            unit.members.append(person)
            self.people.append(person)
        self._record_people()

    def _unit(self, name: str, kind: str, parent: Unit | None) -> Unit:
        unit_id = uuid4()
        path = f"{parent.path}.{label(unit_id)}" if parent is not None else label(unit_id)
        unit = Unit(unit_id, name, kind, parent, path, f"BD-U{len(self.units) + 1:03d}")
        self.units.append(unit)
        return unit

    def _record_people(self) -> None:
        rng, now, tenant = self.rng, self.now, self.tenant
        specs = (*cat.ENTERPRISE_SKILLS, *cat.ENTERPRISE_EXTRA_SKILLS)
        skill_ids = [uuid4() for _ in specs]
        for skill_id, spec in zip(skill_ids, specs, strict=True):
            key = name_key(spec.name)
            aliases = sorted({name_key(alias) for alias in spec.aliases} - {key})
            self.skill_rows.append(
                (
                    skill_id, tenant, None, spec.name, key, spec.name_zh, spec.name_en,
                    spec.category, aliases, None, now, now,
                )
            )  # fmt: skip
        for number, person in enumerate(self.people, start=1):
            surname, _, _ = rng.choices(
                cat.CHINESE_SURNAMES, weights=[s[2] for s in cat.CHINESE_SURNAMES]
            )[0]
            given, _ = rng.choice(cat.CHINESE_GIVEN_NAMES)
            level = LEVELS[person.rank - 1][0]
            years = {1: (0.2, 3.0), 2: (1.0, 6.0), 3: (2.5, 9.0), 4: (4.0, 12.0)}[person.rank]
            hired = AS_OF - timedelta(days=int(rng.uniform(*years) * 365.25))
            self.employee_rows.append(
                (
                    person.id, tenant, f"BD-{number:05d}", surname + given,
                    f"e{number:05d}@bench-dashboards.example.com", None, person.unit.id, level,
                    f"{level.title()} engineer", hired, "active", None, "{}", None, None, now,
                    now,
                )
            )  # fmt: skip
            base = {1: 2.0, 2: 2.9, 3: 3.7, 4: 4.3}[person.rank]
            for skill_id in rng.sample(skill_ids, rng.randint(3, 6)):
                level_held = round(_clamp(base + 0.35 * person.talent + rng.gauss(0, 0.6), 1, 5))
                evaluated = AS_OF - timedelta(days=rng.randint(0, 365))
                self.employee_skill_rows.append(
                    (uuid4(), tenant, person.id, skill_id, level_held, "manager", evaluated, now)
                )

    # --- work items -------------------------------------------------------------------------

    def moment(self, day: date) -> datetime:
        """A time in the working day (Beijing time, 09:00-20:00) of ``day``, in UTC."""
        minutes = self.rng.randint(60, 11 * 60)
        return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(minutes=minutes)

    def draw_day(self) -> date:
        """A day of the history, busier towards the end (the company grows about 30 %)."""
        # The inverse of a density rising linearly from 1 to 1.3 over the history.
        a, b = 1.0, 1.3
        position = (math.sqrt(a * a + (b * b - a * a) * self.rng.random()) - a) / (b - a)
        day = self.days[min(len(self.days) - 1, int(position * len(self.days)))]
        if day.weekday() >= 5 and self.rng.random() < 0.8:
            day -= timedelta(days=day.weekday() - 4)  # mostly moved to the Friday before
        return max(day, HISTORY_START)

    def draw_work(self) -> None:
        counts = _allocate(self.item_count, [share for _, share in KIND_SHARES], 0)
        requirements, bugs, incidents, complaints = counts
        for _ in range(requirements):
            self.items.append(self._requirement())
        delivered = sorted(
            (item for item in self.items if item.delivered is not None),
            key=lambda item: item.delivered or CUTOFF,
        )
        times = [item.delivered for item in delivered]
        for _ in range(bugs):
            self.items.append(self._defect("bug", delivered, times))
        for _ in range(incidents):
            self.items.append(self._defect("incident", delivered, times))
        for _ in range(complaints):
            self.items.append(self._complaint(delivered, times))
        self.rng.shuffle(self.items)

    def _team_of(self, person: Person, extra: int) -> list[Person]:
        others = [p for p in person.unit.members if p is not person]
        return [person, *self.rng.sample(others, min(extra, len(others)))]

    def _requirement(self) -> Item:
        rng = self.rng
        primary = rng.choice(self.people)
        extra = rng.choices((0, 1, 2), weights=(60, 30, 10))[0]
        team = self._team_of(primary, extra)
        requested = self.moment(self.draw_day())
        item = Item(
            uuid4(), "requirement", primary.unit, team, requested, rng.choice(self.customers)
        )
        seniors = [p for p in primary.unit.members if p.rank >= 3]
        item.answerer = primary if rng.random() < 0.7 or not seniors else rng.choice(seniors)
        if rng.random() < 0.02:
            return item  # never answered (yet)
        hours = rng.lognormvariate(math.log(7.0), 0.9)
        answered = requested + hours * HOUR
        if answered >= CUTOFF:
            return item
        item.answered = answered
        item.verdict = rng.choices(("feasible", "needs_change", "not_feasible"), (90, 7, 3))[0]
        size = rng.choices(SIZES, weights=SIZE_WEIGHTS)[0]
        item.size = size
        pace = sum(PACE[p.rank] for p in team) / len(team)
        item.estimate_days = round(size * 1.6 * pace, 1)
        if item.cancelled:
            return item
        feasible = answered.date() + timedelta(days=math.ceil(item.estimate_days * 1.3) + 2)
        item.feasible_on = feasible
        overpromised = rng.random() < 0.12
        slack = rng.randint(-6, -1) if overpromised else rng.randint(0, 8)
        item.promised_on = feasible + timedelta(days=slack)
        started = answered + rng.uniform(0.2, 6) * DAY
        if started >= CUTOFF:
            return item
        item.started = started
        talent = sum(p.talent for p in team) / len(team)
        faster = 0.9 if started.date() >= CHANGE_ON else 1.0
        days = size * 1.6 * pace * faster * math.exp(-0.12 * talent) * rng.lognormvariate(0, 0.45)
        delivered = started + max(0.1, days) * DAY
        if delivered >= CUTOFF:
            return item
        item.delivered = delivered
        if item.late:
            if item.promised_on < feasible:
                item.delay_cause = "sales_overpromise"
            elif rng.random() < 0.95:
                item.delay_cause = _pick(rng, DELAY_CAUSES)
        closed = delivered + rng.uniform(0.5, 6) * DAY
        item.closed = closed if closed < CUTOFF else None
        return item

    def _linked(self, delivered: Sequence[Item], times: Sequence[Any], before: datetime) -> Item:
        """A requirement delivered before ``before`` (the most recent ones more often)."""
        end = max(1, bisect_left(times, before))
        # About the last month's deliveries (2.5 % of the history's): recent work shows its
        # defects first; an index before the first is drawn again, uniformly.
        back = int(self.rng.expovariate(1 / max(1.0, 0.025 * len(delivered))))
        index = end - 1 - back
        return delivered[index if index >= 0 else self.rng.randrange(end)]

    def _defect(self, kind: str, pool: Sequence[Item], times: Sequence[Any]) -> Item:
        rng = self.rng
        production = kind == "incident" or rng.random() < 0.25
        found = self.moment(self.draw_day())
        linked = None if rng.random() < 0.08 else self._linked(pool, times, found)
        if linked is not None and not production and linked.started is not None:
            # Found in test: while the requirement was being built.
            assert linked.delivered is not None
            found = linked.started + rng.random() * (linked.delivered - linked.started)
        if linked is not None:
            linked.defects += 1
            owner = rng.choice(linked.assignees)
        else:
            owner = rng.choice(self.people)
        customer = linked.customer if linked is not None else rng.choice(self.customers)
        item = Item(uuid4(), kind, owner.unit, [owner], found, customer)
        item.linked = linked
        item.found_in = "production" if production else "test"
        started = found + rng.expovariate(1 / 0.5) * DAY
        delivered = started + rng.expovariate(1 / 1.5) * DAY
        item.started = started if started < CUTOFF else None
        item.delivered = delivered if delivered < CUTOFF else None
        if item.delivered is not None:
            closed = delivered + rng.uniform(0.2, 3) * DAY
            item.closed = closed if closed < CUTOFF else None
        return item

    def _complaint(self, pool: Sequence[Item], times: Sequence[Any]) -> Item:
        rng = self.rng
        opened = self.moment(self.draw_day())
        linked = self._linked(pool, times, opened) if rng.random() < 0.7 else None
        owner = rng.choice(linked.assignees) if linked is not None else rng.choice(self.people)
        customer = linked.customer if linked is not None else rng.choice(self.customers)
        item = Item(uuid4(), "complaint", owner.unit, [owner], opened, customer)
        item.linked = linked
        item.cause = _pick(rng, COMPLAINT_CAUSES)
        item.started = opened + rng.uniform(0.5, 8) * HOUR
        resolved = opened + rng.lognormvariate(math.log(36), 0.8) * HOUR
        if resolved < CUTOFF:
            item.delivered = resolved
            closed = resolved + rng.uniform(2, 48) * HOUR
            item.closed = closed if closed < CUTOFF else None
        return item

    # --- rows -------------------------------------------------------------------------------

    def item_rows(self) -> Iterator[Row]:
        tenant, now = self.tenant, self.now
        for n, item in enumerate(self.items, start=1):
            promised_at = None
            if item.promised_on is not None and item.answered is not None:
                promised_at = item.answered + 2 * HOUR
            skills = "[]"
            yield (
                item.id, tenant, item.kind, f"{item.kind.title()} {n:06d}", item.customer, None,
                f"Sales {n % 97:02d}" if item.kind == "requirement" else None, item.unit.id,
                skills, item.size, item.status, item.requested, item.answered,
                item.answerer.id if item.answered is not None and item.answerer else None,
                item.verdict, item.estimate_days, None, item.promised_on, promised_at,
                item.feasible_on,
                item.promised_on is not None and item.feasible_on is not None
                and item.promised_on < item.feasible_on,
                item.started, item.delivered, item.closed,
                item.answered if item.cancelled else None, item.delay_cause, item.cause, None,
                item.found_in, item.linked.id if item.linked is not None else None, "bench",
                f"BD-{n:06d}", now, now,
            )  # fmt: skip

    def assignee_rows(self) -> Iterator[Row]:
        for item in self.items:
            share = 1.0 / len(item.assignees)
            for person in item.assignees:
                yield (uuid4(), self.tenant, item.id, person.id, share)

    def facts(self) -> Iterator[FactRow]:
        """The facts the items derive, then the others up to ``fact_count`` in all."""
        written = 0
        ids = time_ordered_ids()
        for item in self.items:
            for row in _derived(item, ids):
                if written >= self.fact_count:
                    return
                written += 1
                yield row
        rng = self.rng
        kinds = [kind for kind, _ in OTHER_FACTS]
        weights = [share for _, share in OTHER_FACTS]
        for _ in range(self.fact_count - written):
            person = rng.choice(self.people)
            at = self.moment(self.draw_day())
            kind = rng.choices(kinds, weights)[0]
            if kind == "action_item":
                value, denominator = (1.0 if rng.random() < 0.78 else 0.0), 1.0
            elif kind == "training_given":
                value, denominator = round(rng.uniform(3.0, 5.0), 1), None
            else:
                value, denominator = 1.0, None
            yield FactRow(next(ids), person.id, kind, at, value, denominator, SOURCE_OTHER, None,
                          {}, at)  # fmt: skip


def _pick(rng: random.Random, weighted: Sequence[tuple[str, int]]) -> str:
    return rng.choices([code for code, _ in weighted], [w for _, w in weighted])[0]


def _allocate(total: int, weights: Sequence[float], minimum: int) -> list[int]:
    """``total`` split in proportion to ``weights``, each share at least ``minimum``."""
    spare = total - minimum * len(weights)
    exact = [spare * w / sum(weights) for w in weights]
    shares = [math.floor(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (shares[i] - exact[i], i))
    for i in by_remainder[: spare - sum(shares)]:
        shares[i] += 1
    return [minimum + share for share in shares]


def time_ordered_ids() -> Iterator[UUID]:
    """UUIDv7-like ids that follow each other (a millisecond prefix, then a counter): the
    facts' primary key grows at its right edge instead of at a random leaf per row."""
    millis = time.time_ns() // 1_000_000
    base = (millis << 80) | (0x7 << 76) | (0x2 << 62)
    return (UUID(int=base + n) for n in itertools.count())


def _fact(ids: Iterator[UUID], item: Item, person: Person, kind: str, at: datetime,
          value: float, denominator: float | None) -> FactRow:  # fmt: skip
    key = f"{item.id}:{kind}:{person.id}"
    return FactRow(next(ids), person.id, kind, at, value, denominator, SOURCE_ITEMS, key, {}, at)


def _derived(item: Item, ids: Iterator[UUID]) -> Iterator[FactRow]:
    """What ``domain.work.derivation`` derives from the item (the pack's rules)."""
    if item.kind == "requirement":
        if item.answered is not None and item.answerer is not None:
            yield _fact(ids, item, item.answerer, "sales_request", item.requested, 1.0, None)
            hours = (item.answered - item.requested) / HOUR
            yield _fact(ids, item, item.answerer, "feasibility_answer", item.answered, hours, None)
        if item.cancelled or item.delivered is None:
            return
        share = 1.0 / len(item.assignees)
        for person in item.assignees:
            if item.started is not None:
                days = (item.delivered - item.started) / DAY
                per_point = (item.size or 1.0) * share
                yield _fact(
                    ids, item, person, "requirement_delivered", item.delivered, days, per_point
                )
            if item.promised_on is not None and (not item.late or item.delay_cause in (None, "rd")):
                due = min(end_of_day(item.promised_on) - timedelta(seconds=1), item.delivered)
                yield _fact(ids, item, person, "due_item", due, 0.0 if item.late else 1.0, 1.0)
            yield _fact(
                ids, item, person, "item_defects", item.delivered, float(item.defects), None
            )
    elif item.kind in ("bug", "incident"):
        if item.linked is None:
            return
        value = 1.0 if item.found_in == "production" else 0.0
        for person in item.linked.assignees:
            yield _fact(ids, item, person, "defect", item.requested, value, 1.0)
    elif item.kind == "complaint" and item.cause == "rd" and item.delivered is not None:
        hours = (item.delivered - item.requested) / HOUR
        for person in item.assignees:
            yield _fact(ids, item, person, "complaint_fix", item.delivered, hours, None)


# --- writing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Built:
    tenant: TenantID
    counts: dict[str, int]
    load_s: float


async def _copy(
    conn: Any, table: str, columns: Sequence[str], rows: Iterator[Row] | list[Row]
) -> int:
    """COPY ``rows`` into a staging table, then ``INSERT ... SELECT`` them into ``table``,
    batch by batch. Table and column names are this module's constants, never input."""
    stage = f"bench_stage_{table}"
    names = ", ".join(columns)
    await conn.execute(
        f"CREATE TEMP TABLE {stage} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP"
    )
    written = 0
    batch: list[Row] = []

    async def flush() -> None:
        await conn.copy_records_to_table(stage, records=batch, columns=list(columns))
        await conn.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage}")  # noqa: S608
        await conn.execute(f"TRUNCATE {stage}")

    for row in rows:
        batch.append(row)
        if len(batch) >= COPY_BATCH:
            await flush()
            written += len(batch)
            batch = []
    if batch:
        await flush()
        written += len(batch)
    return written


def quarters() -> list[tuple[str, date, date]]:
    """The quarters that end within the dashboard's period: (code, first day, last day)."""
    found: list[tuple[str, date, date]] = []
    year, quarter = PERIOD_START.year, (PERIOD_START.month - 1) // 3 + 1
    while True:
        first = date(year, 3 * quarter - 2, 1)
        last = (date(year + quarter // 4, 3 * (quarter % 4) + 1, 1)) - DAY
        if last > PERIOD_END:
            return found
        if last >= PERIOD_START:
            found.append((f"{year}-Q{quarter}", first, last))
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)


async def build_records(
    *, employees: int = EMPLOYEES, work_items: int = WORK_ITEMS, facts: int = FACTS,
    slug: str = SLUG,
) -> Built:  # fmt: skip
    """Draw and write the tenant, its people, work items and facts (see the module
    docstring) in one transaction; raises when ``slug`` exists. The quarters come after
    (``close_quarters``), once the owner has analyzed what this wrote: the engine's plans
    for two million facts without statistics took minutes."""
    started = time.perf_counter()
    tenant = TenantID(uuid4())
    plan = Plan(tenant, employees=employees, work_items=work_items, facts=facts)
    plan.organise()
    plan.draw_work()
    _progress(f"drawn in {time.perf_counter() - started:.1f} s; writing")
    async with tenant_transaction(tenant, statement_timeout_ms=BUILD_STATEMENT_TIMEOUT_MS):
        await tenant_service.create_tenant(
            tenant, slug=slug, name=NAME, template_code=TEMPLATE, known_templates=pack_codes(),
            settings={"bench": {"seed": SEED, "as_of": str(AS_OF), "stage": "loaded"}},
        )  # fmt: skip
        await provision_pack(tenant)
        await tenant_repo.insert_user(
            tenant, email=HR_EMAIL, display_name="Bench HR", roles=[Role.HR.value],
            password_hash=None,
        )  # fmt: skip
        counts = await _write_records(plan)
        step = time.perf_counter()
        counts["facts"] = await copy_facts(tenant, _drawn_ahead(plan.facts()))
        _progress(f"{counts['facts']} facts in {time.perf_counter() - step:.1f} s")
        load_s = round(time.perf_counter() - started, 1)
        await _note(tenant, {"stage": "loaded", "load_s": load_s, "counts": counts})
    return Built(tenant, counts, load_s)


def _drawn_ahead(rows: Iterator[FactRow]) -> Iterator[FactRow]:
    """``rows``, drawn in a thread a few batches ahead: Python draws the next facts while
    PostgreSQL inserts the last ones (the drawing touches no database)."""
    ready: queue.Queue[list[FactRow] | BaseException | None] = queue.Queue(maxsize=4)

    def draw() -> None:
        try:
            batch: list[FactRow] = []
            for row in rows:
                batch.append(row)
                if len(batch) >= COPY_BATCH:
                    ready.put(batch)
                    batch = []
            ready.put(batch)
            ready.put(None)
        except BaseException as exc:  # handed over to the consumer, which raises it
            ready.put(exc)

    threading.Thread(target=draw, name="bench-facts", daemon=True).start()
    while (batch := ready.get()) is not None:
        if isinstance(batch, BaseException):
            raise batch
        yield from batch


async def _note(tenant: TenantID, values: dict[str, Any]) -> None:
    """Merge ``values`` into the tenant's ``settings.bench``."""
    await require_tenant(tenant).execute(
        "UPDATE tenants SET settings = jsonb_set(settings, '{bench}', "
        "coalesce(settings->'bench', '{}'::jsonb) || $2::jsonb) WHERE id = $1",
        tenant, orjson.dumps(values).decode(),
    )  # fmt: skip


async def bench_state(tenant: TenantID) -> dict[str, Any]:
    """The tenant's ``settings.bench``: stage (``loaded``, ``complete``), load_s, counts."""
    raw = await require_tenant(tenant).fetchval(
        "SELECT settings->'bench' FROM tenants WHERE id = $1", tenant
    )
    state: dict[str, Any] = orjson.loads(raw) if raw else {}
    return state


async def close_quarters(tenant: TenantID) -> dict[str, int]:
    """The quarters ending in the dashboard's period, created and closed oldest first by the
    scoring engine (those already there are kept), in one transaction that also marks the
    dataset complete and adds its time to ``load_s``."""
    started = time.perf_counter()
    async with tenant_transaction(tenant, statement_timeout_ms=BUILD_STATEMENT_TIMEOUT_MS) as tx:
        state = await bench_state(tenant)
        specs = quarters()
        for code, first, last in specs:
            if await indicators_repo.get_period_by_code(tenant, code) is not None:
                continue
            step = time.perf_counter()
            period = await period_service.create(
                tenant, code=code, kind="quarter", starts_on=first, ends_on=last
            )
            await period_service.close(tenant, period.id)
            _progress(f"quarter {code} closed in {time.perf_counter() - step:.1f} s")
        scorecards = await tx.fetchval(
            "SELECT count(*) FROM scorecards WHERE tenant_id = $1", tenant
        )
        counts = {**state.get("counts", {}), "periods": len(specs), "scorecards": int(scorecards)}
        load_s = round(float(state.get("load_s", 0.0)) + time.perf_counter() - started, 1)
        await _note(tenant, {"stage": "complete", "load_s": load_s, "counts": counts})
    return counts


async def _write_records(plan: Plan) -> dict[str, int]:
    step = time.perf_counter()
    tx = require_tenant(plan.tenant)
    async with tx.client.acquire_connection() as conn:
        # A few hundred units, parents first; asyncpg has no binary COPY codec for ltree.
        await conn.executemany(
            _INSERT_UNIT,
            [
                (u.id, plan.tenant, u.key, u.name, u.kind,
                 u.parent.id if u.parent is not None else None, u.path, plan.now)
                for u in plan.units
            ],
        )  # fmt: skip
        counts = {"org_units": len(plan.units)}
        counts["skills"] = await _copy(conn, "skills", SKILL_COLUMNS, plan.skill_rows)
        counts["employees"] = await _copy(conn, "employees", EMPLOYEE_COLUMNS, plan.employee_rows)
        counts["employee_skills"] = await _copy(
            conn, "employee_skills", EMPLOYEE_SKILL_COLUMNS, plan.employee_skill_rows
        )
        # One recomputation of the daily rollups at commit for both copies (migration 0013).
        await conn.execute("SELECT work_item_rollups_defer()")
        counts["work_items"] = await _copy(conn, "work_items", ITEM_COLUMNS, plan.item_rows())
        counts["work_item_assignees"] = await _copy(
            conn, "work_item_assignees", ASSIGNEE_COLUMNS, plan.assignee_rows()
        )
    _progress(f"records and work items in {time.perf_counter() - step:.1f} s: {counts}")
    return counts


def check_pack() -> None:
    """The codes drawn here must be the pack's: a renamed level or kind fails loudly."""
    pack = pack_for(TEMPLATE)
    missing = [code for code, _ in LEVELS if pack.level(code) is None]
    missing += [
        kind for kind in ("company", "department", "team") if pack.org_unit_kind(kind) is None
    ]
    if missing:
        raise RuntimeError(f"the {TEMPLATE} pack lacks {missing}")

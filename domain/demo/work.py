"""Work items of demo tenants: the requests, defects, complaints, homework and questions the
demo's facts tell of, as rows of ``work_items`` and ``work_item_assignees``.

The fact plans (``domain.demo.facts``) call an industry's recorder here while they draw a
person's facts, with the moments those facts carry, so an item and its facts agree: a
requirement is delivered when its ``requirement_delivered`` fact occurs, promised for the day
of its ``due_item`` fact and, when late, late for that fact's cause; a defect is found when
its ``defect`` fact occurs, in test or in production as the fact says; a complaint, a
homework batch or a question is delivered when its fact occurs, that many hours after it was
asked. Items are keyed like their facts (``requirement:7`` goes with ``requirement_delivered:7``
and ``due_item:7``) under source ``demo``; nothing is derived from them, since the demo's facts
already are those facts.

Whatever an item adds to its facts (titles, customers, who asked, when it was answered,
started and closed) comes from a generator of its own per person, seeded from the plan's seed,
so the facts' draws stay what they were and the same seed gives the same items. What has not
happened by ``as_of`` is not recorded: an item whose closing or fix lies later is delivered or
in progress.

What is not an item: a sales request of the R&D demo is a fact only, except in the last
``RECENT`` days, when it is a requirement still open (answered, or not yet) with nobody
assigned yet. Open items with assignees count as load in capability matching, and the facts
know of no work in progress, so the only open load is an incident still being fixed at
``as_of`` (rare). The request and answer of a delivered requirement have no
``sales_request``/``feasibility_answer`` fact of their own: those facts are drawn apart.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID, uuid4

import orjson

from domain.demo import catalogue as cat
from domain.demo.builder import ENGAGEMENTS, Generator, Person, SchoolGenerator
from tenants.scope import TenantID

SOURCE = "demo"  # as the demo's facts
RECENT = timedelta(days=14)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

# What an item's row gives, in this order, then the person assigned to it (None: nobody yet).
# What every item shares (tenant, source, when created) is added by ``copy_work``.
ITEM_COLUMNS = (
    "id", "kind", "title", "customer", "requester_id", "requester_name", "org_unit_id",
    "skills", "size", "status", "requested_at", "answered_at", "answered_by", "verdict",
    "estimate_days", "promised_on", "promised_at", "feasible_on", "overpromised", "started_at",
    "delivered_at", "closed_at", "delay_cause", "cause", "found_in", "linked_item_id",
    "external_key",
)  # fmt: skip
_STAGE = "demo_stage_work_items"

Row = tuple[Any, ...]


class DemoWork:
    """The rows of a demo's work items, handed out in batches (``drain``) as they grow."""

    def __init__(self, generator: Generator) -> None:
        self.tenant = generator.tenant
        self.now = generator.now
        # The first moment after ``as_of``, as the fact plans' clock has it.
        after = datetime.combine(generator.as_of + DAY, time.min, UTC)
        self.cutoff = min(after, generator.now)
        self.items: list[Row] = []
        self.rng = random.Random(0)  # noqa: S311 - replaced per person by ``begin``

    def begin(self, seed: str) -> None:
        """Draw the next person's items from a generator of their own."""
        self.rng = random.Random(seed)  # noqa: S311 - demo data, not secrets

    def drain(self) -> list[Row]:
        """The items recorded since the last call."""
        items, self.items = self.items, []
        return items

    def add(
        self,
        person: Person,
        kind: str,
        title: str,
        key: str,
        requested: datetime,
        *,
        assigned: bool = True,
        customer: str | None = None,
        requester_id: UUID | None = None,
        requester_name: str | None = None,
        skills: str = "[]",
        size: float | None = None,
        answered: datetime | None = None,
        estimate_days: float | None = None,
        promised_on: date | None = None,
        feasible_on: date | None = None,
        overpromised: bool = False,
        started: datetime | None = None,
        delivered: datetime | None = None,
        closed: datetime | None = None,
        delay_cause: str | None = None,
        cause: str | None = None,
        found_in: str | None = None,
        linked: UUID | None = None,
    ) -> UUID:
        """One item (and ``person`` as its only assignee unless ``assigned`` is false), its
        status following from the furthest step taken by ``as_of``."""
        cutoff = self.cutoff
        if closed is not None and closed >= cutoff:
            closed = None
        if delivered is not None and delivered >= cutoff:
            delivered = None
        if started is not None and started >= cutoff:
            started = None
        if closed is not None:
            status = "closed"
        elif delivered is not None:
            status = "delivered"
        elif started is not None:
            status = "in_progress"
        elif promised_on is not None:
            status = "planned"
        else:
            status = "answered" if answered is not None else "new"
        item_id = uuid4()
        self.items.append(
            (
                item_id, kind, title, customer, requester_id, requester_name, person.unit.id,
                skills, size, status, requested, answered,
                person.id if answered is not None else None,
                "feasible" if answered is not None else None, estimate_days, promised_on,
                answered if promised_on is not None else None, feasible_on, overpromised,
                started, delivered, closed, delay_cause, cause, found_in, linked, key,
                person.id if assigned else None,
            )
        )  # fmt: skip
        return item_id


# --- enterprise R&D -------------------------------------------------------------------------

FEATURES: tuple[str, ...] = (
    "Export pick lists as PDF", "Speed limits per warehouse zone", "Battery health report",
    "Pause the whole fleet from the dashboard", "Operator UI in Chinese and English",
    "Single sign-on for the fleet console", "Remote firmware rollback", "Shift handover summary",
    "Share obstacle maps between robots", "Charge when electricity is cheapest",
    "Pallet dimension check at the dock", "Export the audit log as CSV",
    "Replay a robot's route for incident review", "Elevator call API", "Fire door integration",
    "Daily KPI e-mail to site managers", "Scan tote barcodes at pick-up",
    "Camera snapshot on emergency stop", "No-go zones drawn on the map",
    "Rush orders jump the queue", "Maintenance reminders by odometer",
    "Webhook when a task completes", "Offline mode for the handheld app",
    "Multi-site fleet overview", "Weight check before lifting", "Custom alarm sounds per zone",
    "Import the warehouse layout from CAD", "Role-based access for contractors",
)  # fmt: skip
# Who at sales asks on behalf of each customer (by position in ``cat.CUSTOMERS``): people off
# the demo's records, so named rather than linked.
ACCOUNT_MANAGERS: tuple[str, ...] = (
    "周雅婷 (Sales)", "Kevin Lin (Sales)", "孙浩然 (Sales)", "Grace Wu (Sales)", "赵一鸣 (Sales)",
)  # fmt: skip
BUGS: tuple[str, ...] = (
    "Crash in “{}”", "Wrong totals in “{}”", "Timeout in “{}”", "Regression in “{}”",
    "Layout broken in “{}”", "Race condition in “{}”", "Missing translation in “{}”",
)  # fmt: skip
INCIDENTS: tuple[str, ...] = (
    "Robots stop at zone boundaries", "Dashboard does not load", "Tasks stuck in the queue",
    "Charging dock not detected", "Report totals do not match the WMS",
    "Map drifts after a restart",
)  # fmt: skip
COMPLAINTS: tuple[str, ...] = (
    "Robot collided with shelving", "Repeated emergency stops at peak hours",
    "Upgrade broke the WMS integration", "Pick rate below the agreed 120 an hour",
    "Operator screen freezes during shift change", "Wrong stock levels after a sync",
)  # fmt: skip
SIZES = (1, 2, 3, 5, 8)
# The fact plans' late causes, as work items name them.
DELAY_CAUSES: dict[str, str] = {
    "rd": "rd", "sales_over_promise": "sales_overpromise",
    "customer_change": "customer_change", "external": "external",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Requirement:
    """A recorded requirement, for the defects found in it."""

    id: UUID
    title: str
    customer: str
    delivered: datetime


class EnterpriseWork(DemoWork):
    """Requirements, their bugs and incidents, complaints and the last weeks' open requests."""

    def requirement(
        self,
        person: Person,
        *,
        number: int,
        size: int,
        started: datetime,
        delivered: datetime,
        due: datetime,
        cause: str | None,
    ) -> Requirement:
        """A requirement asked for by sales a few days before work started, answered as
        feasible by ``person`` (who then did it), promised for the day ``due`` falls on and
        delivered at ``delivered``; ``cause`` is the due item's late cause, None when on time.
        Late for an over-promise: promised before the earliest date the system showed."""
        rng = self.rng
        customer_index = rng.randrange(len(cat.CUSTOMERS))
        customer = cat.CUSTOMERS[customer_index]
        title = rng.choice(FEATURES)
        hours = self.answer_hours(person)
        requested = started - timedelta(hours=hours, days=rng.uniform(1, 10))
        answered = requested + timedelta(hours=hours)
        promised_on = due.date()
        if cause is not None and promised_on >= delivered.date():
            # A due date the facts clamped to the first day of the history: the promise
            # itself lay before it.
            promised_on -= DAY
        overpromised = cause == "sales_over_promise"
        if overpromised:
            gap = (delivered.date() - promised_on).days
            feasible_on = promised_on + timedelta(days=rng.randint(1, max(1, gap)))
        else:
            slack = max(0, min(7, (promised_on - answered.date()).days))
            feasible_on = promised_on - timedelta(days=rng.randint(0, slack))
        item_id = self.add(
            person, "requirement", title, f"requirement:{number}", requested,
            customer=customer,
            requester_name=ACCOUNT_MANAGERS[customer_index % len(ACCOUNT_MANAGERS)],
            skills=self.skills(person), size=float(size), answered=answered,
            estimate_days=float(max(1, (feasible_on - answered.date()).days)),
            promised_on=promised_on, feasible_on=feasible_on, overpromised=overpromised,
            started=started, delivered=delivered,
            closed=delivered + timedelta(hours=rng.uniform(4, 120)),
            delay_cause=DELAY_CAUSES[cause] if cause is not None else None,
        )  # fmt: skip
        return Requirement(item_id, title, customer, delivered)

    def defect(
        self,
        person: Person,
        requirement: Requirement,
        *,
        number: int,
        found: datetime,
        production: bool,
    ) -> None:
        """A bug found in test (by a colleague, fixed before the requirement is delivered) or
        an incident a customer reports from production; ``person`` fixes it."""
        # (Hours as floats, made timedeltas once: a few hundred thousand defects in a big demo.)
        rng = self.rng
        requester_id: UUID | None = None
        requester_name: str | None = None
        customer: str | None = None
        if production:
            kind, found_in = "incident", "production"
            title = f"{rng.choice(INCIDENTS)} ({requirement.title})"
            customer = requirement.customer
            requester_name = f"{customer} support"
            fix = rng.triangular(2, 120, 24)
        else:
            kind, found_in = "bug", "test"
            title = rng.choice(BUGS).format(requirement.title)
            colleague = self.colleague(person, found.date())
            if colleague is not None:
                requester_id = colleague.id
            else:
                requester_name = "QA"
            fix = min(rng.triangular(1, 48, 6), max((requirement.delivered - found) / HOUR, 0.1))
        # Work on it starts before ``as_of`` even when the fix comes later.
        start = min(fix, (self.cutoff - found) / HOUR) * rng.uniform(0.05, 0.3)
        fixed = found + timedelta(0, fix * 3600)
        self.add(
            person, kind, title, f"defect:{number}", found,
            customer=customer, requester_id=requester_id, requester_name=requester_name,
            started=found + timedelta(0, start * 3600), delivered=fixed,
            closed=fixed + timedelta(0, rng.uniform(0.5, 24) * 3600), found_in=found_in,
            linked=requirement.id,
        )  # fmt: skip

    def complaint(self, person: Person, *, number: int, fixed: datetime, hours: float) -> None:
        """A customer's complaint caused by R&D, fixed by ``person`` ``hours`` after it came."""
        rng = self.rng
        requested = fixed - timedelta(hours=hours)
        customer = rng.choice(cat.CUSTOMERS)
        self.add(
            person, "complaint", rng.choice(COMPLAINTS), f"complaint:{number}", requested,
            customer=customer, requester_name=f"{customer} support",
            started=requested + (fixed - requested) * rng.uniform(0.05, 0.4), delivered=fixed,
            closed=fixed + timedelta(hours=rng.uniform(2, 72)), cause="rd",
        )  # fmt: skip

    def sales_request(
        self, person: Person, *, number: int, asked: datetime, answered: datetime | None
    ) -> None:
        """A sales request of the last ``RECENT`` days to someone still here: an open
        requirement, answered as feasible by ``person`` or not yet, assigned to nobody yet."""
        if asked < self.cutoff - RECENT or person.left_on is not None:
            return
        rng = self.rng
        customer_index = rng.randrange(len(cat.CUSTOMERS))
        size = rng.choice(SIZES)
        self.add(
            person, "requirement", rng.choice(FEATURES), f"sales_request:{number}", asked,
            assigned=False, customer=cat.CUSTOMERS[customer_index],
            requester_name=ACCOUNT_MANAGERS[customer_index % len(ACCOUNT_MANAGERS)],
            skills=self.skills(person), size=float(size), answered=answered,
            estimate_days=float(round(size * rng.uniform(5, 10))) if answered else None,
        )  # fmt: skip

    def answer_hours(self, person: Person) -> float:
        """Hours to a feasibility answer, drawn as the plan draws those of sales requests."""
        rng = self.rng
        late = max(0.02, min(0.3, 0.1 - 0.03 * person.talent))
        return rng.triangular(0.5, 24.0, 3.0) if rng.random() >= late else rng.uniform(24.0, 72.0)

    def skills(self, person: Person) -> str:
        """One or two of the person's skills of their line of work, at a level they meet."""
        rng = self.rng
        pool = [s for s in person.skills if s[0] in person.core_ids] or person.skills
        chosen = rng.sample(pool, min(len(pool), rng.choice((1, 1, 2))))
        needs = [
            {"skillId": str(skill_id), "minLevel": min(level, rng.randint(2, 3))}
            for skill_id, level in chosen
        ]
        return orjson.dumps(needs).decode()

    def colleague(self, person: Person, day: date) -> Person | None:
        """Someone else of the person's unit who was there on ``day``, if a few tries find
        one (a unit has a dozen people or so: looking at each for every defect is slow)."""
        members = person.unit.members
        for _ in range(4):
            p = members[self.rng.randrange(len(members))]
            if p is not person and p.hire_date <= day and (p.left_on is None or p.left_on >= day):
                return p
        return None


# --- school teaching ------------------------------------------------------------------------

HOMEWORK: tuple[str, ...] = ("课后练习", "单元作业", "周末作业", "练习卷", "预习任务")
QUESTIONS: tuple[str, ...] = ("课后提问", "作业疑问", "错题请教", "预习疑问")


class SchoolWork(DemoWork):
    """Homework batches and students' questions, each for one of the teacher's classes."""

    def __init__(self, generator: Generator) -> None:
        super().__init__(generator)
        if not isinstance(generator, SchoolGenerator):
            raise TypeError("school work items need a school demo")
        self.classes_per_grade = generator.classes_per_grade
        self.recorded = _class_names(generator)
        self.term_start = generator.history_start
        self.classes: list[str] = []

    def term(self, person: Person, starts: date, classes: int) -> None:
        """Start the term beginning on ``starts`` with ``classes`` classes: those the builder
        recorded for it, or as many drawn as the builder draws them."""
        self.term_start = starts
        recorded = self.recorded.get((person.id, starts))
        if recorded:
            self.classes = recorded
            return
        spec = next(spec for spec in cat.SUBJECTS if person.subject in spec.subjects)
        grade = cat.GRADES[self.rng.choice(spec.grades)]
        numbers = range(1, self.classes_per_grade + 1)
        picked = self.rng.sample(numbers, min(classes, len(numbers)))
        self.classes = [f"{grade}({number})班" for number in picked]

    def homework(self, person: Person, *, number: int, graded: datetime, hours: float) -> None:
        """A class's homework batch, handed in ``hours`` before ``person`` had graded it."""
        rng = self.rng
        group = rng.choice(self.classes)
        week = (graded.date() - self.term_start).days // 7 + 1
        title = f"{person.subject}{rng.choice(HOMEWORK)} · 第{week}周"
        self._answered(person, "homework", title, f"homework:{number}", graded, hours, group, group)

    def question(self, person: Person, *, number: int, answered: datetime, hours: float) -> None:
        """A student's question, answered by ``person`` ``hours`` after it was asked."""
        rng = self.rng
        group = rng.choice(self.classes)
        title = f"{person.subject}{rng.choice(QUESTIONS)}"
        self._answered(
            person, "question", title, f"question:{number}", answered, hours, group, f"{group} 学生"
        )

    def _answered(
        self,
        person: Person,
        kind: str,
        title: str,
        key: str,
        done: datetime,
        hours: float,
        group: str,
        requester: str,
    ) -> None:
        requested = done - timedelta(hours=hours)
        self.add(
            person, kind, title, key, requested,
            customer=group, requester_name=requester,
            started=done - (done - requested) * self.rng.uniform(0.05, 0.5), delivered=done,
            closed=done,
        )  # fmt: skip


def _class_names(generator: Generator) -> dict[tuple[UUID, date], list[str]]:
    """The classes the builder recorded (class engagements such as ``初一(3)班 数学``), by
    teacher and first day of term."""
    column = {name: index for index, name in enumerate(ENGAGEMENTS.columns)}
    found: dict[tuple[UUID, date], list[str]] = {}
    for row in generator.rows[ENGAGEMENTS.name]:
        if row[column["kind"]] == "class":
            key = (row[column["employee_id"]], row[column["started_on"]])
            found.setdefault(key, []).append(row[column["name"]].split(" ", 1)[0])
    return found


async def copy_work(conn: Any, tenant: TenantID, now: datetime, rows: list[Row]) -> int:
    """COPY ``rows`` into a staging table, then ``INSERT ... SELECT`` the items and (share 1)
    their assignees from it, in the transaction of ``conn``; returns the assignees written."""
    if not rows:
        return 0
    columns = ", ".join(ITEM_COLUMNS)
    # Each batch spans the whole history: the dashboard's daily rollups are recomputed once,
    # when the demo commits, not after each batch (migration 0013).
    await conn.execute("SELECT work_item_rollups_defer()")
    await conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} ON COMMIT DROP AS "  # noqa: S608
        f"SELECT {columns}, NULL::uuid AS assignee FROM work_items WITH NO DATA"
    )
    await conn.copy_records_to_table(_STAGE, records=rows, columns=(*ITEM_COLUMNS, "assignee"))
    await conn.execute(
        f"INSERT INTO work_items ({columns}, tenant_id, source, created_at, updated_at) "  # noqa: S608
        f"SELECT {columns}, $1, $2, $3, $3 FROM {_STAGE}",
        tenant,
        SOURCE,
        now,
    )
    status: str = await conn.execute(
        "INSERT INTO work_item_assignees (id, tenant_id, work_item_id, employee_id, share) "  # noqa: S608
        f"SELECT gen_random_uuid(), $1, id, assignee, 1 FROM {_STAGE} WHERE assignee IS NOT NULL",
        tenant,
    )
    await conn.execute(f"TRUNCATE {_STAGE}")
    return int(status.rsplit(" ", 1)[1])


WORK_PLANS: dict[str, type[DemoWork]] = {
    "enterprise_rd": EnterpriseWork,
    "school_teaching": SchoolWork,
}


def demo_work(generator: Generator) -> DemoWork:
    """An empty recorder of the work items of ``generator``'s demo."""
    return WORK_PLANS[generator.profile.template](generator)

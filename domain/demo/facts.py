"""Facts of demo tenants, and the calendar of periods a demo is scored in.

``demo_facts(generator)`` turns a planned demo (``domain.demo.builder``: its people with their
levels, units, hire dates and talent, and its ``as_of``) into ``FactRow``s of every fact kind
of the tenant's pack, over the two years of history and only while each person was there
(from the hire date, or the start of the history, to the day they left, or ``as_of``).

Reproducible and linear: one number drawn from the build's random generator seeds one
generator per person, so the same seed, size and ``as_of`` give the same facts apart from
row ids, and a person's facts do not depend on how many others there are. Rows are yielded
person by person: a build of 5,000 engineers (about two million facts) holds one person's
facts at a time, never the whole set. Given a recorder (``domain.demo.work``), the plans also
record the work items their facts tell of, drawn from generators of their own.

What the R&D demo shows, per quarter and person (the issue's figures; INDICATORS.md):
6-7 delivered requirements of 1-8 story points (value: cycle days), one due item each, 2-3.5
linked defects each (found in test or, for 1-3 %, in production), 0-2 patents or core
contributions, 8-15 sales requests each answered once (most within 24 h), 0-3 R&D-caused
complaints fixed (most within 72 h), 2-5 cross-department action items and 0-2 trainings
rated 3-5. By level the mean cycle is 42 days (junior), 35 (mid), 28 (senior) and 24
(principal), and the escaped-defect rate 3 %, 2 %, 1.2 % and 1 %. One or two teams see
twice their usual sales requests in the last full quarter, which the pack's demand-spike
rule picks up. Managers do less hands-on work: team managers about 60 %, heads of
departments 30 %, the head of the company none; sales requests go to the teams only.

What the school demo shows, per teacher and term: a class test per class (the post-test
mean, with the pre-test mean as ``pre`` and the share of students at or above the
excellence line of 85 as ``excellent``, for scores spread normally around the mean) from
which interactive teachers reach a normalised gain of about 0.45, mixed ones about 0.32 and
lecturers about 0.23, 40-60 lessons (1 for a lesson in a project-based unit: 30-60 % of an
interactive teacher's, under 12 % of the others'), homework graded (school-day hours, most
within 24), students' questions answered (most within an hour) and a monthly parent
contact (students whose families were contacted, out of the teacher's students); once a
school year, at the end of the spring term, 25-35 students' growth percentiles around 50,
shifted by the teacher. Class tests of the terms the
builder recorded class engagements for carry those classes' own pre- and post-test means.

Periods (``scoring_periods``): calendar quarters for a quarterly pack; for a termly pack two
terms a school year, coded by the calendar year they start in: ``T1`` from 1 September to 31
January (``2025-T1`` is the autumn term of 2025/26) and ``T2`` from 1 February to 15 July
(``2026-T2``). Teaching runs inside them, from 1 September to 20 January and from 20
February to 10 July, as in the builder's class engagements; the rest is the exams, grading
and the breaks. A demo is scored in the periods that lie at least half inside its history
and begin by ``as_of``.
"""

from __future__ import annotations

import abc
import math
import random
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from statistics import NormalDist
from typing import Any, ClassVar, Generic, TypeVar
from uuid import UUID, uuid4

import orjson

from domain.demo import catalogue as cat
from domain.demo.builder import ENGAGEMENTS, Generator, Person, SchoolGenerator, Unit
from domain.demo.work import DemoWork, EnterpriseWork, SchoolWork
from domain.indicators.repository import FactRow

DEMO_SOURCE = "demo"
# The school's excellence line (of 100) and the spread of a class's scores around its mean.
EXCELLENCE_LINE = 85.0
CLASS_SPREAD = 12.0
_CLASS_SCORES = NormalDist()
# Working hours in Beijing, 09:00-20:00, as minutes after midnight UTC.
WORK_MINUTES = (60, 12 * 60)
W = TypeVar("W", bound=DemoWork)


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 30:  # the product method needs ~mean draws; a normal is as good up there
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _scaled(rng: random.Random, count: int, fraction: float) -> int:
    """``count`` for a whole period, for the ``fraction`` of it someone was there (the
    remainder rounded up with its own probability, so the mean stays exact)."""
    return math.floor(count * fraction + rng.random())


# --- the calendar ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodSpec:
    """A scoring period as ``period_service.create`` takes it (``ends_on`` inclusive)."""

    code: str
    kind: str
    starts_on: date
    ends_on: date

    @property
    def middle(self) -> date:
        return self.starts_on + (self.ends_on - self.starts_on) / 2


@dataclass(frozen=True)
class SchoolTerm:
    period: PeriodSpec
    teaching_starts: date
    teaching_ends: date

    @property
    def spring(self) -> bool:
        return self.period.code.endswith("T2")


def _month_end(year: int, month: int) -> date:
    return date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)


def quarters_between(first: date, last: date) -> list[PeriodSpec]:
    """The calendar quarters that overlap ``first`` to ``last``, coded like ``2025-Q3``."""
    found = []
    year, quarter = first.year, (first.month - 1) // 3 + 1
    while date(year, 3 * quarter - 2, 1) <= last:
        starts = date(year, 3 * quarter - 2, 1)
        found.append(
            PeriodSpec(f"{year}-Q{quarter}", "quarter", starts, _month_end(year, 3 * quarter))
        )
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    return found


def terms_between(first: date, last: date) -> list[SchoolTerm]:
    """The school terms whose period overlaps ``first`` to ``last``, in order."""
    found = []
    for year in range(first.year - 1, last.year + 1):
        autumn = SchoolTerm(
            PeriodSpec(f"{year}-T1", "term", date(year, 9, 1), date(year + 1, 1, 31)),
            date(year, 9, 1),
            date(year + 1, 1, 20),
        )
        spring = SchoolTerm(
            PeriodSpec(f"{year + 1}-T2", "term", date(year + 1, 2, 1), date(year + 1, 7, 15)),
            date(year + 1, 2, 20),
            date(year + 1, 7, 10),
        )
        found += [
            term
            for term in (autumn, spring)
            if term.period.starts_on <= last and term.period.ends_on >= first
        ]
    return found


def scoring_periods(period_kind: str, history_start: date, as_of: date) -> list[PeriodSpec]:
    """The periods a demo with this history is scored in, oldest first: those at least half
    inside the history (an earlier stub of a few weeks would score nobody) that begin by
    ``as_of``. The last one is the current period when ``as_of`` falls inside it."""
    if period_kind == "quarter":
        candidates = quarters_between(history_start, as_of)
    elif period_kind == "term":
        candidates = [term.period for term in terms_between(history_start, as_of)]
    else:
        raise ValueError(f"demos are scored by quarter or term, not by {period_kind!r}")
    return [p for p in candidates if p.middle >= history_start and p.starts_on <= as_of]


class Clock:
    """Working days and times of a demo's history, fast to draw from."""

    def __init__(self, first: date, last: date, now: datetime) -> None:
        self.first = first.toordinal()
        self.midnight = datetime(first.year, first.month, first.day, tzinfo=UTC)
        self.workdays = [
            day
            for day in range(first.toordinal(), last.toordinal() + 1)
            if date.fromordinal(day).weekday() < 5
        ]
        self.now = now

    def span(self, first: date, last: date) -> tuple[int, int]:
        """Positions in ``workdays`` of the working days from ``first`` to ``last``:
        ``[low, high)``, empty when there are none."""
        return (
            bisect_left(self.workdays, first.toordinal()),
            bisect_right(self.workdays, last.toordinal()),
        )

    def day(self, rng: random.Random, span: tuple[int, int]) -> int:
        return self.workdays[rng.randrange(span[0], span[1])]

    def at(self, rng: random.Random, day: int) -> datetime:
        """A moment of the working day ``day`` (an ordinal)."""
        minutes = rng.randint(*WORK_MINUTES)
        return self.midnight + timedelta(days=day - self.first, minutes=minutes)

    def start_of(self, day: date) -> datetime:
        return self.midnight + timedelta(days=day.toordinal() - self.first)

    def end_of(self, day: date) -> datetime:
        """The first moment after ``day`` (or now, when that is earlier): nothing a fact
        records about a day up to ``day`` happens at or after it."""
        after = self.midnight + timedelta(days=day.toordinal() + 1 - self.first)
        return min(after, self.now)


# --- shared machinery -----------------------------------------------------------------------


class FactPlan(abc.ABC, Generic[W]):
    """What both demos share: a generator per person, keys, rows, windows. Each industry's
    subclass says which facts one person produces and, given a ``work`` recorder
    (``domain.demo.work``), records the work items those facts tell of."""

    # The fact kinds a plan writes: exactly the pack's, or the plan refuses to run.
    KINDS: ClassVar[tuple[str, ...]]

    def __init__(self, generator: Generator, *, source: str, work: W | None = None) -> None:
        self.generator = generator
        self.source = source
        self.work = work
        self.now = generator.now
        self.clock = Clock(generator.history_start, generator.as_of, generator.now)
        # The one draw from the build's generator: everything below follows from it.
        self.seed = generator.rng.getrandbits(64)
        self._serials: dict[str, int] = {}
        differing = sorted({kind.code for kind in generator.pack.fact_kinds} ^ set(self.KINDS))
        if differing:
            raise ValueError(
                f"the {generator.pack.pack.code} pack and the demo's facts differ on {differing}"
            )

    def rows(self) -> Iterator[FactRow]:
        for index, person in enumerate(self.generator.people):
            # One generator per person: their facts do not depend on anybody else's.
            rng = random.Random(f"{self.seed}:{index}")  # noqa: S311 - demo data, not secrets
            if self.work is not None:
                # Items draw from a generator of their own: the facts' draws stay as they are.
                self.work.begin(f"{self.seed}:{index}:work")
            yield from self.person_facts(person, rng)

    @abc.abstractmethod
    def person_facts(self, person: Person, rng: random.Random) -> Iterator[FactRow]:
        """Every fact about ``person`` over their time in the history, drawn from ``rng``."""

    def serial(self, what: str) -> int:
        """The next number of ``what``: facts about one thing share it in their keys."""
        number = self._serials.get(what, 0) + 1
        self._serials[what] = number
        return number

    def fact(
        self,
        person: Person,
        kind: str,
        at: datetime,
        value: float,
        number: int,
        denominator: float | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> FactRow:
        return FactRow(
            id=uuid4(),
            employee_id=person.id,
            kind=kind,
            occurred_at=at,
            value=value,
            denominator=denominator,
            source=self.source,
            external_key=f"{kind}:{number}",
            attributes=attributes if attributes is not None else {},
            recorded_at=self.now,
        )

    def window(self, person: Person) -> tuple[date, date]:
        return self.generator.window(person)


# --- enterprise R&D -------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryProfile:
    """How an engineer of one level works, on average, per quarter."""

    requirements: float
    cycle_days: float
    defects_per_item: float
    escape_rate: float
    on_time: float
    contributions: float
    trainings: float


class EnterpriseFacts(FactPlan[EnterpriseWork]):
    KINDS = (
        "requirement_delivered", "due_item", "defect", "item_defects", "tech_contribution",
        "sales_request", "feasibility_answer", "complaint_fix", "action_item", "training_given",
    )  # fmt: skip
    PROFILES: ClassVar[dict[str, DeliveryProfile]] = {
        "junior": DeliveryProfile(6.0, 42, 3.4, 0.030, 0.80, 0.2, 0.2),
        "mid": DeliveryProfile(6.5, 35, 2.8, 0.020, 0.85, 0.5, 0.5),
        "senior": DeliveryProfile(7.0, 28, 2.3, 0.012, 0.89, 0.9, 0.9),
        "principal": DeliveryProfile(6.0, 24, 2.1, 0.010, 0.91, 1.3, 1.2),
    }
    # (story points, weight): sizes of delivered requirements.
    SIZES: ClassVar[tuple[tuple[int, int], ...]] = ((1, 15), (2, 25), (3, 30), (5, 20), (8, 10))
    CYCLE_SPREAD = 0.3  # log-normal spread of cycle times around a person's mean
    SALES_REQUESTS = (8.0, 14.0)  # a person's usual sales requests per quarter: from, to
    SPIKE = 2.0
    LATE_CAUSES: ClassVar[tuple[tuple[str, int], ...]] = (
        ("rd", 45), ("sales_over_promise", 25), ("customer_change", 20), ("external", 10),
    )  # fmt: skip
    CONTRIBUTIONS: ClassVar[tuple[tuple[str, int], ...]] = (
        ("core_contribution", 75), ("patent", 25),
    )  # fmt: skip
    # Share of hands-on work by what someone manages; sales ask the teams, not their heads.
    WORKLOAD: ClassVar[dict[str, float]] = {"company": 0.0, "department": 0.3, "team": 0.6}
    SALES_WORKLOAD: ClassVar[dict[str, float]] = {"company": 0.0, "department": 0.0, "team": 0.6}

    def __init__(
        self, generator: Generator, *, source: str, work: EnterpriseWork | None = None
    ) -> None:
        super().__init__(generator, source=source, work=work)
        weights = [w for _, w in self.SIZES]
        root = sum(math.sqrt(s) * w for s, w in self.SIZES) / sum(weights)
        # Bigger items take longer and have more defects, by the square root of their size;
        # divided by the mean so that a level's mean cycle stays its profile's.
        self.size_effect = {s: math.sqrt(s) / root for s, _ in self.SIZES}
        self.size_points = [s for s, _ in self.SIZES]
        self.size_weights = weights
        self.late_causes = [cause for cause, _ in self.LATE_CAUSES]
        self.late_weights = [weight for _, weight in self.LATE_CAUSES]
        self.contributions = [kind for kind, _ in self.CONTRIBUTIONS]
        self.contribution_weights = [weight for _, weight in self.CONTRIBUTIONS]
        rng = random.Random(f"{self.seed}:spike")  # noqa: S311 - demo data, not secrets
        teams = [unit for unit in generator.units if unit.kind == "team"]
        self.spike_teams: list[Unit] = rng.sample(
            teams, min(len(teams), 2 if len(teams) >= 6 else 1)
        )
        current = quarters_between(generator.as_of, generator.as_of)[0]
        self.spike_quarter = quarters_between(
            current.starts_on - timedelta(days=1), current.starts_on - timedelta(days=1)
        )[0]

    @staticmethod
    def workload(person: Person, shares: dict[str, float]) -> float:
        return min((shares.get(unit.kind, 1.0) for unit in person.manages), default=1.0)

    def person_facts(self, person: Person, rng: random.Random) -> Iterator[FactRow]:
        first, last = self.window(person)
        profile = self.PROFILES[person.level]
        hands_on = self.workload(person, self.WORKLOAD)
        talent = person.talent
        requests = rng.uniform(*self.SALES_REQUESTS) * self.workload(person, self.SALES_WORKLOAD)
        cutoff = self.clock.end_of(last)
        for quarter in quarters_between(first, last):
            start, end = max(quarter.starts_on, first), min(quarter.ends_on, last)
            span = self.clock.span(start, end)
            if span[0] >= span[1]:
                continue
            fraction = ((end - start).days + 1) / ((quarter.ends_on - quarter.starts_on).days + 1)
            spike = quarter == self.spike_quarter and any(
                person.unit is team for team in self.spike_teams
            )
            for _ in range(_poisson(rng, profile.requirements * hands_on * fraction)):
                yield from self._requirement(person, rng, profile, span, cutoff)
            count = _poisson(rng, requests * fraction * (self.SPIKE if spike else 1.0))
            for _ in range(count):
                yield from self._sales_request(person, rng, span, cutoff, spike=spike)
            for _ in range(min(3, _poisson(rng, 1.2 * hands_on * fraction))):
                yield self._complaint(person, rng, span, cutoff)
            for _ in range(_scaled(rng, rng.randint(2, 5), fraction)):
                closed = rng.random() < _clamp(0.8 + 0.06 * talent, 0.4, 0.98)
                at = self.clock.at(rng, self.clock.day(rng, span))
                if at < cutoff:
                    yield self.fact(
                        person, "action_item", at, float(closed), self.serial("action"), 1.0
                    )
            for _ in range(min(2, _poisson(rng, profile.contributions * fraction))):
                at = self.clock.at(rng, self.clock.day(rng, span))
                kind = rng.choices(self.contributions, self.contribution_weights)[0]
                if at < cutoff:
                    yield self.fact(
                        person, "tech_contribution", at, 1.0, self.serial("contribution"),
                        attributes={"type": kind},
                    )  # fmt: skip
            for _ in range(min(2, _poisson(rng, profile.trainings * fraction))):
                rating = round(_clamp(3.9 + 0.35 * talent + rng.gauss(0, 0.4), 3.0, 5.0), 1)
                at = self.clock.at(rng, self.clock.day(rng, span))
                if at < cutoff:
                    yield self.fact(person, "training_given", at, rating, self.serial("training"))

    def _requirement(
        self,
        person: Person,
        rng: random.Random,
        profile: DeliveryProfile,
        span: tuple[int, int],
        cutoff: datetime,
    ) -> Iterator[FactRow]:
        """A delivered requirement with its due item, its defects and their count."""
        talent = person.talent
        delivered = self.clock.at(rng, self.clock.day(rng, span))
        size = rng.choices(self.size_points, self.size_weights)[0]
        spread = self.CYCLE_SPREAD
        noise = math.exp(rng.gauss(-spread * spread / 2, spread))  # mean 1
        cycle = profile.cycle_days * (1 - 0.06 * talent) * self.size_effect[size] * noise
        cycle = round(max(1.0, cycle), 1)
        started = delivered - timedelta(days=cycle)
        if delivered >= cutoff or started.date() < person.hire_date:
            return  # newcomers deliver what they started themselves
        # What happened before the history began is not part of it.
        earliest = max(started, self.clock.start_of(self.window(person)[0]))
        number = self.serial("requirement")
        yield self.fact(person, "requirement_delivered", delivered, cycle, number, float(size))
        on_time = rng.random() < _clamp(profile.on_time + 0.04 * talent, 0.4, 0.99)
        if on_time:
            due = min(delivered + timedelta(days=rng.randint(0, 10)), cutoff - timedelta(hours=1))
            due = max(due, delivered)
            attributes: dict[str, Any] = {}
        else:
            due = max(delivered - timedelta(days=rng.randint(1, 15)), earliest)
            attributes = {"cause": rng.choices(self.late_causes, self.late_weights)[0]}
        yield self.fact(person, "due_item", due, float(on_time), number, 1.0, attributes)
        work = self.work
        requirement = (
            work.requirement(
                person, number=number, size=size, started=started, delivered=delivered, due=due,
                cause=attributes.get("cause"),
            )
            if work is not None
            else None
        )  # fmt: skip
        expected = profile.defects_per_item * (1 - 0.1 * talent) * self.size_effect[size]
        escape = _clamp(profile.escape_rate * (1 - 0.15 * talent), 0.001, 0.5)
        found = 0
        for _ in range(_poisson(rng, expected)):
            if rng.random() < escape:
                at = delivered + timedelta(days=rng.uniform(1, 45))
                production = True
            else:
                at = earliest + (delivered - earliest) * rng.random()
                production = False
            if at >= cutoff:
                continue  # not found yet
            found += 1
            defect = self.serial("defect")
            yield self.fact(person, "defect", at, float(production), defect, 1.0)
            if work is not None and requirement is not None:
                work.defect(person, requirement, number=defect, found=at, production=production)
        yield self.fact(person, "item_defects", delivered, float(found), number)

    def _sales_request(
        self,
        person: Person,
        rng: random.Random,
        span: tuple[int, int],
        cutoff: datetime,
        *,
        spike: bool,
    ) -> Iterator[FactRow]:
        """A sales request and, unless still open, the first feasibility answer to it."""
        asked = self.clock.at(rng, self.clock.day(rng, span))
        if asked >= cutoff:
            return
        number = self.serial("sales_request")
        yield self.fact(person, "sales_request", asked, 1.0, number)
        late = _clamp(0.1 - 0.03 * person.talent, 0.02, 0.3) * (2.5 if spike else 1.0)
        if rng.random() >= late:
            hours = rng.triangular(0.5, 24.0, 3.0)
        else:  # a spike's backlog mostly clears within two days
            hours = rng.uniform(24.0, 48.0 if spike else 72.0)
        answered = asked + timedelta(hours=hours)
        if answered < cutoff:
            yield self.fact(person, "feasibility_answer", answered, round(hours, 2), number)
        if self.work is not None:
            self.work.sales_request(
                person, number=number, asked=asked, answered=answered if answered < cutoff else None
            )

    def _complaint(
        self, person: Person, rng: random.Random, span: tuple[int, int], cutoff: datetime
    ) -> FactRow:
        within = rng.random() < _clamp(0.88 + 0.04 * person.talent, 0.6, 0.99)
        hours = rng.triangular(2.0, 72.0, 20.0) if within else rng.uniform(72.0, 240.0)
        fixed = min(self.clock.at(rng, self.clock.day(rng, span)), cutoff - timedelta(hours=1))
        number = self.serial("complaint")
        if self.work is not None:
            self.work.complaint(person, number=number, fixed=fixed, hours=round(hours, 1))
        return self.fact(person, "complaint_fix", fixed, round(hours, 1), number)


# --- school teaching ------------------------------------------------------------------------


@dataclass(frozen=True)
class SchoolClass:
    size: int
    pre: float
    post: float | None  # None until the term's post-test


class SchoolFacts(FactPlan[SchoolWork]):
    KINDS = (
        "class_test", "student_growth", "lesson", "homework_graded", "question_answered",
        "parent_contact",
    )  # fmt: skip
    LESSONS = (40, 60)  # per term
    HOMEWORK_PER_CLASS_WEEK = 1.0
    QUESTIONS_PER_WEEK = 2.5
    GROWTH_STUDENTS = (25, 35)  # per school year
    # Share of lessons in project-based units: interactive teachers, the others.
    PBL_SHARE: ClassVar[dict[bool, tuple[float, float]]] = {True: (0.3, 0.6), False: (0.0, 0.12)}

    def __init__(
        self, generator: Generator, *, source: str, work: SchoolWork | None = None
    ) -> None:
        super().__init__(generator, source=source, work=work)
        self.classes = _engagement_classes(generator)

    def person_facts(self, person: Person, rng: random.Random) -> Iterator[FactRow]:
        if any(unit.kind == "school" for unit in person.manages):
            return  # the principal no longer teaches classes (as in the builder)
        first, last = self.window(person)
        cutoff = self.clock.end_of(last)
        for term in terms_between(first, last):
            start, end = max(term.teaching_starts, first), min(term.teaching_ends, last)
            span = self.clock.span(start, end)
            if span[0] >= span[1]:
                continue
            whole = self.clock.span(term.teaching_starts, term.teaching_ends)
            fraction = (span[1] - span[0]) / (whole[1] - whole[0])
            weeks = (span[1] - span[0]) / 5
            classes = self.classes.get((person.id, term.teaching_starts)) or self._draw_classes(
                person, rng, term
            )
            work = self.work
            if work is not None:
                work.term(person, term.teaching_starts, len(classes))
            yield from self._class_tests(person, rng, term, classes, cutoff)
            pbl = rng.uniform(*self.PBL_SHARE[person.interactive])
            for _ in range(_scaled(rng, rng.randint(*self.LESSONS), fraction)):
                at = self.clock.at(rng, self.clock.day(rng, span))
                if at < cutoff:
                    in_unit = float(rng.random() < pbl)
                    yield self.fact(person, "lesson", at, in_unit, self.serial("lesson"), 1.0)
            late = _clamp(0.08 - 0.03 * person.talent + 0.03 * (person.rank == 1), 0.01, 0.3)
            batches = len(classes) * self.HOMEWORK_PER_CLASS_WEEK * weeks
            for _ in range(_poisson(rng, batches)):
                hours = (
                    rng.triangular(1.0, 24.0, 6.0) if rng.random() >= late else rng.uniform(24, 72)
                )
                at = self.clock.at(rng, self.clock.day(rng, span)) + timedelta(hours=hours)
                if at < cutoff:
                    number = self.serial("homework")
                    yield self.fact(person, "homework_graded", at, round(hours, 1), number)
                    if work is not None:
                        work.homework(person, number=number, graded=at, hours=round(hours, 1))
            slow = _clamp(0.15 - 0.05 * person.talent, 0.03, 0.4)
            for _ in range(_poisson(rng, self.QUESTIONS_PER_WEEK * weeks)):
                hours = (
                    rng.triangular(0.05, 1.0, 0.25) if rng.random() >= slow else rng.uniform(1, 6)
                )
                at = self.clock.at(rng, self.clock.day(rng, span)) + timedelta(hours=hours)
                if at < cutoff:
                    number = self.serial("question")
                    yield self.fact(person, "question_answered", at, round(hours, 2), number)
                    if work is not None:
                        work.question(person, number=number, answered=at, hours=round(hours, 2))
            yield from self._parent_contacts(person, rng, span, classes, cutoff)
            if term.spring:
                yield from self._growth(person, rng, term, first, cutoff)

    def _draw_classes(
        self, person: Person, rng: random.Random, term: SchoolTerm
    ) -> list[SchoolClass]:
        """Classes of a term the builder recorded none for (before its class history, or
        joined mid-term), drawn as ``SchoolGenerator._class`` draws them."""
        spec = next(spec for spec in cat.SUBJECTS if person.subject in spec.subjects)
        found = []
        for _ in range(spec.classes_per_term):
            pre = round(rng.uniform(45, 85), 1)
            mean_gain = SchoolGenerator.STYLE_GAINS[person.teaching_style]
            gain = mean_gain + 0.02 * (person.rank - 2) + 0.03 * person.talent
            gain = _clamp(gain + rng.gauss(0, 0.08), -0.1, 0.85)
            post = round(_clamp(pre + gain * (100 - pre), 0, 100), 1)
            found.append(SchoolClass(rng.randint(35, 50), pre, post))
        return found

    def _class_tests(
        self,
        person: Person,
        rng: random.Random,
        term: SchoolTerm,
        classes: list[SchoolClass],
        cutoff: datetime,
    ) -> Iterator[FactRow]:
        """The post-test of each class taught for the whole term, on its last teaching day."""
        if person.hire_date > term.teaching_starts:
            return
        at = self.clock.at(rng, term.teaching_ends.toordinal())
        if at >= cutoff:
            return
        for group in classes:
            if group.post is not None:
                attributes = {"pre": group.pre, "excellent": excellent_share(group.post)}
                yield self.fact(
                    person, "class_test", at, group.post, self.serial("class_test"),
                    attributes=attributes,
                )  # fmt: skip

    def _parent_contacts(
        self,
        person: Person,
        rng: random.Random,
        span: tuple[int, int],
        classes: list[SchoolClass],
        cutoff: datetime,
    ) -> Iterator[FactRow]:
        """One record a month: of the teacher's students, those whose families were
        contacted, dated the month's last teaching day."""
        students = sum(group.size for group in classes)
        workdays = self.clock.workdays
        month_ends: dict[tuple[int, int], int] = {}
        for day in workdays[span[0] : span[1]]:
            moment = date.fromordinal(day)
            month_ends[(moment.year, moment.month)] = day
        usual = _clamp(0.9 + 0.05 * person.talent, 0.6, 1.0)
        for day in month_ends.values():
            share = _clamp(usual + rng.gauss(0, 0.05), 0.4, 1.0)
            at = self.clock.at(rng, day)
            if at < cutoff:
                yield self.fact(
                    person, "parent_contact", at, float(round(students * share)),
                    self.serial("parent_contact"), float(students),
                )  # fmt: skip

    def _growth(
        self, person: Person, rng: random.Random, term: SchoolTerm, first: date, cutoff: datetime
    ) -> Iterator[FactRow]:
        """Growth percentiles of the year's tested students, out at the end of the year."""
        day = term.teaching_ends - timedelta(days=rng.randint(0, 9))
        if day < first:
            return
        # Growth percentiles are 50 on average over all teachers; good and interactive
        # teachers' students grow more.
        effect = 6 * person.talent + 6 * (float(person.interactive) - 0.35)
        for _ in range(rng.randint(*self.GROWTH_STUDENTS)):
            at = self.clock.at(rng, day.toordinal())
            if at >= cutoff:
                return
            percentile = float(round(_clamp(rng.gauss(50 + effect, 24), 1, 99)))
            yield self.fact(person, "student_growth", at, percentile, self.serial("growth"))


def excellent_share(post: float) -> float:
    """The share of a class's students at or above the excellence line, for a class whose
    scores spread normally around its post-test mean: a formula, not a draw, so no other
    figure of the demo moves."""
    return round(1 - _CLASS_SCORES.cdf((EXCELLENCE_LINE - post) / CLASS_SPREAD), 2)


def _engagement_classes(generator: Generator) -> dict[tuple[UUID, date], list[SchoolClass]]:
    """The classes the builder recorded (class engagements), by teacher and first day of
    term: their class tests carry the same pre- and post-test means."""
    column = {name: index for index, name in enumerate(ENGAGEMENTS.columns)}
    found: dict[tuple[UUID, date], list[SchoolClass]] = {}
    for row in generator.rows[ENGAGEMENTS.name]:
        if row[column["kind"]] != "class":
            continue
        outcomes = orjson.loads(row[column["outcomes"]])
        key = (row[column["employee_id"]], row[column["started_on"]])
        found.setdefault(key, []).append(
            SchoolClass(
                size=int(outcomes["class_size"]),
                pre=float(outcomes["pre_test_mean"]),
                post=outcomes.get("post_test_mean"),
            )
        )
    return found


FACT_PLANS: dict[str, type[FactPlan[Any]]] = {
    "enterprise_rd": EnterpriseFacts,
    "school_teaching": SchoolFacts,
}


def demo_facts(
    generator: Generator, *, source: str = DEMO_SOURCE, work: DemoWork | None = None
) -> Iterator[FactRow]:
    """The facts of a planned demo (after ``record_history``), yielded person by person;
    with ``work`` (``domain.demo.work.demo_work``), the work items they tell of are recorded
    there as they go.

    Draws its seed from the generator when called, not when first iterated.
    """
    plan = FACT_PLANS[generator.profile.template](generator, source=source, work=work)
    return plan.rows()


def demo_periods(generator: Generator) -> list[PeriodSpec]:
    """The periods the demo is scored in (see ``scoring_periods``)."""
    return scoring_periods(
        generator.pack.scorecard.period_kind, generator.history_start, generator.as_of
    )

"""Building demo tenants: an R&D company (``enterprise_rd``) or a middle school
(``school_teaching``) with realistic, reproducible records.

``build_demo`` draws everything from ``random.Random(seed)``: the same seed, size and
``as_of`` date give the same people, numbers, skills, history and feedback, whatever the slug
(row ids are random, so two builds can live side by side). What is drawn follows the
definitions in INDICATORS.md so that baselines and dashboards have something to show: seniors
deliver faster with fewer escaped defects, interactive teachers reach higher normalised gains.

The whole tenant is written in one tenant transaction, so a failed build leaves nothing
behind and "the slug exists" always means "the demo is complete". Rows go in through
PostgreSQL COPY into a temporary staging table followed by ``INSERT ... SELECT`` (COPY straight
into a table with row-level security is refused; the policy still checks every row on the
way in). Users are created through ``user_service`` like any other.

After the records come the facts the indicator engine scores (``domain.demo.facts``) with
the work items they tell of (``domain.demo.work``), then the scoring periods over the history
(quarters or school terms): every period over before ``as_of`` is closed (computed and
frozen, oldest first, as they would have been closed in turn), and the current one is
computed and left open.
"""

from __future__ import annotations

import abc
import asyncio
import functools
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID, uuid4

import orjson

from domain.demo import catalogue as cat
from domain.demo.catalogue import DEMO_PASSWORD, MIN_EMPLOYEES, SkillSpec, TemplateProfile
from domain.indicators.repository import FactRow, copy_facts
from domain.indicators.scoring import scoring_service
from domain.indicators.service import period_service
from domain.org.repository import label
from domain.skills.service import name_key
from domain.templates.onboarding import provision_pack
from domain.templates.registry import PackFile, pack_codes, pack_for
from tenants import repository as tenant_repo
from tenants.models import User
from tenants.scope import TenantID, TenantTransaction, tenant_transaction
from tenants.service import tenant_service, user_service

if TYPE_CHECKING:
    from domain.demo.work import DemoWork

HISTORY_DAYS = 730
# One build writes a few hundred thousand rows in one transaction; the request default
# (5 s per statement) is for interactive work.
BUILD_STATEMENT_TIMEOUT_MS = 600_000
COPY_BATCH = 20_000
# Facts and work items are drawn in batches of about this many rows, each while the one before
# is written: small enough for the two to overlap most of the time.
DRAW_BATCH = 5_000
ENGAGEMENTS_PER_PERSON = 10  # over the two years of history, for a person there all along


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: str
    password: str


@dataclass(frozen=True)
class DemoSummary:
    tenant_id: TenantID
    slug: str
    template: str
    counts: dict[str, int]
    logins: list[DemoLogin]


def profile_for(template: str) -> TemplateProfile:
    try:
        return cat.PROFILES[template]
    except KeyError:
        known = ", ".join(sorted(cat.PROFILES))
        raise ValueError(f"no demo for template {template!r} (demos: {known})") from None


def demo_logins(template: str) -> list[DemoLogin]:
    """The logins a demo of ``template`` is built with."""
    profile = profile_for(template)
    return [
        DemoLogin(f"{spec.local_part}@{profile.email_domain}", spec.role.value, DEMO_PASSWORD)
        for spec in profile.logins
    ]


async def existing_demo_logins(tenant: TenantID, template: str) -> list[DemoLogin]:
    """The demo logins that exist in ``tenant`` (one built earlier, or a namesake)."""
    found = []
    async with tenant_transaction(tenant):
        for login in demo_logins(template):
            if await tenant_repo.get_user_by_email(tenant, login.email) is not None:
                found.append(login)
    return found


async def build_demo(
    *,
    slug: str,
    template: str,
    employees: int,
    seed: int,
    name: str | None = None,
    as_of: date | None = None,
    periods: bool = True,
    facts: bool = True,
) -> DemoSummary:
    """Create tenant ``slug`` with ``employees`` people and their history up to ``as_of``
    (today by default). Raises ``ServiceError`` (DUPLICATE) when the slug is taken.

    ``periods=False`` writes the facts but no periods: for a benchmark that times the
    computation of a period itself; ``facts=False`` writes records only (neither facts nor
    periods)."""
    profile = profile_for(template)
    if employees < MIN_EMPLOYEES:
        raise ValueError(f"a demo needs at least {MIN_EMPLOYEES} employees")
    tenant = TenantID(uuid4())
    generator = GENERATORS[template](
        tenant=tenant,
        profile=profile,
        pack=pack_for(template),
        employees=employees,
        rng=random.Random(seed),  # noqa: S311 - reproducible demo data, not secrets
        as_of=as_of or datetime.now(UTC).date(),
        root_name=name or profile.name,
    )
    generator.organise()
    async with tenant_transaction(tenant, statement_timeout_ms=BUILD_STATEMENT_TIMEOUT_MS) as tx:
        await tenant_service.create_tenant(
            tenant,
            slug=slug,
            name=name or profile.name,
            template_code=template,
            known_templates=pack_codes(),
            settings={
                "demo": {"seed": seed, "employees": employees, "as_of": str(generator.as_of)}
            },
        )
        await provision_pack(tenant)
        users = await _create_users(tenant, generator)
        generator.record_history()
        counts = await _write(tx, generator)
        if facts:
            counts.update(await _write_facts(tx, generator))
            if periods:
                counts.update(await _score_periods(tx, generator))
    counts["users"] = len(users)
    return DemoSummary(
        tenant_id=tenant, slug=slug, template=template, counts=counts, logins=demo_logins(template)
    )


async def _score_periods(tx: TenantTransaction, generator: Generator) -> dict[str, int]:
    """The demo's periods: those over by ``as_of`` closed, oldest first, the current one
    computed and left open."""
    from domain.demo.facts import demo_periods

    tenant, as_of = generator.tenant, generator.as_of
    specs = demo_periods(generator)
    for spec in specs:
        period = await period_service.create(
            tenant, code=spec.code, kind=spec.kind, starts_on=spec.starts_on, ends_on=spec.ends_on
        )
        if spec.ends_on < as_of:
            await period_service.close(tenant, period.id)
        else:
            await scoring_service.recompute(tenant, period.id)
    scorecards = await tx.fetchval("SELECT count(*) FROM scorecards WHERE tenant_id = $1", tenant)
    return {"periods": len(specs), "scorecards": scorecards}


async def _create_users(tenant: TenantID, generator: Generator) -> list[User]:
    created = []
    for spec in generator.profile.logins:
        person = generator.linked.get(spec.link) if spec.link else None
        user = await user_service.create(
            tenant,
            email=f"{spec.local_part}@{generator.profile.email_domain}",
            display_name=person.name if person is not None else spec.display_name,
            roles=[spec.role.value],
            password=DEMO_PASSWORD,
        )
        if person is not None:
            person.user_id = user.id
        generator.user_ids[spec.role.value] = user.id
        created.append(user)
    return created


# --- the plan -------------------------------------------------------------------------------


@dataclass(eq=False, slots=True)
class Unit:
    id: UUID
    name: str
    kind: str
    parent: Unit | None
    path: str
    external_key: str
    members: list[Person] = field(default_factory=list)
    managers: list[Person] = field(default_factory=list)


@dataclass(eq=False, slots=True)
class Person:
    id: UUID
    name: str
    email: str
    unit: Unit
    level: str
    rank: int
    title: str
    hire_date: date
    talent: float  # how well this person does, in standard deviations from the level's mean
    number: str = ""
    phone: str = ""
    status: str = "active"
    left_on: date | None = None
    reviewer: Person | None = None
    manages: list[Unit] = field(default_factory=list)
    user_id: UUID | None = None
    # The work this person does: project names (R&D) or subject taught (schools).
    projects: tuple[str, ...] = ()
    subject: str = ""
    interactive: bool = False
    # A teacher's teaching_style custom field: interactive, mixed or lecture.
    teaching_style: str = ""
    core_skills: tuple[str, ...] = ()
    core_ids: frozenset[UUID] = frozenset()
    skills: list[tuple[UUID, int]] = field(default_factory=list)


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]


EMPLOYEES = Table(
    "employees",
    (
        "id", "tenant_id", "employee_number", "name", "email", "phone", "org_unit_id", "level",
        "title", "hire_date", "status", "user_id", "custom_fields", "national_id",
        "archived_at", "created_at", "updated_at",
    ),
)  # fmt: skip
MANAGERS = Table(
    "org_unit_managers", ("id", "tenant_id", "org_unit_id", "employee_id", "created_at")
)
SKILLS = Table(
    "skills",
    (
        "id", "tenant_id", "external_key", "name", "name_key", "name_zh", "name_en", "category",
        "aliases", "archived_at", "created_at", "updated_at",
    ),
)  # fmt: skip
EMPLOYEE_SKILLS = Table(
    "employee_skills",
    ("id", "tenant_id", "employee_id", "skill_id", "level", "source", "evaluated_on", "updated_at"),
)
SKILL_EVENTS = Table(
    "employee_skill_events",
    (
        "id", "tenant_id", "employee_id", "skill_id", "level", "source", "evaluated_on",
        "recorded_at", "recorded_by",
    ),
)  # fmt: skip
ENGAGEMENTS = Table(
    "engagements",
    (
        "id", "tenant_id", "employee_id", "external_key", "kind", "name", "role", "started_on",
        "ended_on", "outcomes", "archived_at", "created_at", "updated_at",
    ),
)  # fmt: skip
ENGAGEMENT_SKILLS = Table("engagement_skills", ("id", "tenant_id", "engagement_id", "skill_id"))
APPRAISALS = Table(
    "appraisals",
    (
        "id", "tenant_id", "employee_id", "external_key", "period", "period_start", "period_end",
        "score", "grade", "reviewer", "comments", "source", "archived_at", "created_at",
        "updated_at",
    ),
)  # fmt: skip
FEEDBACK = Table(
    "feedback",
    (
        "id", "tenant_id", "subject_id", "source", "anonymous", "author_user_id", "author_label",
        "ratings", "comment", "given_at", "archived_at", "created_at",
    ),
)  # fmt: skip
# In writing order: every table after those it refers to.
TABLES = (
    SKILLS, EMPLOYEES, MANAGERS, EMPLOYEE_SKILLS, SKILL_EVENTS, ENGAGEMENTS, ENGAGEMENT_SKILLS,
    APPRAISALS, FEEDBACK,
)  # fmt: skip
# Every table a demo fills in bulk: the owner analyzes them after a build.
LOADED_TABLES = (
    "tenants", "users", "org_units", *(table.name for table in TABLES), "facts", "work_items",
    "work_item_assignees", "periods", "level_baselines", "target_adjustments", "scorecards",
)  # fmt: skip

Row = tuple[Any, ...]


def _json(value: dict[str, Any]) -> str:
    return orjson.dumps(value).decode()


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _allocate(total: int, weights: Sequence[float], minimum: int) -> list[int]:
    """``total`` split in proportion to ``weights``, each share at least ``minimum``
    (largest remainders get the leftovers, so the shares always add up)."""
    spare = total - minimum * len(weights)
    exact = [spare * w / sum(weights) for w in weights]
    shares = [math.floor(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (shares[i] - exact[i], i))
    for i in by_remainder[: spare - sum(shares)]:
        shares[i] += 1
    return [minimum + share for share in shares]


class Generator(abc.ABC):
    """What both demos share: units, names, contact details, skills, appraisals, feedback.

    Each industry's subclass provides the steps marked abstract below.
    """

    # level code -> rank, and the weights levels are drawn with
    LEVELS: ClassVar[tuple[tuple[str, int], ...]]
    LEVEL_WEIGHTS: ClassVar[tuple[int, ...]]
    UNIT_KINDS: ClassVar[tuple[str, ...]]
    ENGAGEMENT_KINDS: ClassVar[tuple[str, ...]]
    SKILLS: ClassVar[tuple[SkillSpec, ...]]
    EXTRA_SKILLS: ClassVar[tuple[SkillSpec, ...]]
    COMMENTS: ClassVar[dict[str, tuple[str, ...]]]
    # feedback source -> the criteria people of that source rate
    CRITERIA: ClassVar[dict[str, tuple[str, ...]]]
    # years since hiring, per rank: (at least, at most)
    TENURE: ClassVar[dict[int, tuple[float, float]]]

    def __init__(
        self,
        *,
        tenant: TenantID,
        profile: TemplateProfile,
        pack: PackFile,
        employees: int,
        rng: random.Random,
        as_of: date,
        root_name: str,
    ) -> None:
        self.tenant = tenant
        self.profile = profile
        self.pack = pack
        self.size = employees
        self.rng = rng
        self.as_of = as_of
        self.history_start = as_of - timedelta(days=HISTORY_DAYS)
        self.now = datetime.now(UTC)
        self.root_name = root_name
        self.units: list[Unit] = []
        self.people: list[Person] = []
        self.linked: dict[str, Person] = {}
        self.user_ids: dict[str, UUID] = {}
        self.rows: dict[str, list[Row]] = {table.name: [] for table in TABLES}
        self.skill_ids: dict[str, UUID] = {}
        self._emails: dict[str, int] = {}
        self._check_pack()

    def _check_pack(self) -> None:
        """The catalogue's codes must be the pack's: a renamed level fails here, loudly."""
        pack = self.pack
        criteria = {criterion.code for criterion in pack.feedback_criteria}
        missing = [code for code, _ in self.LEVELS if pack.level(code) is None]
        missing += [kind for kind in self.UNIT_KINDS if pack.org_unit_kind(kind) is None]
        missing += [kind for kind in self.ENGAGEMENT_KINDS if pack.engagement_kind(kind) is None]
        missing += [source for source in self.CRITERIA if source not in pack.feedback_sources]
        missing += sorted({c for codes in self.CRITERIA.values() for c in codes} - criteria)
        if missing:
            raise ValueError(f"the {pack.pack.code} pack lacks {missing}")

    # --- to be provided per industry -------------------------------------------------------

    @abc.abstractmethod
    def organise(self) -> None:
        """Units and people, managers and who reviews whom, the linked demo people."""

    @abc.abstractmethod
    def record_engagements(self, person: Person) -> None:
        """The person's projects or classes over the history, with their outcome figures."""

    @abc.abstractmethod
    def appraisal_periods(self) -> list[tuple[str, date, date]]:
        """The industry's appraisal periods over the history: (name, first day, last day)."""

    @abc.abstractmethod
    def record_feedback(self, person: Person) -> None:
        """Feedback on the person from the sources the industry has."""

    @abc.abstractmethod
    def pick_skills(self, person: Person) -> list[str]:
        """Names of the catalogue skills the person holds."""

    def custom_fields(self, person: Person) -> dict[str, Any]:
        """The person's values of the pack's custom fields (none unless an industry says)."""
        return {}

    # --- shared steps ------------------------------------------------------------------------

    def record_history(self) -> None:
        """Everything after the organisation: skills, engagements, appraisals, feedback."""
        self._record_people()
        self._record_catalogue()
        for person in self.people:
            self._record_skills(person)
        for person in self.people:
            self.record_engagements(person)
        periods = self.appraisal_periods()
        for person in self.people:
            self._record_appraisals(person, periods)
        for person in self.people:
            self.record_feedback(person)

    def unit(self, name: str, kind: str, parent: Unit | None) -> Unit:
        unit_id = uuid4()
        path = f"{parent.path}.{label(unit_id)}" if parent is not None else label(unit_id)
        key = f"{self.profile.number_prefix}-U{len(self.units) + 1:03d}"
        unit = Unit(id=unit_id, name=name, kind=kind, parent=parent, path=path, external_key=key)
        self.units.append(unit)
        return unit

    def level(self, rank: int) -> str:
        return self.LEVELS[rank - 1][0]

    def draw_rank(self) -> int:
        return self.rng.choices(range(1, len(self.LEVELS) + 1), weights=self.LEVEL_WEIGHTS)[0]

    def hire_date(self, rank: int) -> date:
        low, high = self.TENURE[rank]
        hired = self.as_of - timedelta(days=int(self.rng.uniform(low, high) * 365.25))
        return hired - timedelta(days=hired.weekday())  # people start on Mondays

    def talent(self) -> float:
        return _clamp(self.rng.gauss(0, 1), -2.5, 2.5)

    def chinese_name(self) -> tuple[str, str, str]:
        """(name, surname pinyin, given name pinyin), never a well-known person's name."""
        while True:
            surname, surname_py, _ = self.rng.choices(
                cat.CHINESE_SURNAMES, weights=[s[2] for s in cat.CHINESE_SURNAMES]
            )[0]
            given, given_py = self.rng.choice(cat.CHINESE_GIVEN_NAMES)
            if surname + given not in cat.WELL_KNOWN_NAMES:
                return surname + given, surname_py, given_py

    def email(self, local: str) -> str:
        seen = self._emails.get(local, 0) + 1
        self._emails[local] = seen
        suffix = str(seen) if seen > 1 else ""
        return f"{local}{suffix}@{self.profile.email_domain}"

    def phone(self) -> str:
        return f"+86{self.rng.choice(cat.MOBILE_PREFIXES)}{self.rng.randrange(10**8):08d}"

    def finish_people(self) -> None:
        """Numbers in order of hiring (as an HR system hands them out), phones, statuses."""
        order = sorted(range(len(self.people)), key=lambda i: (self.people[i].hire_date, i))
        width = max(self.profile.number_width, len(str(len(self.people))))
        for number, index in enumerate(order, start=1):
            self.people[index].number = f"{self.profile.number_prefix}-{number:0{width}d}"
        for person in self.people:
            person.phone = self.phone()
            if person.manages or person in self.linked.values():
                continue  # managers and the demo logins' people are at work
            draw = self.rng.random()
            if draw < 0.03:
                person.status = "on_leave"
            elif draw < 0.07:
                earliest = max(person.hire_date + timedelta(days=120), self.history_start)
                latest = self.as_of - timedelta(days=14)
                if earliest < latest:
                    person.status = "left"
                    person.left_on = self.date_between(earliest, latest)

    def manage(self, person: Person, unit: Unit) -> None:
        unit.managers.append(person)
        person.manages.append(unit)

    def date_between(self, first: date, last: date) -> date:
        return first + timedelta(days=self.rng.randint(0, max(0, (last - first).days)))

    def window(self, person: Person) -> tuple[date, date]:
        """The part of the history this person was there for."""
        return max(person.hire_date, self.history_start), person.left_on or self.as_of

    def moment(self, day: date) -> datetime:
        """A time during the working day (Beijing time) on ``day``, in UTC; never ahead."""
        minutes = self.rng.randint(60, 11 * 60)  # 09:00-20:00 UTC+8
        at = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(minutes=minutes)
        return min(at, self.now)

    def poisson(self, mean: float) -> int:
        limit, count, product = math.exp(-mean), 0, self.rng.random()
        while product > limit:
            count += 1
            product *= self.rng.random()
        return count

    # --- rows --------------------------------------------------------------------------------

    def _record_people(self) -> None:
        now, rows = self.now, self.rows[EMPLOYEES.name]
        for p in self.people:
            rows.append(
                (
                    p.id, self.tenant, p.number, p.name, p.email, p.phone, p.unit.id, p.level,
                    p.title, p.hire_date, p.status, p.user_id, _json(self.custom_fields(p)),
                    None, None, now, now,
                )
            )  # fmt: skip
        for unit in self.units:
            for manager in unit.managers:
                self.rows[MANAGERS.name].append((uuid4(), self.tenant, unit.id, manager.id, now))

    def _record_catalogue(self) -> None:
        grown = _clamp(round(3 * math.log2(self.size / self.profile.employees)), 0, 99)
        specs = self.SKILLS + self.EXTRA_SKILLS[: int(grown)]
        for spec in specs:
            skill_id = uuid4()
            self.skill_ids[spec.code] = skill_id
            key = name_key(spec.name)
            aliases = sorted({name_key(alias) for alias in spec.aliases} - {key})
            self.rows[SKILLS.name].append(
                (
                    skill_id, self.tenant, None, spec.name, key, spec.name_zh, spec.name_en,
                    spec.category, aliases, None, self.now, self.now,
                )
            )  # fmt: skip

    def _record_skills(self, person: Person) -> None:
        """Current levels with seniority, and for some an earlier, lower level."""
        base = {1: 2.0, 2: 2.9, 3: 3.7, 4: 4.3}[person.rank]
        first_day = max(person.hire_date, self.as_of - timedelta(days=365))
        person.core_ids = frozenset(
            self.skill_ids[code] for code in person.core_skills if code in self.skill_ids
        )
        for position, code in enumerate(self.pick_skills(person)):
            skill_id = self.skill_ids[code]
            primary = 0.4 if position == 0 else 0.0
            level = round(
                _clamp(base + primary + 0.35 * person.talent + self.rng.gauss(0, 0.6), 1, 5)
            )
            evaluated = self.date_between(first_day, person.left_on or self.as_of)
            source = self.rng.choices(("manager", "self", "verified"), weights=(5, 3, 2))[0]
            earlier = evaluated - timedelta(days=self.rng.randint(150, 540))
            if level >= 2 and earlier >= person.hire_date and self.rng.random() < 0.35:
                drop = 2 if level >= 4 and self.rng.random() < 0.2 else 1
                self._skill_event(person, skill_id, level - drop, "self", earlier)
            self._skill_event(person, skill_id, level, source, evaluated)
            person.skills.append((skill_id, level))
            self.rows[EMPLOYEE_SKILLS.name].append(
                (uuid4(), self.tenant, person.id, skill_id, level, source, evaluated, self.now)
            )

    def _skill_event(
        self, person: Person, skill_id: UUID, level: int, source: str, day: date
    ) -> None:
        self.rows[SKILL_EVENTS.name].append(
            (uuid4(), self.tenant, person.id, skill_id, level, source, day, self.moment(day), None)
        )

    def engagement(
        self,
        person: Person,
        *,
        kind: str,
        name: str,
        role: str,
        started: date,
        ended: date | None,
        outcomes: dict[str, Any],
    ) -> None:
        engagement_id = uuid4()
        self.rows[ENGAGEMENTS.name].append(
            (
                engagement_id, self.tenant, person.id, None, kind, name, role, started, ended,
                _json(outcomes), None, self.now, self.now,
            )
        )  # fmt: skip
        # Mostly the skills of the person's line of work, now and then something else they know.
        pool = [s for s in person.skills if s[0] in person.core_ids] or person.skills
        if self.rng.random() < 0.15:
            pool = person.skills
        if pool:
            used = self.rng.sample(pool, min(len(pool), self.rng.randint(1, 3)))
            for skill_id, _ in used:
                self.rows[ENGAGEMENT_SKILLS.name].append(
                    (uuid4(), self.tenant, engagement_id, skill_id)
                )

    def _share(self, person: Person) -> float:
        """The part of the two years of history this person was there for."""
        first, last = self.window(person)
        return max(0, (last - first).days) / HISTORY_DAYS

    @functools.cached_property
    def per_full_history(self) -> float:
        """Engagements per person there for the whole history, so that the tenant as a whole
        gets ``ENGAGEMENTS_PER_PERSON`` per person although some joined or left midway."""
        shares = sum(self._share(person) for person in self.people)
        return ENGAGEMENTS_PER_PERSON * len(self.people) / max(1.0, shares)

    def engagement_count(self, person: Person) -> int:
        share = self._share(person)
        if share * HISTORY_DAYS < 28:
            return 0
        return max(1, round(self.rng.gauss(self.per_full_history * share, 1.2)))

    def _record_appraisals(self, person: Person, periods: list[tuple[str, date, date]]) -> None:
        for period, start, end in periods:
            if person.hire_date > start + timedelta(days=60):
                continue  # not there for most of the period
            if person.left_on is not None and person.left_on < end:
                continue
            raw = 74 + 2.5 * (person.rank - 1) + 7 * person.talent + self.rng.gauss(0, 3.5)
            score = round(_clamp(raw, 55, 98), 1)
            grade = "A" if score >= 88 else "B" if score >= 78 else "C" if score >= 65 else "D"
            reviewer = person.reviewer.name if person.reviewer is not None else None
            self.rows[APPRAISALS.name].append(
                (
                    uuid4(), self.tenant, person.id, None, period, start, end,
                    Decimal(f"{score:.1f}"), grade, reviewer,
                    self.rng.choice(cat.APPRAISAL_COMMENTS[grade]), "imported", None, self.now,
                    self.now,
                )
            )  # fmt: skip

    def feedback(
        self,
        person: Person,
        *,
        source: str,
        criteria: Sequence[str],
        anonymous: bool,
        author_label: str | None = None,
        author_user_id: UUID | None = None,
        bias: float = 0.0,
        given: datetime | None = None,
    ) -> None:
        """One response about ``person``: on a random day of their time there, or at ``given``
        (a survey's moment)."""
        first, last = self.window(person)
        if given is None and (last - first).days < 14:
            return
        mean = 3.5 + 0.5 * person.talent + 0.15 * (person.rank - 2) + bias
        ratings = {code: round(_clamp(mean + self.rng.gauss(0, 0.7), 1, 5)) for code in criteria}
        comment = None
        if ratings and self.rng.random() < 0.75:
            average = sum(ratings.values()) / len(ratings)
            mood = "good" if average >= 4 else "poor" if average < 3 else "mixed"
            comment = self.rng.choice(self.COMMENTS[mood])
        if given is None:
            given = self.moment(self.date_between(first + timedelta(days=7), last))
        self.rows[FEEDBACK.name].append(
            (
                uuid4(), self.tenant, person.id, source, anonymous,
                None if anonymous else author_user_id, None if anonymous else author_label,
                _json(ratings), comment, given, None, self.now,
            )
        )  # fmt: skip


# --- enterprise R&D -------------------------------------------------------------------------


class EnterpriseGenerator(Generator):
    LEVELS = (("junior", 1), ("mid", 2), ("senior", 3), ("principal", 4))
    LEVEL_WEIGHTS = (30, 40, 22, 8)
    UNIT_KINDS = ("company", "department", "team")
    ENGAGEMENT_KINDS = ("project",)
    SKILLS = cat.ENTERPRISE_SKILLS
    EXTRA_SKILLS = cat.ENTERPRISE_EXTRA_SKILLS
    COMMENTS = cat.ENTERPRISE_COMMENTS
    TENURE: ClassVar[dict[int, tuple[float, float]]] = {
        1: (0.1, 3.0),
        2: (1.0, 6.0),
        3: (2.5, 8.0),
        4: (4.0, 8.0),
    }
    TITLE_PREFIX: ClassVar[dict[int, str]] = {1: "Junior ", 2: "", 3: "Senior ", 4: "Principal "}
    # Per rank: how much longer than a mid-level engineer a piece of work takes, defects
    # found per week of work, and the share of defects that escape to production.
    PACE: ClassVar[dict[int, float]] = {1: 1.25, 2: 1.0, 3: 0.85, 4: 0.8}
    DEFECTS_PER_WEEK: ClassVar[dict[int, float]] = {1: 1.2, 2: 0.9, 3: 0.65, 4: 0.55}
    ESCAPE_RATE: ClassVar[dict[int, float]] = {1: 0.22, 2: 0.15, 3: 0.09, 4: 0.07}
    ROLES: ClassVar[dict[int, tuple[str, ...]]] = {
        1: ("Developer",),
        2: ("Developer", "Developer", "Feature owner"),
        3: ("Tech lead", "Developer", "Reviewer"),
        4: ("Architect", "Tech lead"),
    }
    NAMED_SOURCES: ClassVar[dict[str, int]] = {
        "manager": 25,
        "peer": 30,
        "sales": 15,
        "customer": 10,
        "other_department": 8,
        "self": 8,
    }
    CRITERIA: ClassVar[dict[str, tuple[str, ...]]] = {
        "manager": ("delivery", "quality", "communication", "collaboration"),
        "self": ("delivery", "quality", "communication", "collaboration"),
        "peer": ("quality", "collaboration", "communication"),
        "subordinate": ("communication", "collaboration"),
        "sales": ("delivery", "communication"),
        "customer": ("delivery", "quality"),
        "other_department": ("communication", "collaboration"),
    }

    def organise(self) -> None:
        teams_wanted = max(3, round(10 * math.sqrt(self.size / self.profile.employees)))
        departments_wanted = 4 if teams_wanted >= 8 else 3
        company = self.unit(self.root_name, "company", None)
        specs = cat.DEPARTMENTS[:departments_wanted]
        departments = [self.unit(spec.name, "department", company) for spec in specs]
        teams: list[tuple[Unit, cat.TeamSpec]] = []
        for index in range(teams_wanted):
            spec = specs[index % departments_wanted]
            round_, position = divmod(index // departments_wanted, len(spec.teams))
            team = spec.teams[position]
            name = (
                team.name
                if round_ == 0
                else f"{team.name} · {cat.SITES[(round_ - 1) % len(cat.SITES)]}"
            )
            teams.append((self.unit(name, "team", departments[index % departments_wanted]), team))

        cto = self.person(company, 4, "Chief Technology Officer", core=("design", "cicd"))
        self.manage(cto, company)
        for unit, spec in zip(departments, specs, strict=True):
            head = self.person(
                unit,
                4,
                f"Head of {spec.name}",
                core=tuple(dict.fromkeys(s for t in spec.teams for s in t.skills[:2])),
                projects=tuple(p for t in spec.teams for p in t.projects[:1]),
            )
            head.reviewer = cto
            self.manage(head, unit)
        members = self.size - len(self.people)
        sizes = _allocate(members, [self.rng.uniform(0.7, 1.3) for _ in teams], 2)
        for (unit, team_spec), size in zip(teams, sizes, strict=True):
            self._staff_team(unit, team_spec, size)
        team_unit, _ = teams[0]
        self.linked["manager"] = team_unit.managers[0]
        self.linked["employee"] = next(p for p in team_unit.members if not p.manages)
        self.finish_people()

    def person(
        self,
        unit: Unit,
        rank: int,
        title: str,
        *,
        core: tuple[str, ...],
        projects: tuple[str, ...] = (),
    ) -> Person:
        style = self.rng.random()
        if style < 0.6:
            name, surname, given = self.chinese_name()
            local = f"{given}.{surname}"
        elif style < 0.85:
            _, surname, _ = self.chinese_name()
            first = self.rng.choice(cat.ENGLISH_GIVEN_NAMES)
            name, local = f"{first} {surname.capitalize()}", f"{first.lower()}.{surname}"
        else:
            first = self.rng.choice(cat.ENGLISH_GIVEN_NAMES)
            last = self.rng.choice(cat.ENGLISH_SURNAMES)
            name, local = f"{first} {last}", f"{first}.{last}".lower()
        person = Person(
            id=uuid4(),
            name=name,
            email=self.email(local),
            unit=unit,
            level=self.level(rank),
            rank=rank,
            title=title,
            hire_date=self.hire_date(rank),
            talent=self.talent(),
            core_skills=core,
            projects=projects,
        )
        unit.members.append(person)
        self.people.append(person)
        return person

    def _staff_team(self, unit: Unit, spec: cat.TeamSpec, size: int) -> None:
        head = unit.parent.managers[0] if unit.parent is not None else None
        staff = []
        for _ in range(size):
            rank = self.draw_rank()
            title = f"{self.TITLE_PREFIX[rank]}{spec.role_noun}"
            staff.append(self.person(unit, rank, title, core=spec.skills, projects=spec.projects))
        seniors = [p for p in staff if p.rank >= 3]
        if not seniors:  # every team is led by a senior or principal engineer
            promoted = self.rng.choice(staff)
            promoted.rank, promoted.level = 3, self.level(3)
            seniors = [promoted]
        manager = self.rng.choice(seniors)
        manager.title = "Engineering Manager"
        manager.reviewer = head
        self.manage(manager, unit)
        for person in staff:
            if person is not manager:
                person.reviewer = manager

    def pick_skills(self, person: Person) -> list[str]:
        count = self.rng.choices((3, 4, 5, 6), weights=(35, 35, 20, 10))[0]
        core = [code for code in person.core_skills if code in self.skill_ids]
        chosen = self.rng.sample(core, min(len(core), max(1, count - self.rng.randint(0, 2))))
        others = [code for code in self.skill_ids if code not in chosen]
        return chosen + self.rng.sample(others, count - len(chosen))

    def record_engagements(self, person: Person) -> None:
        if not person.projects:
            return
        first, last = self.window(person)
        pace = self.PACE[person.rank] * (1 - 0.06 * person.talent)
        for _ in range(self.engagement_count(person)):
            weeks = _clamp(self.rng.uniform(2.0, 8.0) * pace, 2.0, 10.0)
            cycle = round(weeks * 7)
            latest = last - timedelta(days=7 if person.left_on is None else cycle)
            if latest < first:
                continue
            started = self.date_between(first, latest)
            ended: date | None = started + timedelta(days=cycle)
            name = f"{self.rng.choice(person.projects)} · {self.rng.choice(cat.MILESTONES)}"
            roles = ("Tech lead",) if person.manages else self.ROLES[person.rank]
            outcomes: dict[str, Any] = {}
            if ended is not None and ended <= self.as_of:
                outcomes = self._project_outcomes(person, weeks, cycle)
            else:
                ended = None  # still running
            self.engagement(
                person,
                kind="project",
                name=name,
                role=self.rng.choice(roles),
                started=started,
                ended=ended,
                outcomes=outcomes,
            )

    def _project_outcomes(self, person: Person, weeks: float, cycle: int) -> dict[str, Any]:
        care = 1 - 0.1 * person.talent
        defects = self.poisson(weeks * self.DEFECTS_PER_WEEK[person.rank] * care)
        escape = _clamp(self.ESCAPE_RATE[person.rank] * (1 - 0.15 * person.talent), 0.02, 0.4)
        production = sum(1 for _ in range(defects) if self.rng.random() < escape)
        rating = 3.7 + 0.2 * (person.rank - 1) + 0.3 * person.talent - 0.3 * production
        return {
            "cycle_days": cycle,
            "defects_test": defects - production,
            "defects_production": production,
            "customer_rating": round(_clamp(rating + self.rng.gauss(0, 0.4), 1, 5), 1),
        }

    def appraisal_periods(self) -> list[tuple[str, date, date]]:
        """The last four complete half-years."""
        year, half = (self.as_of.year, 1) if self.as_of.month >= 7 else (self.as_of.year - 1, 2)
        periods = []
        for _ in range(4):
            start = date(year, 1 if half == 1 else 7, 1)
            end = date(year, 6, 30) if half == 1 else date(year, 12, 31)
            periods.append((f"{year}-H{half}", start, end))
            year, half = (year, 1) if half == 2 else (year - 1, 2)
        return periods[::-1]

    def record_feedback(self, person: Person) -> None:
        rng = self.rng
        sources = dict(self.NAMED_SOURCES)
        if person.manages:
            sources["subordinate"] = 10
        team = [p for p in person.unit.members if p is not person]
        for _ in range(rng.choices((1, 2, 3, 4, 5), weights=(15, 30, 30, 15, 10))[0]):
            source = rng.choices(list(sources), weights=list(sources.values()))[0]
            label_, user_id = self._author(person, source, team)
            self.feedback(
                person,
                source=source,
                criteria=self.CRITERIA[source],
                anonymous=False,
                author_label=label_,
                author_user_id=user_id,
                bias=0.3 if source == "self" else 0.0,
            )
        if rng.random() < 0.22:  # enough anonymous responses from one source to be shown
            source = rng.choice(("peer", "sales", "customer"))
            for _ in range(rng.randint(3, 5)):
                self.feedback(person, source=source, criteria=self.CRITERIA[source], anonymous=True)
        elif rng.random() < 0.3:  # a lone anonymous response: withheld from summaries
            source = rng.choice(("peer", "customer"))
            self.feedback(person, source=source, criteria=self.CRITERIA[source], anonymous=True)

    def _author(self, person: Person, source: str, team: list[Person]) -> tuple[str, UUID | None]:
        rng = self.rng
        if source == "manager":
            reviewer = person.reviewer
            if reviewer is None:
                return "Board of directors", None
            return reviewer.name, reviewer.user_id
        if source == "self":
            return person.name, person.user_id
        if source in ("peer", "subordinate") and team:
            return rng.choice(team).name, None
        if source == "sales":
            if rng.random() < 0.3 and "sales" in self.user_ids:
                return "Acme Sales", self.user_ids["sales"]
            return f"{self.chinese_name()[0]} (Sales)", None
        if source == "customer":
            return rng.choice(cat.CUSTOMERS), None
        return f"{self.chinese_name()[0]} ({rng.choice(cat.OTHER_DEPARTMENTS)})", None


# --- school teaching ------------------------------------------------------------------------


class SchoolGenerator(Generator):
    LEVELS = (("junior", 1), ("intermediate", 2), ("senior", 3), ("full_senior", 4))
    LEVEL_WEIGHTS = (25, 40, 30, 5)
    UNIT_KINDS = ("school", "grade", "subject_group")
    ENGAGEMENT_KINDS = ("class", "course")
    SKILLS = cat.SCHOOL_SKILLS
    EXTRA_SKILLS = cat.SCHOOL_EXTRA_SKILLS
    COMMENTS = cat.SCHOOL_COMMENTS
    TENURE: ClassVar[dict[int, tuple[float, float]]] = {
        1: (0.1, 4.0),
        2: (2.0, 12.0),
        3: (6.0, 20.0),
        4: (12.0, 25.0),
    }
    GENERAL_SKILLS = ("classroom", "homework", "lesson", "family", "homeroom", "courseware")
    # Of the teachers who do not teach interactively, the share who mix in some of it.
    MIXED_SHARE = 0.4
    # Mean normalised gain by teaching style (Hake 1998: interactive courses averaged 0.48,
    # traditional ones 0.23; a mixed style in between).
    STYLE_GAINS: ClassVar[dict[str, float]] = {"interactive": 0.45, "mixed": 0.32, "lecture": 0.23}
    # Parents answer a survey about each teacher in the last weeks of every term: enough
    # responses (20, INDICATORS.md) for most teachers in a term, for nearly all in a year.
    SURVEY_RESPONSES = (12, 35)
    SURVEY_WEEKS = 4
    SURVEY_RAPPORT = 0.6  # spread of a teacher's standing with parents, in rating points
    CRITERIA: ClassVar[dict[str, tuple[str, ...]]] = {
        "student": ("teaching_quality", "care"),
        "parent": ("communication", "care", "teaching_quality"),
        "manager": ("teaching_quality", "care", "communication", "collaboration"),
        "self": ("teaching_quality", "care", "communication", "collaboration"),
        "peer": ("collaboration", "teaching_quality"),
    }

    def organise(self) -> None:
        school = self.unit(self.root_name, "school", None)
        grades = [self.unit(f"{grade}年级组", "grade", school) for grade in cat.GRADES]
        principal = self.teacher(school, 4, "语文", "校长")
        self.manage(principal, school)
        sizes = _allocate(self.size - 1, [spec.weight for spec in cat.SUBJECTS], 1)
        leaders: dict[str, Person] = {}
        for spec, size in zip(cat.SUBJECTS, sizes, strict=True):
            leaders[spec.group] = self._staff_group(school, spec, size, principal)
        self.linked["manager"] = leaders["数学组"]
        teachers = [p for p in self.people if not p.manages]
        self.linked["employee"] = next((p for p in teachers if p.subject == "数学"), teachers[0])
        for index, grade in enumerate(grades):
            # The grade's head: an experienced teacher of a subject taught in that grade.
            candidates = [
                p
                for p in self.people
                if not p.manages
                and p is not self.linked["employee"]
                and index in _subject(p.subject).grades
                and p.subject not in ("体育", "音乐", "美术")
            ]
            # A tiny school may have no such teacher left: then any teacher, or a group leader.
            candidates = candidates or [
                p for p in self.people if not p.manages and p is not self.linked["employee"]
            ]
            candidates = candidates or list(leaders.values())
            leader = max(candidates, key=lambda p: (p.rank, p.talent))
            self.manage(leader, grade)
            leader.title += "、年级组长"
        self.finish_people()

    def teacher(self, unit: Unit, rank: int, subject: str, title: str) -> Person:
        name, surname, given = self.chinese_name()
        person = Person(
            id=uuid4(),
            name=name,
            email=self.email(f"{surname}{given}"),
            unit=unit,
            level=self.level(rank),
            rank=rank,
            title=title,
            hire_date=self.hire_date(rank),
            talent=self.talent(),
            subject=subject,
        )
        # Teachers who teach interactively (observation ratings, project-based lessons). The
        # same draw sorts the others: those it missed interactive by least mix in some
        # interactive work, the rest lecture (no second draw, so nothing drawn later moves).
        draw = self.rng.random()
        share = _clamp(0.3 + 0.1 * person.talent, 0.05, 0.8)
        person.interactive = draw < share
        if person.interactive:
            person.teaching_style = "interactive"
        elif draw < share + self.MIXED_SHARE * (1 - share):
            person.teaching_style = "mixed"
        else:
            person.teaching_style = "lecture"
        unit.members.append(person)
        self.people.append(person)
        return person

    def _staff_group(
        self, school: Unit, spec: cat.SubjectSpec, size: int, principal: Person
    ) -> Person:
        group = self.unit(spec.group, "subject_group", school)
        staff = []
        for _ in range(size):
            subject = self.rng.choice(spec.subjects)
            staff.append(self.teacher(group, self.draw_rank(), subject, f"{subject}教师"))
        seniors = [p for p in staff if p.rank >= 3] or [self.rng.choice(staff)]
        leader = max(seniors, key=lambda p: (p.rank, p.talent))
        leader.rank, leader.level = max(leader.rank, 3), self.level(max(leader.rank, 3))
        leader.title += "、教研组长"
        leader.reviewer = principal
        self.manage(leader, group)
        for person in staff:
            person.core_skills = spec.skills
            if person is not leader:
                person.reviewer = leader
        if self.size >= cat.SPLIT_SUBJECT_GROUPS_FROM and spec.group in cat.SPLIT_SUBJECTS:
            self._split_group(group, spec, [p for p in staff if p is not leader])
        return leader

    def _split_group(self, group: Unit, spec: cat.SubjectSpec, staff: list[Person]) -> None:
        """One lesson-preparation group per grade, each led by its most senior teacher."""
        subject = spec.group.removesuffix("组")
        for index, grade in enumerate(cat.GRADES):
            prep = self.unit(f"{grade}{subject}备课组", "subject_group", group)
            members = staff[index :: len(cat.GRADES)]
            for person in members:
                group.members.remove(person)
                person.unit = prep
                prep.members.append(person)
            if members:
                lead = max(members, key=lambda p: (p.rank, p.talent))
                lead.title += "、备课组长"
                self.manage(lead, prep)

    def pick_skills(self, person: Person) -> list[str]:
        count = self.rng.choices((3, 4, 5, 6), weights=(35, 35, 20, 10))[0]
        wanted = [c for c in person.core_skills if c in self.skill_ids]
        if person.interactive:
            wanted = ["pbl", "ict", *wanted]
        chosen = list(dict.fromkeys(self.rng.sample(wanted, min(len(wanted), count - 1))))
        general = [c for c in self.GENERAL_SKILLS if c not in chosen]
        chosen += self.rng.sample(general, min(len(general), count - len(chosen)))
        return chosen

    @functools.cached_property
    def terms(self) -> list[tuple[int, int, date, date]]:
        """The four latest terms begun by ``as_of``: (school year, term, first day, last day)."""
        found: list[tuple[int, int, date, date]] = []
        year = self.as_of.year
        while len(found) < 4:
            for term, start, end in (
                (2, date(year, 2, 20), date(year, 7, 10)),
                (1, date(year, 9, 1), date(year + 1, 1, 20)),
            ):
                school_year = year - 1 if term == 2 else year
                if start <= self.as_of:
                    found.append((school_year, term, start, end))
            year -= 1
        return sorted(found, key=lambda t: t[2])[-4:]

    def record_engagements(self, person: Person) -> None:
        spec = _subject(person.subject)
        if person.manages and person.unit.kind == "school":
            return  # the principal no longer teaches classes
        count = spec.classes_per_term
        class_numbers = self.rng.sample(range(1, self.classes_per_grade + 1), count)
        grade = self.rng.choice(spec.grades)
        cohort_year: int | None = None
        homeroom = person.rank >= 2 and self.rng.random() < 0.35
        for school_year, _, start, end in self.terms:
            if cohort_year is not None and school_year != cohort_year:
                grade = grade + 1 if grade + 1 in spec.grades else spec.grades[0]
            cohort_year = school_year
            if person.hire_date > start or (person.left_on is not None and person.left_on < end):
                continue
            for position, number in enumerate(class_numbers):
                self._class(person, grade, number, start, end, homeroom and position == 0)
        self._courses(person)

    @functools.cached_property
    def classes_per_grade(self) -> int:
        return max(4, min(40, round(12 * self.size / self.profile.employees)))

    def _class(
        self, person: Person, grade: int, number: int, start: date, end: date, homeroom: bool
    ) -> None:
        pre = round(self.rng.uniform(45, 85), 1)
        outcomes: dict[str, Any] = {"class_size": self.rng.randint(35, 50), "pre_test_mean": pre}
        finished = end <= self.as_of
        if finished:
            # Hake's normalised gain: interactive teaching ~0.48, traditional ~0.23.
            mean_gain = self.STYLE_GAINS[person.teaching_style]
            gain = mean_gain + 0.02 * (person.rank - 2) + 0.03 * person.talent
            gain = _clamp(gain + self.rng.gauss(0, 0.08), -0.1, 0.85)
            outcomes["post_test_mean"] = round(_clamp(pre + gain * (100 - pre), 0, 100), 1)
        self.engagement(
            person,
            kind="class",
            name=f"{cat.GRADES[grade]}({number})班 {person.subject}",
            role="班主任、任课教师" if homeroom else "任课教师",
            started=start,
            ended=end if finished else None,
            outcomes=outcomes,
        )

    def _courses(self, person: Person) -> None:
        spec = _subject(person.subject)
        count = self.rng.choice((1, 2, 3) if person.interactive else (0, 0, 1))
        terms = [t for t in self.terms if t[2] >= person.hire_date and t[3] <= self.as_of]
        for _ in range(count if terms else 0):
            _, _, start, end = self.rng.choice(terms)
            lessons = self.rng.randint(8, 32)
            share = (
                self.rng.uniform(0.35, 0.85) if person.interactive else self.rng.uniform(0, 0.25)
            )
            self.engagement(
                person,
                kind="course",
                name=f"校本课程：{self.rng.choice(spec.courses)}",
                role="课程负责人",
                started=start,
                ended=end,
                outcomes={"lessons": lessons, "pbl_lessons": round(lessons * share)},
            )

    def appraisal_periods(self) -> list[tuple[str, date, date]]:
        """The last two complete school years (September to August)."""
        last = self.as_of.year - 1 if self.as_of.month >= 9 else self.as_of.year - 2
        return [
            (f"{year}-{year + 1}", date(year, 9, 1), date(year + 1, 8, 31))
            for year in (last - 1, last)
        ]

    def record_feedback(self, person: Person) -> None:
        rng = self.rng
        classes = [f"{grade}({rng.randint(1, self.classes_per_grade)})班" for grade in cat.GRADES]
        if rng.random() < 0.6:  # a class survey: anonymous, enough to be shown
            for _ in range(rng.randint(3, 8)):
                self._from(person, "student", anonymous=True)
        for _ in range(rng.randint(0, 2)):
            self._from(person, "student", rng.random() < 0.5, f"{rng.choice(classes)} 学生")
        for _ in range(rng.randint(1, 4)):
            self._from(person, "parent", rng.random() < 0.5, f"{rng.choice(classes)} 学生家长")
        if person.reviewer is not None:
            reviewer = person.reviewer
            self._from(person, "manager", False, reviewer.name, reviewer.user_id)
        colleagues = [p for p in person.unit.members if p is not person]
        if colleagues and rng.random() < 0.6:
            self._from(person, "peer", False, rng.choice(colleagues).name)
        if rng.random() < 0.4:
            self._from(person, "self", False, person.name, person.user_id, bias=0.3)
        self._parent_surveys(person)

    def custom_fields(self, person: Person) -> dict[str, Any]:
        return {"teaching_style": person.teaching_style}

    def _parent_surveys(self, person: Person) -> None:
        """The end-of-term parent survey of each term the teacher taught through, anonymous,
        answered in the term's last weeks of teaching (once they are over by ``as_of``)."""
        if person.manages and person.unit.kind == "school":
            return  # the principal teaches no classes
        # How well this teacher gets on with families, beyond how well they teach: parents'
        # satisfaction goes with an appraisal only so far.
        rapport = self.rng.gauss(0, self.SURVEY_RAPPORT)
        for _, _, start, end in self.terms:
            if end > self.as_of or person.hire_date > start:
                continue
            if person.left_on is not None and person.left_on < end:
                continue
            opens = end - timedelta(weeks=self.SURVEY_WEEKS)
            for _ in range(self.rng.randint(*self.SURVEY_RESPONSES)):
                given = self.moment(self.date_between(opens, end))
                self.feedback(
                    person, source="parent", criteria=self.CRITERIA["parent"], anonymous=True,
                    bias=rapport, given=given,
                )  # fmt: skip

    def _from(
        self,
        person: Person,
        source: str,
        anonymous: bool,
        author_label: str | None = None,
        author_user_id: UUID | None = None,
        *,
        bias: float = 0.0,
    ) -> None:
        self.feedback(
            person,
            source=source,
            criteria=self.CRITERIA[source],
            anonymous=anonymous,
            author_label=author_label,
            author_user_id=author_user_id,
            bias=bias,
        )


def _subject(subject: str) -> cat.SubjectSpec:
    return next(spec for spec in cat.SUBJECTS if subject in spec.subjects)


GENERATORS: dict[str, type[Generator]] = {
    "enterprise_rd": EnterpriseGenerator,
    "school_teaching": SchoolGenerator,
}


# --- writing --------------------------------------------------------------------------------

_INSERT_UNIT = (
    "INSERT INTO org_units (id, tenant_id, external_key, name, kind, parent_id, path, "
    "archived_at, created_at, updated_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7::text::ltree, NULL, $8, $8)"
)


async def _write(tx: TenantTransaction, generator: Generator) -> dict[str, int]:
    """Every row of the plan, in one go on the transaction's connection."""
    counts = {"org_units": len(generator.units)}
    async with tx.client.acquire_connection() as conn:
        # A handful of units, parents first; asyncpg has no binary COPY codec for ltree.
        await conn.executemany(
            _INSERT_UNIT,
            [
                (
                    u.id, generator.tenant, u.external_key, u.name, u.kind,
                    u.parent.id if u.parent is not None else None, u.path, generator.now,
                )
                for u in generator.units
            ],
        )  # fmt: skip
        for table in TABLES:
            rows = generator.rows[table.name]
            await _copy(conn, table, rows)
            counts[table.name] = len(rows)
    return counts


async def _write_facts(tx: TenantTransaction, generator: Generator) -> dict[str, int]:
    """The facts and the work items they tell of, in batches: a big demo holds one batch of
    each at a time. Each batch is drawn in a thread while the one before is written, so that
    PostgreSQL inserts while Python draws (the drawing touches no database)."""
    # Both build on this module's generator, hence imported here, not at the top.
    from domain.demo.facts import demo_facts
    from domain.demo.work import copy_work, demo_work

    counts = {"facts": 0, "work_items": 0, "work_item_assignees": 0}
    work = demo_work(generator)
    batches = _batches(demo_facts(generator, work=work), work)
    drawing = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
    try:
        while (batch := await drawing) is not None:
            drawing = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
            facts, items = batch
            counts["facts"] += await copy_facts(generator.tenant, facts)
            async with tx.client.acquire_connection() as conn:
                assigned = await copy_work(conn, generator.tenant, generator.now, items)
            counts["work_items"] += len(items)
            counts["work_item_assignees"] += assigned
    finally:
        # A thread cannot be stopped: let it finish the batch it is drawing (and drop what it
        # drew: after a failed write, only the write's error counts).
        await asyncio.wait({drawing})
        if not drawing.cancelled():
            drawing.exception()
    return counts


def _batches(facts: Iterator[FactRow], work: DemoWork) -> Iterator[tuple[list[FactRow], list[Row]]]:
    """(facts, work items) in batches of about ``DRAW_BATCH`` rows."""
    batch: list[FactRow] = []
    for row in facts:
        batch.append(row)
        if len(batch) + len(work.items) >= DRAW_BATCH:
            yield batch, work.drain()
            batch = []
    yield batch, work.drain()


async def _copy(conn: Any, table: Table, rows: Sequence[Row]) -> None:
    """COPY ``rows`` into a staging table, then ``INSERT ... SELECT`` them into ``table``.

    Table and column names come from the constants above, never from input.
    """
    if not rows:
        return
    stage = f"demo_stage_{table.name}"
    columns = ", ".join(table.columns)
    await conn.execute(
        f"CREATE TEMP TABLE {stage} (LIKE {table.name} INCLUDING DEFAULTS) ON COMMIT DROP"
    )
    for start in range(0, len(rows), COPY_BATCH):
        await conn.copy_records_to_table(
            stage, records=rows[start : start + COPY_BATCH], columns=table.columns
        )
        await conn.execute(
            f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {stage}"  # noqa: S608
        )
        await conn.execute(f"TRUNCATE {stage}")
    await conn.execute(f"DROP TABLE {stage}")

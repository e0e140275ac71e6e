"""Business rules of indicator sets, facts and periods.

A tenant scores with a versioned indicator set: version 1 is its pack's defaults, every
edit saves a new version, and a period keeps the version it was opened with, so an edit
applies from the next period. Facts are appended; recording a fact under an external key
that already names a different current fact supersedes that fact (both stay, linked).
Closing a period computes it one last time and freezes it; reopening is an audited admin
action. Fact changes queue one recomputation per open period they touch.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from pydantic import ValidationError

from domain.audit.service import audit, current_actor
from domain.indicators import repository as repo
from domain.indicators.models import Fact, IndicatorSet, Period, PeriodStatus
from domain.jobs import repository as jobs_repo
from domain.jobs.service import job_service
from domain.people import repository as people_repo
from domain.templates.indicators import IndicatorSetDefinition, check_fact_kinds
from domain.templates.service import pack_of
from tenants.errors import ErrorCode, ServiceError, combined, invalid, not_found
from tenants.scope import TenantID

MAX_FACTS_PER_CALL = 1_000
RECOMPUTE_JOB = "scoring.recompute"
PERIOD_KINDS = ("month", "quarter", "term")
# A school term or any custom period is at most this long.
MAX_TERM_DAYS = 250
SOURCE_PATTERN_MAX = 63
# Clocks differ; a fact dated slightly ahead is a clock, further ahead is a mistake.
FUTURE_TOLERANCE = timedelta(days=1)


def period_not_found() -> ServiceError:
    return not_found("period", "考核周期")


def fact_not_found() -> ServiceError:
    return not_found("fact", "事实记录")


# --- indicator sets -------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionedDefinition:
    version: int
    definition: IndicatorSetDefinition
    row: IndicatorSet | None


class IndicatorSetService:
    async def provision(self, tenant: TenantID) -> IndicatorSet:
        """Give a new tenant its pack's indicator set as version 1."""
        pack = await pack_of(tenant)
        return await repo.insert_indicator_set(
            tenant,
            version=1,
            definition=pack.defaults().model_dump(mode="json"),
            note=f"{pack.pack.code} defaults",
        )

    async def current(self, tenant: TenantID) -> VersionedDefinition:
        row = await repo.latest_indicator_set(tenant)
        if row is None:
            # A tenant created before indicator sets existed scores with its pack's defaults.
            row = await self.provision(tenant)
        return VersionedDefinition(row.version, _definition(row), row)

    async def version(self, tenant: TenantID, version: int) -> VersionedDefinition:
        row = await repo.indicator_set(tenant, version)
        if row is None:
            if version == 1:
                return await self.current(tenant)
            raise not_found("indicator set version", "指标集版本", field="version")
        return VersionedDefinition(row.version, _definition(row), row)

    async def history(self, tenant: TenantID) -> list[IndicatorSet]:
        await self.current(tenant)
        return await repo.indicator_set_versions(tenant)

    async def save(
        self,
        tenant: TenantID,
        *,
        base_version: int,
        definition: Mapping[str, Any],
        note: str | None,
    ) -> IndicatorSet:
        """Save an edited copy as the next version; it applies to periods created from now."""
        current = await self.current(tenant)
        if base_version != current.version:
            raise ServiceError(
                ErrorCode.CONFLICT,
                f"the indicator set changed since version {base_version}: "
                f"it is at version {current.version}; reload and apply your edit again",
                f"指标集已从版本 {base_version} 变为 {current.version}，请刷新后重试",
                field="baseVersion",
            )
        checked = validate_definition(definition, (await pack_of(tenant)).fact_kinds)
        row = await repo.insert_indicator_set(
            tenant,
            version=current.version + 1,
            definition=checked.model_dump(mode="json"),
            note=note,
            created_by=current_actor().id,
        )
        await audit.record(
            tenant,
            entity_type="indicator_set",
            entity_id=row.id,
            action="create",
            before={"version": current.version},
            after={"version": row.version, "note": note},
        )
        return row


def _definition(row: IndicatorSet) -> IndicatorSetDefinition:
    return IndicatorSetDefinition.model_validate(row.definition)


def validate_definition(definition: Mapping[str, Any], kinds: Any) -> IndicatorSetDefinition:
    """The checked definition, or one INVALID error listing every problem at its path."""
    try:
        checked = IndicatorSetDefinition.model_validate(dict(definition))
        check_fact_kinds(checked, kinds)
    except ValidationError as exc:
        problems = [
            invalid(
                ".".join(str(part) for part in error["loc"]) or "definition",
                _plain_message(error["msg"]),
                f"指标集定义无效：{_plain_message(error['msg'])}",
            )
            for error in exc.errors()
        ]
        raise combined(problems) from exc
    except ValueError as exc:
        raise combined([invalid("definition", str(exc), f"指标集定义无效：{exc}")]) from exc
    return checked


def _plain_message(message: str) -> str:
    return message.removeprefix("Value error, ")


# --- facts ----------------------------------------------------------------------------------


class FactOutcome(StrEnum):
    RECORDED = "recorded"
    UNCHANGED = "unchanged"
    SUPERSEDED = "superseded"
    FAILED = "failed"


@dataclass(frozen=True)
class FactInput:
    kind: str
    occurred_at: datetime
    value: float
    employee_id: UUID | None = None
    employee_number: str | None = None
    denominator: float | None = None
    source: str = "api"
    external_key: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FactResult:
    key: str
    outcome: FactOutcome
    fact: Fact | None = None
    superseded: UUID | None = None
    error: ServiceError | None = None


class FactService:
    async def record(self, tenant: TenantID, item: FactInput) -> FactResult:
        """Record one fact; raises ``ServiceError`` when it is invalid."""
        (result,) = await self.record_many(tenant, [item])
        if result.error is not None:
            raise result.error
        return result

    async def record_many(self, tenant: TenantID, items: Sequence[FactInput]) -> list[FactResult]:
        """Record up to 1,000 facts: each valid one is written, each invalid one reported."""
        if len(items) > MAX_FACTS_PER_CALL:
            raise invalid(
                "items",
                f"at most {MAX_FACTS_PER_CALL} facts a call",
                f"每次最多 {MAX_FACTS_PER_CALL} 条",
            )
        pack = await pack_of(tenant)
        kinds = {kind.code: kind for kind in pack.fact_kinds}
        people = await _resolve_people(tenant, items)
        now = datetime.now(UTC)
        results: list[FactResult | None] = [None] * len(items)
        checked: list[tuple[int, FactInput, UUID]] = []
        seen_keys: set[tuple[str, str]] = set()
        for index, item in enumerate(items):
            problem = _check_fact(item, kinds, now)
            employee = people.get(item.employee_id or item.employee_number or "")
            if problem is None and employee is None:
                problem = not_found("employee", "员工", field="employee")
            key = (item.source, item.external_key) if item.external_key else None
            if problem is None and key is not None and key in seen_keys:
                problem = invalid("externalKey", "repeated in this call", "在本次调用中重复")
            if problem is not None:
                results[index] = FactResult(_label(item, index), FactOutcome.FAILED, error=problem)
                continue
            assert employee is not None
            if key is not None:
                seen_keys.add(key)
            checked.append((index, item, employee))
        current = await _current_by_key(tenant, [item for _, item, _ in checked])
        touched: list[datetime] = []
        for index, item, employee in checked:
            previous = current.get((item.source, item.external_key or ""))
            if previous is not None and _same(previous, item, employee):
                results[index] = FactResult(_label(item, index), FactOutcome.UNCHANGED, previous)
                continue
            fact = await self._append(tenant, item, employee, now, previous)
            touched.append(item.occurred_at)
            if previous is not None:
                touched.append(previous.occurred_at)
            outcome = FactOutcome.SUPERSEDED if previous is not None else FactOutcome.RECORDED
            results[index] = FactResult(
                _label(item, index),
                outcome,
                fact,
                superseded=previous.id if previous is not None else None,
            )
        if touched:
            await recompute_requests.touched(tenant, min(touched), max(touched))
        return [result for result in results if result is not None]

    async def correct(self, tenant: TenantID, fact_id: UUID, changes: FactCorrection) -> Fact:
        """A corrected copy of a current fact that supersedes it; the original stays."""
        original = await repo.get_fact(tenant, fact_id)
        if original is None:
            raise fact_not_found()
        if original.superseded_at is not None:
            raise ServiceError(
                ErrorCode.CONFLICT,
                "this fact was already superseded; correct the fact that replaced it",
                "该记录已被更正，请更正替代它的记录",
                field="id",
            )
        item = FactInput(
            kind=original.kind,
            employee_id=UUID(str(original.employee_id)),
            occurred_at=changes.occurred_at or original.occurred_at,
            value=original.value if changes.value is None else changes.value,
            denominator=original.denominator
            if changes.denominator is None
            else changes.denominator,
            source=original.source,
            external_key=original.external_key,
            attributes=original.attributes if changes.attributes is None else changes.attributes,
        )
        pack = await pack_of(tenant)
        problem = _check_fact(item, {k.code: k for k in pack.fact_kinds}, datetime.now(UTC))
        if problem is not None:
            raise problem
        fact = await self._append(
            tenant, item, UUID(str(original.employee_id)), datetime.now(UTC), original
        )
        await recompute_requests.touched(
            tenant,
            min(item.occurred_at, original.occurred_at),
            max(item.occurred_at, original.occurred_at),
        )
        return fact

    async def retract(self, tenant: TenantID, facts: Sequence[Fact]) -> int:
        """Supersede current facts with nothing: what derived them no longer does (a
        complaint no longer caused by R&D, say). They stay, marked; returns how many."""
        now = datetime.now(UTC)
        retracted = [f for f in facts if await repo.supersede_fact(tenant, f.id, None, now)]
        if retracted:
            await recompute_requests.touched(
                tenant,
                min(f.occurred_at for f in retracted),
                max(f.occurred_at for f in retracted),
            )
        return len(retracted)

    async def get(self, tenant: TenantID, fact_id: UUID) -> Fact:
        fact = await repo.get_fact(tenant, fact_id)
        if fact is None:
            raise fact_not_found()
        return fact

    async def _append(
        self,
        tenant: TenantID,
        item: FactInput,
        employee: UUID,
        now: datetime,
        previous: Fact | None,
    ) -> Fact:
        new_id = uuid4()
        if previous is not None and not await repo.supersede_fact(tenant, previous.id, new_id, now):
            raise ServiceError(
                ErrorCode.CONFLICT,
                "the fact was superseded meanwhile; try again",
                "该记录刚被更正，请重试",
                field="externalKey",
            )
        try:
            return await repo.insert_fact(
                tenant,
                id=new_id,
                employee_id=employee,
                kind=item.kind,
                occurred_at=item.occurred_at,
                value=float(item.value),
                denominator=None if item.denominator is None else float(item.denominator),
                source=item.source,
                external_key=item.external_key,
                attributes=dict(item.attributes),
                recorded_at=now,
                recorded_by=current_actor().id,
                correction_of=previous.id if previous is not None else None,
            )
        except repo.DuplicateError as exc:
            raise ServiceError(
                ErrorCode.CONFLICT,
                "another fact took this external key meanwhile; try again",
                "该外部键刚被占用，请重试",
                field="externalKey",
            ) from exc


@dataclass(frozen=True)
class FactCorrection:
    occurred_at: datetime | None = None
    value: float | None = None
    denominator: float | None = None
    attributes: Mapping[str, Any] | None = None


def _label(item: FactInput, index: int) -> str:
    return item.external_key or f"#{index + 1}"


def _check_fact(item: FactInput, kinds: Mapping[str, Any], now: datetime) -> ServiceError | None:
    kind = kinds.get(item.kind)
    if kind is None:
        known = ", ".join(sorted(kinds))
        return invalid(
            "kind", f"unknown fact kind {item.kind!r} (known: {known})", "未知的事实类型"
        )
    if (item.employee_id is None) == (item.employee_number is None):
        return invalid(
            "employee",
            "give exactly one of employeeId and employeeNumber",
            "请只提供员工 ID 或工号之一",
        )
    if not math.isfinite(item.value):
        return invalid("value", "must be a finite number", "必须是有限数值")
    if item.denominator is not None and not (
        math.isfinite(item.denominator) and item.denominator > 0
    ):
        return invalid("denominator", "must be a positive number", "必须是正数")
    if kind.denominator is not None and item.denominator is None:
        return invalid(
            "denominator",
            f"facts of kind {kind.code} need a denominator ({kind.denominator.en})",
            f"{kind.code} 类型的记录需要分母（{kind.denominator.zh}）",
        )
    if item.occurred_at.tzinfo is None:
        return invalid("occurredAt", "give a time zone", "请提供时区")
    if item.occurred_at > now + FUTURE_TOLERANCE:
        return invalid("occurredAt", "is in the future", "不能是将来的时间")
    for name in kind.attributes:
        value = item.attributes.get(name)
        if (
            not isinstance(value, (int, float))
            or isinstance(value, bool)
            or not math.isfinite(value)
        ):
            return invalid(
                f"attributes.{name}",
                f"facts of kind {kind.code} need a numeric attribute {name!r}",
                f"{kind.code} 类型的记录需要数值属性 {name!r}",
            )
    if "pre" in kind.attributes and not 0 <= float(item.attributes["pre"]) < 100:
        return invalid(
            "attributes.pre",
            "a pre-test mean is from 0 to below 100",
            "前测平均分须在 0 到 100 之间（不含 100）",
        )
    if not item.source or len(item.source) > SOURCE_PATTERN_MAX:
        return invalid(
            "source", f"1-{SOURCE_PATTERN_MAX} characters", f"1-{SOURCE_PATTERN_MAX} 个字符"
        )
    if item.external_key is not None and not 0 < len(item.external_key) <= 128:
        return invalid("externalKey", "1-128 characters", "1-128 个字符")
    return None


async def _resolve_people(tenant: TenantID, items: Sequence[FactInput]) -> dict[Any, UUID]:
    """Employee ids by the id or number each item names: two statements at most."""
    ids = {item.employee_id for item in items if item.employee_id is not None}
    numbers = {item.employee_number for item in items if item.employee_number is not None}
    found: dict[Any, UUID] = {}
    if ids:
        for employee_id in await people_repo.existing_employee_ids(tenant, list(ids)):
            found[employee_id] = employee_id
    if numbers:
        found.update(await people_repo.employee_ids_by_number(tenant, list(numbers)))
    return found


async def _current_by_key(
    tenant: TenantID, items: Sequence[FactInput]
) -> dict[tuple[str, str], Fact]:
    by_source: dict[str, list[str]] = {}
    for item in items:
        if item.external_key is not None:
            by_source.setdefault(item.source, []).append(item.external_key)
    found: dict[tuple[str, str], Fact] = {}
    for source, keys in by_source.items():
        for key, fact in (await repo.current_facts_by_key(tenant, source, keys)).items():
            found[(source, key)] = fact
    return found


def _same(fact: Fact, item: FactInput, employee: UUID) -> bool:
    return (
        UUID(str(fact.employee_id)) == employee
        and fact.kind == item.kind
        and fact.occurred_at == item.occurred_at
        and fact.value == float(item.value)
        and fact.denominator == (None if item.denominator is None else float(item.denominator))
        and fact.attributes == dict(item.attributes)
    )


# --- periods --------------------------------------------------------------------------------


class PeriodService:
    async def create(
        self, tenant: TenantID, *, code: str, kind: str, starts_on: date, ends_on: date
    ) -> Period:
        _check_period(code, kind, starts_on, ends_on)
        if await repo.get_period_by_code(tenant, code) is not None:
            raise ServiceError(
                ErrorCode.DUPLICATE, f"a period {code!r} exists", "该周期代码已存在", field="code"
            )
        clash = await repo.overlapping_period(tenant, kind, starts_on, ends_on)
        if clash is not None:
            raise invalid(
                "startsOn",
                f"overlaps period {clash.code} ({clash.starts_on} - {clash.ends_on})",
                f"与周期 {clash.code} 重叠",
            )
        version = (await indicator_sets.current(tenant)).version
        try:
            period = await repo.insert_period(
                tenant,
                code=code,
                kind=kind,
                starts_on=starts_on,
                ends_on=ends_on,
                indicator_set_version=version,
            )
        except repo.DuplicateError as exc:
            raise ServiceError(
                ErrorCode.DUPLICATE, f"a period {code!r} exists", "该周期代码已存在", field="code"
            ) from exc
        await audit.record(
            tenant,
            entity_type="period",
            entity_id=period.id,
            action="create",
            after={"code": code, "kind": kind, "starts_on": starts_on, "ends_on": ends_on},
        )
        return period

    async def get(self, tenant: TenantID, period_id: UUID) -> Period:
        period = await repo.get_period(tenant, period_id)
        if period is None:
            raise period_not_found()
        return period

    async def all(self, tenant: TenantID) -> list[Period]:
        return await repo.periods(tenant)

    async def close(self, tenant: TenantID, period_id: UUID) -> Period:
        """Compute the period one last time and freeze it."""
        from domain.indicators.scoring import scoring_service

        period = await self._locked(tenant, period_id)
        if period.status == PeriodStatus.CLOSED:
            raise ServiceError(
                ErrorCode.CONFLICT,
                f"period {period.code} is already closed",
                "该周期已关闭",
                field="id",
            )
        summary = await scoring_service.recompute(tenant, period.id)
        period.computed_at = summary.computed_at
        period.status = PeriodStatus.CLOSED
        period.closed_at = datetime.now(UTC)
        period.closed_by = current_actor().id
        await repo.save_period(tenant, period, ["status", "closed_at", "closed_by"])
        await audit.record(
            tenant,
            entity_type="period",
            entity_id=period.id,
            action="close",
            before={"status": "open"},
            after={"status": "closed"},
        )
        return period

    async def reopen(self, tenant: TenantID, period_id: UUID, reason: str) -> Period:
        reason = reason.strip()
        if len(reason) < 5:
            raise invalid(
                "reason",
                "say why the period reopens (5 characters or more)",
                "请说明重新开放的原因（至少 5 个字符）",
            )
        period = await self._locked(tenant, period_id)
        if period.status == PeriodStatus.OPEN:
            raise ServiceError(
                ErrorCode.CONFLICT, f"period {period.code} is open", "该周期未关闭", field="id"
            )
        period.status = PeriodStatus.OPEN
        period.closed_at = None
        period.closed_by = None
        await repo.save_period(tenant, period, ["status", "closed_at", "closed_by"])
        await audit.record(
            tenant,
            entity_type="period",
            entity_id=period.id,
            action="reopen",
            before={"status": "closed"},
            after={"status": "open", "reason": reason},
        )
        return period

    async def request_recompute(self, tenant: TenantID, period_id: UUID) -> UUID:
        """Queue a recomputation of an open period; returns the job (an already queued one)."""
        period = await self.get(tenant, period_id)
        require_open(period)
        return await recompute_requests.request(tenant, period.id)

    async def _locked(self, tenant: TenantID, period_id: UUID) -> Period:
        period = await repo.get_period(tenant, period_id, for_update=True)
        if period is None:
            raise period_not_found()
        return period


def require_open(period: Period) -> None:
    if period.status == PeriodStatus.CLOSED:
        raise ServiceError(
            ErrorCode.CONFLICT,
            f"period {period.code} is closed: its scorecards are frozen (an admin can reopen it)",
            f"周期 {period.code} 已关闭，记分卡已冻结（管理员可重新开放）",
            field="period",
        )


def _check_period(code: str, kind: str, starts_on: date, ends_on: date) -> None:
    if not 1 <= len(code.strip()) <= 32 or code != code.strip():
        raise invalid("code", "1-32 characters, no surrounding spaces", "1-32 个字符，首尾不含空格")
    if kind not in PERIOD_KINDS:
        raise invalid("kind", f"one of {', '.join(PERIOD_KINDS)}", "须为 month、quarter 或 term")
    if ends_on < starts_on:
        raise invalid("endsOn", "ends before it starts", "结束日期早于开始日期")
    if kind == "month" and (starts_on.day != 1 or ends_on != _month_end(starts_on)):
        raise invalid(
            "startsOn",
            "a month runs from its first to its last day",
            "月度周期须从当月第一天到最后一天",
        )
    if kind == "quarter" and (
        starts_on.day != 1
        or starts_on.month not in (1, 4, 7, 10)
        or ends_on != _month_end(date(starts_on.year, starts_on.month + 2, 1))
    ):
        raise invalid(
            "startsOn",
            "a quarter runs from Jan, Apr, Jul or Oct 1 to the end of its third month",
            "季度周期须为自然季度",
        )
    if kind == "term" and (ends_on - starts_on).days > MAX_TERM_DAYS:
        raise invalid(
            "endsOn", f"a term lasts at most {MAX_TERM_DAYS} days", f"学期最长 {MAX_TERM_DAYS} 天"
        )


def _month_end(day: date) -> date:
    return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])


# --- recomputation requests ---------------------------------------------------------------


# Summaries of facts (the capability profiles of ``domain.work.profiles``) read whole UTC
# days before the current one and are rebuilt when the day turns, so facts of the day
# itself, which live systems record all day long, need not make every reader rebuild them.
# The margin covers the time from a change to its commit and server clocks that disagree:
# a fact dated just before midnight and committed just after is stamped.
SUMMARY_MARGIN = timedelta(minutes=10)


def summarised_before(now: datetime) -> datetime:
    """Facts dated before this instant may be in a summary built before they commit: the
    start of the UTC day current ``SUMMARY_MARGIN`` after ``now``."""
    return datetime.combine((now + SUMMARY_MARGIN).astimezone(UTC).date(), time.min, UTC)


class RecomputeRequests:
    """Debounced recomputation: at most one queued job per period at any time. A fact change
    queues its job ``delay_s`` late (``RENSHI_RECOMPUTE_DELAY_S``, set with the job
    runtime), so the changes of those seconds, which find it queued, are scored by it: a
    stream of writes costs a recomputation every ``delay_s``, not one per write."""

    def __init__(self) -> None:
        self.delay_s = 0.0

    async def request(self, tenant: TenantID, period_id: UUID, *, delay_s: float = 0.0) -> UUID:
        queued = await jobs_repo.queued_job_with_payload(
            tenant, RECOMPUTE_JOB, {"period_id": str(period_id)}
        )
        if queued is not None:
            return queued
        job = await job_service.create(
            tenant,
            kind=RECOMPUTE_JOB,
            payload={"period_id": str(period_id)},
            created_by=current_actor().id,
            delay_s=delay_s,
        )
        return job.id

    async def touched(self, tenant: TenantID, earliest: datetime, latest: datetime) -> None:
        """Facts dated from ``earliest`` to ``latest`` changed: stamp the change when a
        summary of facts may hold some of them (``summarised_before``: summaries then know
        they are out of date) and queue their open periods."""
        if earliest < summarised_before(datetime.now(UTC)):
            await repo.stamp_fact_change(tenant)
        if not job_service.can_dispatch():
            return
        for period in await repo.open_periods_covering(tenant, earliest, latest):
            await self.request(tenant, period.id, delay_s=self.delay_s)


indicator_sets = IndicatorSetService()
fact_service = FactService()
period_service = PeriodService()
recompute_requests = RecomputeRequests()
